//! One partition on disk: the ring over its directory, its checkpoint and
//! its idempotent producers. Every method does file I/O and runs on a
//! blocking worker, never on the executor; the policy (when to sync, whom to
//! answer, what is visible) is [`super::partition_core`]'s.
//!
//! Reads take their bound from the caller (the high watermark for consumers,
//! the log end for a follower later), so nothing is served that the core has
//! not made visible; offsets below the bound with nothing servable after them
//! (a quarantined tail) are answered as one empty batch, so consumers pass
//! them. A sync can run on its own file handle
//! ([`Partition::begin_sync`]) while appends go on. The checkpoint
//! (`recovery-point-checkpoint.a/.b`) is written at every roll and at close,
//! so a clean restart reads nothing back and a restart after a power cut
//! checks only the newest slot. It is only a hint: failing to write it never
//! fails an append whose batch is already in the log.
//!
//! The idempotent producers' snapshot (`producer-state.a/.b`) is written
//! with every checkpoint, and at open the producer state is that snapshot
//! plus the batch headers after it (see `producer_snapshot.rs`).

use std::io;
use std::path::{Path, PathBuf};

use super::file_backend::{DirError, FileBackend};
use super::producer_snapshot::{self, SnapshotFile};
use super::producer_state::{ProducerLimits, ProducerStates, SeqCheck};
use super::state_file::{StateFile, StateFileError};
use super::topic_config::{RingFullPolicy, TopicValues};
use crate::storage::batch::{HEADER_LEN, header_bytes};
use crate::storage::{
    AppendError, BatchError, BatchHeader, Checkpoint, FullPolicy, OpenError, ReadError,
    RecoveryReport, Ring, RingConfig,
};

/// Why a partition could not be created or opened.
#[derive(Debug)]
pub enum PartitionError {
    Dir(DirError),
    Open {
        dir: PathBuf,
        error: OpenError<io::Error>,
    },
    Checkpoint(StateFileError),
    Io(io::Error),
}

impl std::fmt::Display for PartitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionError::Dir(e) => write!(f, "{e}"),
            PartitionError::Open { dir, error } => write!(f, "{}: {error:?}", dir.display()),
            PartitionError::Checkpoint(e) => write!(f, "checkpoint: {e}"),
            PartitionError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PartitionError {}

/// Where an append went, or the batch it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub base_offset: u64,
    pub last_offset: u64,
    /// An idempotent producer's retry of a batch already written: nothing was
    /// written and the offsets are the original ones.
    pub duplicate: bool,
}

/// Why an append was refused; nothing was written.
#[derive(Debug)]
pub enum AppendFailure {
    Storage(AppendError<io::Error>),
    /// The producer's epoch is older than the one this partition knows.
    InvalidProducerEpoch {
        current: i16,
        got: i16,
    },
    /// The batch's first sequence does not follow the producer's last batch.
    OutOfOrderSequence {
        expected: i32,
        got: i32,
    },
}

impl From<AppendError<io::Error>> for AppendFailure {
    fn from(e: AppendError<io::Error>) -> Self {
        AppendFailure::Storage(e)
    }
}

/// The `ring.full.policy` a topic's values ask for.
pub fn full_policy(v: &TopicValues) -> FullPolicy {
    match v.ring_full_policy {
        RingFullPolicy::OverwriteOldest => FullPolicy::OverwriteOldest,
        RingFullPolicy::RejectNew => FullPolicy::RejectNew,
    }
}

/// The ring shape a topic's values ask for.
pub fn ring_config(v: &TopicValues) -> RingConfig {
    RingConfig {
        slots: v.ring_segments.min(u16::MAX as u32) as u16,
        segment_bytes: v.segment_bytes,
        index_interval: v.index_interval_bytes,
        policy: full_policy(v),
    }
}

const CHECKPOINT_FILE: &str = "recovery-point-checkpoint";

/// A partition's log.
pub struct Partition {
    ring: Ring<FileBackend>,
    checkpoint: StateFile<Checkpoint>,
    producers: ProducerStates,
    producer_snapshot: SnapshotFile,
}

