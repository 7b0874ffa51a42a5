//! The client layer: pipit's own Kafka client, speaking only the wire protocol.
//!
//! Not built yet.
