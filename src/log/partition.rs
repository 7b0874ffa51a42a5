//! One partition on disk: the ring over its directory, its checkpoint, its
//! flush policy and its high watermark.
//!
//! The high watermark is what consumers may read. With `log.durability=fsync`
//! it is the synced offset, so nothing is served or acknowledged that a power
//! cut could take back; with `replicated` it is the log end offset (a single
//! node's ISR is itself). The checkpoint (`recovery-point-checkpoint.a/.b`)
//! is written at every roll and at close, so a clean restart reads nothing
//! back and a restart after a power cut checks only the newest slot.

use std::io;
use std::path::{Path, PathBuf};

use super::file_backend::{DirError, FileBackend};
use super::flush::{FlushDecision, FlushPolicy};
use super::producer_state::{ProducerStates, SeqCheck};
use super::state_file::{StateFile, StateFileError};
use super::topic_config::{Durability, RingFullPolicy, TopicValues};
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

/// The ring shape a topic's values ask for.
pub fn ring_config(v: &TopicValues) -> RingConfig {
    RingConfig {
        slots: v.ring_segments.min(u16::MAX as u32) as u16,
        segment_bytes: v.segment_bytes,
        index_interval: v.index_interval_bytes,
        policy: match v.ring_full_policy {
            RingFullPolicy::OverwriteOldest => FullPolicy::OverwriteOldest,
            RingFullPolicy::RejectNew => FullPolicy::RejectNew,
        },
    }
}

const CHECKPOINT_FILE: &str = "recovery-point-checkpoint";

/// A partition's log.
pub struct Partition {
    ring: Ring<FileBackend>,
    checkpoint: StateFile<Checkpoint>,
    flush: FlushPolicy,
    high_watermark: u64,
    producers: ProducerStates,
}

impl Partition {
    /// Creates the directory with its ring reserved on disk.
    pub fn create(dir: &Path, values: &TopicValues) -> Result<Self, PartitionError> {
        let cfg = ring_config(values);
        let backend = FileBackend::create(dir, &cfg).map_err(PartitionError::Dir)?;
        let ring = Ring::create(backend, cfg, 0).map_err(|error| PartitionError::Open {
            dir: dir.to_path_buf(),
            error,
        })?;
        let (checkpoint, _) =
            StateFile::open(dir.join(CHECKPOINT_FILE)).map_err(PartitionError::Checkpoint)?;
        let mut p = Partition {
            ring,
            checkpoint,
            flush: flush_policy(values),
            high_watermark: 0,
            producers: ProducerStates::default(),
        };
        p.write_checkpoint()?;
        Ok(p)
    }

    /// Opens an existing partition directory and recovers it.
    pub fn open(
        dir: &Path,
        values: &TopicValues,
    ) -> Result<(Self, RecoveryReport), PartitionError> {
        let cfg = ring_config(values);
        let backend = FileBackend::open(dir, &cfg).map_err(PartitionError::Dir)?;
        let (checkpoint, saved) =
            StateFile::open(dir.join(CHECKPOINT_FILE)).map_err(PartitionError::Checkpoint)?;
        let saved: Checkpoint = saved.unwrap_or_default();
        let (ring, report) =
            Ring::open(backend, cfg, &saved).map_err(|error| PartitionError::Open {
                dir: dir.to_path_buf(),
                error,
            })?;
        let mut p = Partition {
            high_watermark: ring.next_offset(),
            ring,
            checkpoint,
            flush: flush_policy(values),
            producers: ProducerStates::default(),
        };
        p.write_checkpoint()?;
        p.log_quarantined();
        // Idempotent producers' windows, from the newest slot's batches.
        let producers = &mut p.producers;
        p.ring
            .for_each_header_in_active_slot(|h| {
                if h.producer_id >= 0 {
                    producers.record(
                        h.producer_id,
                        h.producer_epoch,
                        h.base_sequence,
                        h.records_count,
                        h.base_offset as u64,
                    );
                }
            })
            .map_err(|e| PartitionError::Io(io::Error::other(format!("{e:?}"))))?;
        p.log_quarantined();
        Ok((p, report))
    }