/// A sync of the active slot's log file on its own handle, so appends can go
/// on meanwhile (they land in the page cache; the next sync covers them).
pub struct SyncTicket {
    file: std::fs::File,
    /// Test builds: fail this sync with EIO (see `sync_faults::fail_syncs_in`).
    #[cfg(test)]
    fail: bool,
    /// Everything below is durable once [`SyncTicket::run`] succeeds: it was
    /// written before the ticket was taken, into this file or into an older
    /// slot that the ring synced when it rolled.
    pub upto: u64,
}

impl SyncTicket {
    /// fdatasync; slow on a card, so never on the executor.
    pub fn run(self) -> io::Result<u64> {
        #[cfg(test)]
        if self.fail {
            return Err(io::Error::from_raw_os_error(5)); // EIO, as a dying card says it
        }
        super::powercut::sync_ring(&self.file)?;
        Ok(self.upto)
    }
}

impl Partition {
    /// Creates the directory with its ring reserved on disk.
    pub fn create(dir: &Path, values: &TopicValues) -> Result<Self, PartitionError> {
        Self::create_with_limits(dir, values, ProducerLimits::default())
    }

    /// Opens an existing partition directory and recovers it.
    pub fn open(
        dir: &Path,
        values: &TopicValues,
    ) -> Result<(Self, RecoveryReport), PartitionError> {
        Self::open_with_limits(dir, values, ProducerLimits::default())
    }

    /// As [`Partition::create`], keeping producer state within `limits`.
    pub fn create_with_limits(
        dir: &Path,
        values: &TopicValues,
        limits: ProducerLimits,
    ) -> Result<Self, PartitionError> {
        let cfg = ring_config(values);
        let backend = FileBackend::create(dir, &cfg).map_err(PartitionError::Dir)?;
        let ring = Ring::create(backend, cfg, 0).map_err(|error| PartitionError::Open {
            dir: dir.to_path_buf(),
            error,
        })?;
        let (checkpoint, _) =
            StateFile::open(dir.join(CHECKPOINT_FILE)).map_err(PartitionError::Checkpoint)?;
        let (producer_snapshot, _) =
            SnapshotFile::open(dir, limits.max_producers).map_err(PartitionError::Checkpoint)?;
        let mut p = Partition {
            ring,
            checkpoint,
            producers: ProducerStates::new(limits),
            producer_snapshot,
        };
        p.write_checkpoint()?;
        Ok(p)
    }

    /// As [`Partition::open`], keeping producer state within `limits`.
    pub fn open_with_limits(
        dir: &Path,
        values: &TopicValues,
        limits: ProducerLimits,
    ) -> Result<(Self, RecoveryReport), PartitionError> {
        let cfg = ring_config(values);
        let backend = FileBackend::open(dir, &cfg).map_err(PartitionError::Dir)?;
        let (checkpoint, saved) = open_checkpoint(dir)?;
        let saved: Checkpoint = saved.unwrap_or_default();
        let (ring, report) =
            Ring::open(backend, cfg, &saved).map_err(|error| PartitionError::Open {
                dir: dir.to_path_buf(),
                error,
            })?;
        let (producer_snapshot, saved) =
            SnapshotFile::open(dir, limits.max_producers).map_err(PartitionError::Checkpoint)?;
        let mut p = Partition {
            ring,
            checkpoint,
            producers: ProducerStates::new(limits),
            producer_snapshot,
        };
        p.producers = producer_snapshot::rebuild(&mut p.ring, dir, saved, limits, wall_ms());
        // Only now: the checkpoint also saves the producer state just rebuilt.
        p.write_checkpoint()?;
        p.log_quarantined();
        Ok((p, report))
    }

