//! The log layer: see the layer map in lib.rs.

pub mod file_backend;
pub mod flush;
pub mod partition;
pub mod partition_core;
#[cfg(feature = "powercut-journal")]
pub mod powercut;
#[cfg(not(feature = "powercut-journal"))]
#[path = "powercut_off.rs"]
pub mod powercut;
pub mod producer_ids;
pub mod producer_snapshot;
pub mod producer_state;
pub mod state_file;
pub mod topic_config;