    /// Appends one batch (validated, offset-stamped). In `fsync` durability
    /// the batch becomes visible and acknowledgeable at the next [`sync`].
    ///
    /// [`sync`]: Partition::sync
    pub fn append(
        &mut self,
        batch: &mut [u8],
        now_ms: u64,
    ) -> Result<AppendOutcome, AppendFailure> {
        let head = header_bytes(batch).ok_or(AppendError::Invalid(BatchError::Truncated {
            have: batch.len(),
            need: HEADER_LEN,
        }))?;
        let h = BatchHeader::parse(head).map_err(AppendError::Invalid)?;
        let idempotent = h.producer_id >= 0;
        if idempotent {
            let seq = self.producers.check(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.records_count,
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
            );
        }
        self.flush
            .on_append(now_ms, a.last_offset - a.base_offset + 1);
        if self.flush.durability() == Durability::Replicated {
            self.high_watermark = self.ring.next_offset();
        }
        if a.rolled {
            // The previous slot was synced by the roll: record the new trust point.
            self.write_checkpoint()
                .map_err(|e| AppendError::Io(io::Error::other(e.to_string())))?;
        }
        Ok(AppendOutcome {
            base_offset: a.base_offset,
            last_offset: a.last_offset,
            duplicate: false,
        })
    }

    /// What the flush policy says now.
    pub fn flush_decision(&self, now_ms: u64) -> FlushDecision {
        self.flush.decide(now_ms)
    }

    /// Syncs the log; the high watermark moves to what is durable.
    pub fn sync(&mut self) -> io::Result<u64> {
        let synced = self.ring.sync()?;
        self.flush.on_sync();
        if self.flush.durability() == Durability::Fsync {
            self.high_watermark = synced;
        }
        Ok(synced)
    }

    /// Syncs everything and records a checkpoint (at roll and at close).
    pub fn write_checkpoint(&mut self) -> Result<(), PartitionError> {
        let cp = self.ring.checkpoint().map_err(PartitionError::Io)?;
        self.flush.on_sync();
        self.high_watermark = self.ring.next_offset();
        self.checkpoint
            .write(&cp)
            .map_err(PartitionError::Checkpoint)?;
        Ok(())
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
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
    /// (the first batch whole even if larger), below the high watermark.
    pub fn read(&mut self, offset: u64, max_bytes: u32) -> Result<Vec<u8>, ReadError<io::Error>> {
        if offset > self.high_watermark {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start: self.ring.log_start(),
                log_end: self.high_watermark,
            });
        }
        let span = self.ring.read_below(offset, max_bytes, self.high_watermark);
        self.log_quarantined();
        let Some(span) = span? else {
            return Ok(Vec::new());
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

    /// First offset whose batch's max timestamp is ≥ `ts`, if any is committed.
    pub fn offset_for_time(&mut self, ts: i64) -> io::Result<Option<u64>> {
        Ok(self
            .ring
            .offset_for_time(ts)?
            .filter(|&o| o < self.high_watermark))
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

fn flush_policy(v: &TopicValues) -> FlushPolicy {
    FlushPolicy::new(v.durability, v.flush_messages, v.flush_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::topic_config::CompressionType;
    use crate::storage::batch::build_test_batch;

    fn values() -> TopicValues {
        TopicValues {
            segment_bytes: 64 * 1024,
            ring_segments: 3,
            ring_full_policy: RingFullPolicy::OverwriteOldest,
            retention_ms: None,
            max_message_bytes: 32 * 1024,
            compression_type: CompressionType::Producer,
            flush_messages: u64::MAX,
            flush_ms: None,
            min_insync_replicas: 1,
            index_interval_bytes: 4096,
            durability: Durability::Fsync,
        }
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
            let mut c = b.clone();
            assert_eq!(p.append(&mut c, i).unwrap().base_offset, i * 10);
        }
        // fsync durability: nothing visible before the sync.
        assert!(p.high_watermark() < 3000);
        p.sync().unwrap();
        assert_eq!(p.high_watermark(), 3000);
        let got = p.read(2990, 1 << 20).unwrap();
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
        assert!(p.read(2990, 1 << 20).unwrap()[16..] == b[16..]);
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
