//! Request decoding: frame → version check → guard → kafka-protocol decode.
//!
//! `Request` has one variant per row of the version table and nothing else. The order of
//! checks is the promise: a frame reaches kafka-protocol's decoder only after its header
//! parsed, its API and version are accepted by `versions.rs`, and the guard proved every
//! length fits. Errors say what the server should do: `UnsupportedVersion` → write
//! `unsupported::unsupported_version_response(frame)` if it returns a frame (ApiVersions,
//! Produce v0–2), else log and close as Kafka does; `UnknownApiKey` and `Malformed` → log
//! and close.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

use super::frame::{FrameError, RequestHeaderInfo, parse_frame};
use super::guard::{GuardError, check_request};
use super::versions;

/// What was wrong with a malformed request (for the log line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The header could not be parsed.
    Frame(FrameError),
    /// The guard refused the body.
    Guard(GuardError),
    /// kafka-protocol refused the body after the guard accepted it (e.g. bad UTF-8).
    Codec(String),
}

/// Why a frame did not become a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A known API that pipit does not serve at this version (or at all): answer with
    /// UNSUPPORTED_VERSION where possible.
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    /// An API key Kafka does not define: close the connection.
    UnknownApiKey {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    /// A malformed frame: close the connection. `correlation_id` is known when the
    /// first 8 bytes were present.
    Malformed {
        correlation_id: Option<i32>,
        reason: Malformed,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "undecodable request: {self:?}")
    }
}

impl std::error::Error for DecodeError {}

impl From<FrameError> for DecodeError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::UnknownApiKey {
                api_key,
                api_version,
                correlation_id,
            } => DecodeError::UnknownApiKey {
                api_key,
                api_version,
                correlation_id,
            },
            FrameError::TooShort { .. } => DecodeError::Malformed {
                correlation_id: None,
                reason: Malformed::Frame(e),
            },
            FrameError::BadHeader { correlation_id, .. } => DecodeError::Malformed {
                correlation_id: Some(correlation_id),
                reason: Malformed::Frame(e),
            },
        }
    }
}

macro_rules! requests {
    ($($variant:ident => $ty:ident,)*) => {
        /// A decoded request of one of the APIs in `versions::API_TABLE`.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Request {
            $($variant($ty),)*
        }

        impl Request {
            /// The API key of this request.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Request::$variant(_) => ApiKey::$variant,)*
                }
            }
        }

        /// Decodes a guarded body; `Ok(None)` for an API not in the enum.
        fn decode_body(key: ApiKey, body: &mut Bytes, v: i16) -> Result<Option<Request>, String> {
            match key {
                $(ApiKey::$variant => $ty::decode(body, v)
                    .map(|r| Some(Request::$variant(r)))
                    .map_err(|e| e.to_string()),)*
                _ => Ok(None),
            }
        }
    };
}

requests! {
    Produce => ProduceRequest,
    Fetch => FetchRequest,
    ListOffsets => ListOffsetsRequest,
    Metadata => MetadataRequest,
    ApiVersions => ApiVersionsRequest,
    CreateTopics => CreateTopicsRequest,
    DeleteTopics => DeleteTopicsRequest,
    InitProducerId => InitProducerIdRequest,
    FindCoordinator => FindCoordinatorRequest,
    DescribeConfigs => DescribeConfigsRequest,
    AlterConfigs => AlterConfigsRequest,
    CreatePartitions => CreatePartitionsRequest,
    IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
    DescribeCluster => DescribeClusterRequest,
}

/// Decodes one request frame (the bytes after the 4-byte size prefix), copying it once.
pub fn decode_request(frame: &[u8]) -> Result<(RequestHeaderInfo, Request), DecodeError> {
    decode_request_bytes(Bytes::copy_from_slice(frame))
}

/// Decodes one request frame without copying: `Bytes` fields of the result share `frame`.
pub fn decode_request_bytes(frame: Bytes) -> Result<(RequestHeaderInfo, Request), DecodeError> {
    let h = parse_frame(&frame)?;
    let unsupported = || DecodeError::UnsupportedVersion {
        api_key: h.api_key,
        api_version: h.api_version,
        correlation_id: h.correlation_id,
    };
    if !versions::accepts(h.api_key, h.api_version) {
        return Err(unsupported());
    }
    let malformed = |reason| DecodeError::Malformed {
        correlation_id: Some(h.correlation_id),
        reason,
    };
    let mut body = frame.slice(h.body_offset.min(frame.len())..);
    check_request(h.api_key as i16, h.api_version, &body)
        .map_err(|e| malformed(Malformed::Guard(e)))?;
    match decode_body(h.api_key, &mut body, h.api_version) {
        Ok(Some(req)) => Ok((h, req)),
        Ok(None) => Err(unsupported()),
        Err(reason) => Err(malformed(Malformed::Codec(reason))),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
