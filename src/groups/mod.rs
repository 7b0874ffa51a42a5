//! The groups layer: the consumer-group coordinator and committed offsets.
//!
//! Not built yet.
