//! The log layer: see the layer map in lib.rs.

pub mod file_backend;
pub mod flush;
pub mod partition;
pub mod partition_core;
pub mod producer_ids;
pub mod producer_snapshot;
pub mod producer_state;
pub mod state_file;
pub mod topic_config;
