//! The client layer: pipit's own Kafka client, speaking only the wire protocol.
//!
//! Record batches and codecs, partitioners; the network client is being built.

pub mod compression;
pub mod partitioner;
pub mod records;
