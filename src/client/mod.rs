//! The client layer: pipit's own Kafka client, speaking only the wire protocol.
//!
//! `conn` (one broker connection, version negotiation) → `cluster` (bootstrap,
//! metadata, connection pool) → `producer`/`sender`, `consumer`, `admin`; record
//! batches in `records`, codecs in `compression` (both re-exported from
//! `protocol::records`, shared with the broker), key placement in `partitioner`;
//! `produce_frame` writes Produce requests without copying their batches.
//! Settings use Kafka's property names (`config`). Works against any Kafka broker.

mod accumulator;
pub mod admin;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod consumer;
pub mod partitioner;
mod pipeline;
pub mod produce_frame;
pub mod producer;
mod sender;

pub use crate::protocol::records;
pub use crate::protocol::records::compression;