    /// Appends one batch (validated, offset-stamped). It is durable once a
    /// sync taken after this returns has run. An error means nothing was
    /// written. `now_wall_ms` (Unix ms) stamps idempotent producers' last use.
    pub fn append(
        &mut self,
        batch: &[u8],
        now_wall_ms: i64,
    ) -> Result<AppendOutcome, AppendFailure> {
        let head = header_bytes(batch).ok_or(AppendError::Invalid(BatchError::Truncated {
            have: batch.len(),
            need: HEADER_LEN,
        }))?;
        let h = BatchHeader::parse(head).map_err(AppendError::Invalid)?;
        let idempotent = h.producer_id >= 0;
        let wall = if idempotent { now_wall_ms } else { 0 };
        if idempotent {
            let seq = self.producers.check(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.records_count,
                wall,
            );
            match seq {
                SeqCheck::Append => {}
                SeqCheck::Duplicate { base_offset } => {
                    return Ok(AppendOutcome {
                        base_offset,
                        last_offset: base_offset + h.last_offset_delta as u64,
                        duplicate: true,
                    });
                }
                SeqCheck::InvalidEpoch { current } => {
                    return Err(AppendFailure::InvalidProducerEpoch {
                        current,
                        got: h.producer_epoch,
                    });
                }
                SeqCheck::OutOfOrder { expected, got } => {
                    return Err(AppendFailure::OutOfOrderSequence { expected, got });
                }
            }
        }
        let a = self.ring.append(batch, 0)?;
        if idempotent {
            self.producers.record(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.records_count,
                a.base_offset,
                wall,
            );
        }
        if a.rolled {
            // The previous slot was synced by the roll: record the new trust
            // point. Writing the checkpoint file is only a hint (recovery
            // re-checks more), so its failure is logged and the append stands:
            // reporting a written batch as failed makes producers write it
            // twice. A failed sync of the log itself is different: the owner
            // takes the partition offline (never a later silent success).
            match self.write_checkpoint() {
                Ok(()) => {}
                Err(PartitionError::Io(e)) => return Err(AppendError::Io(e).into()),
                Err(e) => log::warn!(
                    "{}: checkpoint after segment roll failed (recovery will scan more): {e}",
                    self.ring.backend().dir().display()
                ),
            }
        }
        Ok(AppendOutcome {
            base_offset: a.base_offset,
            last_offset: a.last_offset,
            duplicate: false,
        })
    }

    /// Syncs the log here and now; returns the durable end.
    pub fn sync(&mut self) -> io::Result<u64> {
        self.ring.sync()
    }

    /// A sync to run elsewhere (see [`SyncTicket`]); `None` if nothing is
    /// written yet. Report its success with [`Partition::finish_sync`].
    pub fn begin_sync(&self) -> io::Result<Option<SyncTicket>> {
        let Some(slot) = self.ring.active_slot() else {
            return Ok(None);
        };
        let file = self
            .ring
            .backend()
            .clone_file(crate::storage::backend::FileId::log(slot))?;
        Ok(Some(SyncTicket {
            file,
            upto: self.ring.next_offset(),
            #[cfg(test)]
            fail: sync_faults::failing(self.ring.backend().dir()),
        }))
    }

    /// A [`SyncTicket`] ran successfully.
    pub fn finish_sync(&mut self, upto: u64) {
        self.ring.mark_synced(upto);
    }

    /// Changes `ring.full.policy` live.
    pub fn set_full_policy(&mut self, v: &TopicValues) {
        self.ring.set_policy(full_policy(v));
    }

    /// Syncs everything and records a checkpoint (at roll and at close).
    pub fn write_checkpoint(&mut self) -> Result<(), PartitionError> {
        let cp = self.ring.checkpoint().map_err(PartitionError::Io)?;
        self.checkpoint
            .write(&cp)
            .map_err(PartitionError::Checkpoint)?;
        self.producers.expire(wall_ms());
        // A hint only: on failure the next open replays from an older one.
        if let Err(e) = self
            .producer_snapshot
            .write(cp.recovery_point, &self.producers)
        {
            ::log::warn!("producer-state snapshot not written: {e}");
        }
        Ok(())
    }

