//! The producer-state snapshot of one partition: `producer-state.a/.b`, a
//! two-copy [`StateFile`] holding every idempotent producer's epoch and
//! window together with `valid_to`, the log end offset it describes.
//!
//! It is written whenever the partition checkpoints (at each segment roll and
//! at close), after the log is synced up to `valid_to`. At open the state is
//! the snapshot plus every batch header from `valid_to` to the log end; like
//! Kafka's producer snapshots it is only a hint: a missing or corrupt snapshot,
//! or one that claims more than the log holds, means rebuilding from every
//! batch header still in the ring (see [`Partition::open`]).
//!
//! [`Partition::open`]: super::partition::Partition::open

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::file_backend::FileBackend;
use super::producer_state::{ProducerLimits, ProducerStates};
use super::state_file::{DEFAULT_MAX_PAYLOAD, StateFile, StateFileError};
use crate::storage::Ring;

/// The file's base name in a partition directory.
pub const FILE: &str = "producer-state";

/// One remembered batch of a producer, as saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedBatch {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: u64,
}

/// One producer, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProducer {
    pub id: i64,
    pub epoch: i16,
    /// Wall-clock ms of its last batch (for `producer.id.expiration.ms`).
    pub last_ms: i64,
    /// Oldest first.
    pub batches: Vec<SavedBatch>,
}

/// The saved state: every producer as of offset `valid_to`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub valid_to: u64,
    pub producers: Vec<SavedProducer>,
}

/// Bytes one saved producer may take (a full window, varint-encoded, with
/// room to spare); the file's payload cap follows the producer count cap.
const BYTES_PER_PRODUCER: usize = 128;

/// The snapshot file of one partition.
#[derive(Debug)]
pub struct SnapshotFile {
    file: StateFile<Snapshot>,
}

impl SnapshotFile {
    /// Opens `<dir>/producer-state.a/.b` and loads the newest good copy. A
    /// file with no valid copy is logged and discarded (it is only a hint);
    /// only an I/O error on the directory is an error.
    pub fn open(
        dir: &Path,
        max_producers: usize,
    ) -> Result<(Self, Option<Snapshot>), StateFileError> {
        let base = dir.join(FILE);
        let cap = max_producers
            .saturating_mul(BYTES_PER_PRODUCER)
            .max(DEFAULT_MAX_PAYLOAD);
        match StateFile::open_with_cap(&base, cap) {
            Ok((file, saved)) => Ok((SnapshotFile { file }, saved)),
            Err(StateFileError::Corrupt { base, a, b }) => {
                ::log::warn!(
                    "{}: producer-state snapshot has no valid copy (a: {a:?}, b: {b:?}); \
                     rebuilding producer state from the log",
                    base.display()
                );
                for ext in [".a", ".b"] {
                    let mut name = base.as_os_str().to_owned();
                    name.push(ext);
                    match std::fs::remove_file(&name) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(StateFileError::Io {
                                path: name.into(),
                                source,
                            });
                        }
                    }
                }
                let (file, _) = StateFile::open_with_cap(&base, cap)?;
                Ok((SnapshotFile { file }, None))
            }
            Err(e) => Err(e),
        }
    }

    /// Saves `states` as valid up to `valid_to` (the log must be synced that far).
    pub fn write(&mut self, valid_to: u64, states: &ProducerStates) -> Result<(), StateFileError> {
        let snapshot = Snapshot {
            valid_to,
            producers: states.saved(),
        };
        self.file.write(&snapshot).map(|_| ())
    }
}

/// Idempotent producers' state at open: the snapshot, if it describes no more
/// than the log holds, plus every batch header after it; else every batch
/// header in the ring. A read error keeps what was rebuilt so far (the log
/// itself is fine; only dedup of older retries is weaker), logged with `dir`.
pub fn rebuild(
    ring: &mut Ring<FileBackend>,
    dir: &Path,
    saved: Option<Snapshot>,
    limits: ProducerLimits,
    now_ms: i64,
) -> ProducerStates {
    let end = ring.next_offset();
    let (mut producers, from) = match saved {
        Some(s) if s.valid_to <= end => (
            ProducerStates::restore(s.producers, limits, now_ms),
            s.valid_to,
        ),
        Some(s) => {
            ::log::warn!(
                "{}: producer-state snapshot is for offset {} but the log ends at {end}; \
                 rebuilding producer state from the log",
                dir.display(),
                s.valid_to
            );
            (ProducerStates::new(limits), 0)
        }
        None => (ProducerStates::new(limits), 0),
    };
    let replayed = ring.for_each_header_from(from, |h| {
        if h.producer_id >= 0 {
            // Used "now": Kafka takes the batch's max timestamp, but a
            // client's clock may be far off (boards without an RTC).
            producers.record(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.records_count,
                h.base_offset as u64,
                now_ms,
            );
        }
    });
    if let Err(e) = replayed {
        ::log::warn!(
            "{}: producer state rebuilt only partly: {e:?}",
            dir.display()
        );
    }
    producers
}

#[cfg(test)]
#[path = "producer_snapshot_tests.rs"]
mod tests;
