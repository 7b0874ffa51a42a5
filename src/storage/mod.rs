//! The storage layer: record batches, the segment ring and its recovery.
//!
//! No std, no alloc, no clocks, no sockets: it builds for a bare-metal target
//! (`make nostd`). All I/O goes through the small [`backend::Backend`] trait;
//! the std shell in `src/log` implements it on files, and [`sim`] (std only)
//! has an in-memory backend and a crash-injecting one for tests.
//!
//! What it promises:
//! - a batch is accepted only when its length, magic and CRC-32C check out;
//!   stamping its offset and leader epoch never needs a new CRC;
//! - appending and reading allocate nothing and panic on no input;
//! - after any crash, [`ring::Ring::open`] succeeds (it fails only for
//!   backend I/O errors, never for damaged data or a wrong checkpoint), keeps
//!   every synced batch and serves only batches whose CRC was checked since
//!   open or since they were written; damage becomes a quarantined range,
//!   reported once ([`ring::Ring::take_quarantined`]), and intact batches
//!   around it stay readable.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod backend;
pub mod batch;
pub mod index;
pub mod read;
pub mod recovery;
pub mod ring;
pub(crate) mod scan;
#[cfg(feature = "std")]
pub mod sim;
pub mod slot;
pub mod truncate;

pub use backend::{Backend, FileId, FileKind};
pub use batch::{BatchError, BatchHeader, RecordBatch};
pub use read::ReadLimit;
pub use recovery::{OpenError, RecoveryReport};
pub use ring::{
    AppendError, Appended, Checkpoint, FullPolicy, Quarantine, ReadError, ReplicaError, Ring,
    RingConfig, Span,
};