    /// The highest idempotent producer id this partition has state for.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.max_id()
    }
    pub fn log_start(&self) -> u64 {
        self.ring.log_start()
    }
    pub fn log_end(&self) -> u64 {
        self.ring.next_offset()
    }
    /// Slots used, bytes written, and the bytes reserved.
    pub fn usage(&self) -> (u16, u64, u64) {
        let (slots, bytes) = self.ring.usage();
        (slots, bytes, self.ring.config().reserved_bytes())
    }

    /// Whole batches from the one containing `offset`, up to `max_bytes`
    /// (the first batch whole even if larger), strictly below `upto` (the
    /// high watermark for consumers).
    pub fn read(
        &mut self,
        offset: u64,
        max_bytes: u32,
        upto: u64,
    ) -> Result<Vec<u8>, ReadError<io::Error>> {
        if offset > upto {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start: self.ring.log_start(),
                log_end: upto,
            });
        }
        let span = self.ring.read_below(offset, max_bytes, upto);
        self.log_quarantined();
        let Some(span) = span? else {
            // Below `upto` nothing is servable from `offset` on: those offsets are a quarantined
            // hole (recovery keeps their offsets taken). An empty batch spanning them moves the
            // consumer past them, as Kafka consumers skip a batch compaction emptied.
            return Ok(gap_batch(offset, upto).map(Vec::from).unwrap_or_default());
        };
        let mut buf = vec![0u8; span.len as usize];
        self.ring
            .read_span(&span, &mut buf)
            .map_err(ReadError::Io)?;
        Ok(buf)
    }

    /// Logs each range the ring quarantined (at open or while reading) once.
    fn log_quarantined(&mut self) {
        let dir = self.ring.backend().dir().display().to_string();
        for q in self.ring.take_quarantined() {
            log::warn!(
                "{dir}: quarantined offsets {}..{} ({:020}.log bytes {}..{}, slot {}): damaged, never served",
                q.first_offset,
                q.next_offset,
                q.slot_base,
                q.start,
                q.end,
                q.slot
            );
        }
    }

    /// Ranges quarantined since open (for a metric).
    pub fn quarantined_total(&self) -> u64 {
        self.ring.quarantined_total()
    }

    /// First offset below `upto` whose batch's max timestamp is ≥ `ts`.
    pub fn offset_for_time(&mut self, ts: i64, upto: u64) -> io::Result<Option<u64>> {
        Ok(self.ring.offset_for_time(ts)?.filter(|&o| o < upto))
    }

    /// Retention: frees oldest slots whose newest record is more than
    /// `retention_ms` older than `now_wall_ms` (never the active slot).
    /// Returns how many slots were freed.
    pub fn apply_retention(&mut self, now_wall_ms: i64, retention_ms: u64) -> io::Result<u32> {
        let mut freed = 0;
        while let Some((_, _, max_ts)) = self.ring.oldest_slot() {
            let expires = max_ts.saturating_add(retention_ms.min(i64::MAX as u64) as i64);
            if expires >= now_wall_ms || self.ring.release_oldest()?.is_none() {
                break;
            }
            freed += 1;
        }
        Ok(freed)
    }

    /// Frees the oldest slot (retention); returns the new log start.
    pub fn release_oldest(&mut self) -> io::Result<Option<u64>> {
        self.ring.release_oldest()
    }

    /// The oldest slot's (base, next, max timestamp) when it can be released.
    pub fn oldest_slot(&self) -> Option<(u64, u64, i64)> {
        self.ring.oldest_slot()
    }

    /// Syncs and checkpoints; after this a restart reads nothing back.
    pub fn close(mut self) -> Result<(), PartitionError> {
        self.write_checkpoint()
    }
}

/// A v2 batch with no records for offsets `from..to` (`None` when empty or too wide).
fn gap_batch(from: u64, to: u64) -> Option<[u8; HEADER_LEN]> {
    use crate::storage::batch::{self as b, CRC32C};
    let last_delta = i32::try_from(to.checked_sub(from)?.checked_sub(1)?).ok()?;
    let mut h = [0u8; HEADER_LEN];
    h[b::BASE_OFFSET].copy_from_slice(&from.to_be_bytes());
    h[b::BATCH_LENGTH].copy_from_slice(&((HEADER_LEN - b::LOG_OVERHEAD) as i32).to_be_bytes());
    h[b::LEADER_EPOCH].copy_from_slice(&(-1i32).to_be_bytes());
    h[b::MAGIC] = b::MAGIC_V2;
    h[b::LAST_OFFSET_DELTA].copy_from_slice(&last_delta.to_be_bytes());
    h[b::BASE_TIMESTAMP].copy_from_slice(&(-1i64).to_be_bytes());
    h[b::MAX_TIMESTAMP].copy_from_slice(&(-1i64).to_be_bytes());
    h[b::PRODUCER_ID].copy_from_slice(&(-1i64).to_be_bytes());
    h[b::PRODUCER_EPOCH].copy_from_slice(&(-1i16).to_be_bytes());
    h[b::BASE_SEQUENCE].copy_from_slice(&(-1i32).to_be_bytes());
    let crc = CRC32C.checksum(&h[b::CRC_START..]);
    h[b::CRC].copy_from_slice(&crc.to_be_bytes());
    Some(h)
}

