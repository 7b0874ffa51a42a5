//! The protocol layer: Kafka request frames in, response frames out, sans-I/O.
//!
//! It owns the guard (no request reaches kafka-protocol's decoder before its lengths are
//! proven to fit, and no response the client reads either, see `guard`), pipit's advertised version table, the
//! request enum the server dispatches on, response framing and Kafka error codes, and
//! the record-batch builder, reader and codecs (`records`) the broker and client share,
//! and the Java `.properties` syntax (`properties`) the broker's config and the tools read.
//! Nothing here touches sockets or files; the server feeds frames in and writes the
//! returned bytes out.

pub mod error;
pub mod frame;
pub mod guard;
pub mod properties;
pub mod records;
pub mod request;
pub mod response;
mod response_schemas;
pub mod schema_model;
mod schemas;
pub mod unsupported;
pub mod versions;

pub use error::ErrorCode;
pub use frame::{FrameError, RequestHeaderInfo, parse_frame};
pub use guard::{GuardError, check_request, check_response};
pub use request::{DecodeError, Request, decode_request, decode_request_bytes};
pub use response::{api_versions_response, encode_response, unsupported_api_versions_response};
pub use unsupported::unsupported_version_response;