/// Test builds: a fault switch for syncs, by partition directory.
#[cfg(test)]
pub mod sync_faults {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static FAILING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Every later sync of the partition in `dir` fails with EIO.
    pub fn fail_syncs_in(dir: &Path) {
        FAILING.lock().unwrap().push(dir.to_path_buf());
    }

    pub fn failing(dir: &Path) -> bool {
        FAILING.lock().unwrap().iter().any(|d| d == dir)
    }
}

/// Wall-clock milliseconds (producer expiry survives restarts, so not monotonic time).
pub(crate) fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The checkpoint is only a hint: with no valid copy, recovery checks every
/// slot from its start (the default checkpoint) and the garbage is replaced
/// at the first write.
fn open_checkpoint(
    dir: &Path,
) -> Result<(StateFile<Checkpoint>, Option<Checkpoint>), PartitionError> {
    let base = dir.join(CHECKPOINT_FILE);
    match StateFile::open(&base) {
        Err(e @ StateFileError::Corrupt { .. }) => {
            ::log::warn!("{e}; it is only a hint: recovery checks every slot from its start");
            for slot in ["a", "b"] {
                let path = dir.join(format!("{CHECKPOINT_FILE}.{slot}"));
                std::fs::remove_file(&path)
                    .or_else(|e| match e.kind() {
                        io::ErrorKind::NotFound => Ok(()),
                        _ => Err(e),
                    })
                    .map_err(|error| {
                        PartitionError::Io(io::Error::new(
                            error.kind(),
                            format!("{}: {error}", path.display()),
                        ))
                    })?;
            }
            let (file, _) = StateFile::open(&base).map_err(PartitionError::Checkpoint)?;
            Ok((file, None))
        }
        other => other.map_err(PartitionError::Checkpoint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::build_test_batch;

    fn values() -> TopicValues {
        TopicValues::for_tests(64 * 1024, 3)
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pipit-part-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn data_survives_reopen_and_only_synced_data_is_served() {
        let dir = tmpdir("reopen").join("t-0");
        let v = values();
        let mut p = Partition::create(&dir, &v).unwrap();
        let mut b = vec![0u8; 1061];
        build_test_batch(&mut b, 1000, 10, 5, 1).unwrap();
        for i in 0..300 {
            let c = b.clone();
            assert_eq!(p.append(&c, i as i64).unwrap().base_offset, i * 10);
        }
        let ticket = p.begin_sync().unwrap().unwrap();
        assert_eq!(ticket.upto, 3000);
        p.finish_sync(ticket.run().unwrap());
        // Reads stop at the bound the caller gives (the high watermark).
        assert!(p.read(2990, 1 << 20, 2990).unwrap().is_empty());
        let got = p.read(2990, 1 << 20, 3000).unwrap();
        assert_eq!(got.len(), 1061);
        p.close().unwrap();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.ends_with(".timeindex")));
        let (mut p, report) = Partition::open(&dir, &v).unwrap();
        assert_eq!(p.log_end(), 3000);
        assert!(
            report.batches_scanned < 10,
            "a clean restart re-reads little"
        );
        assert!(
            p.log_start() > 0,
            "the 3-slot ring of 64 KiB overwrote the oldest"
        );
        assert!(p.read(2990, 1 << 20, 3000).unwrap()[16..] == b[16..]);
        // Retention frees whole old slots only, never the active one.
        let start = p.log_start();
        assert_eq!(
            p.apply_retention(1_000, 10_000).unwrap(),
            0,
            "not expired yet"
        );
        assert_eq!(p.log_start(), start);
        assert_eq!(p.apply_retention(1_000_000, 10_000).unwrap(), 2);
        assert!(p.log_start() > start);
        assert_eq!(p.usage().0, 1, "the active slot stays");
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}
