//! A partition's bounded ring of fixed-size, preallocated slots.
//!
//! Invariants the ring keeps:
//! - used slots hold increasing, non-overlapping offset ranges; `order` lists
//!   them oldest first and the last one is the active slot;
//! - a slot holds its batches back to back from position 0; `size` is where
//!   the next batch goes; everything before it is a batch checked since open
//!   (`Slot::verified`), a recorded hole, or bytes the checkpoint trusted,
//!   which the read path CRC-checks before serving (see `read`);
//! - a slot is synced (all three files) before the ring moves to the next one,
//!   and a recycled slot is relabelled with its new base offset before any new
//!   byte is written into it, so stale bytes always carry lower offsets;
//! - a slot sealed by a truncation (`truncate`) is never appended to again,
//!   and a slot whose stale bytes could carry offsets at or above a new base
//!   is sanitized before it gets that base;
//! - appending and reading allocate nothing: state lives in fixed arrays.
//!
//! Reads return [`Span`]s (slot, position, length) so the shell can send the
//! stored bytes without copying them.

use heapless::Vec as HVec;

use super::backend::{Backend, FileId};
use super::batch::{BASE_OFFSET, BatchError, LEADER_EPOCH, RecordBatch};
use super::index::{self, IndexEntry, TimeEntry};
pub use super::slot::{Hole, MAX_PENDING_QUARANTINES, Quarantine};
pub(crate) use super::slot::{QuarantineLog, Slot};

/// Most slots a ring can have (`log.ring.segments` is validated against it).
pub const MAX_SLOTS: usize = 64;
/// Quarantined ranges remembered per slot; recovery cuts the slot at a further one.
pub const MAX_HOLES: usize = 8;
/// Leader epochs remembered per slot (see [`Ring::end_offset_for_epoch`]).
pub const MAX_EPOCHS: usize = 8;
/// Checked byte ranges remembered per slot (`Slot::verified`).
pub const MAX_VERIFIED: usize = 4;
/// Smallest allowed slot size: a slot must hold at least a batch header.
pub const MIN_SEGMENT_BYTES: u32 = 1024;

/// What happens when every slot is full (`ring.full.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Recycle the oldest slot; the log start offset advances.
    OverwriteOldest,
    /// Refuse the batch until a slot is released.
    RejectNew,
}

/// Shape of a ring; checked by [`RingConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    pub slots: u16,
    pub segment_bytes: u32,
    pub index_interval: u32,
    pub policy: FullPolicy,
}

/// Why a ring configuration is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    Slots {
        value: u16,
        min: u16,
        max: u16,
    },
    SegmentBytes {
        value: u32,
        min: u32,
    },
    IndexInterval {
        value: u32,
    },
    /// The backend's files are smaller than this configuration needs.
    Capacity {
        file: FileId,
        have: u64,
        need: u64,
    },
}

impl RingConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.slots < 2 || self.slots as usize > MAX_SLOTS {
            return Err(ConfigError::Slots {
                value: self.slots,
                min: 2,
                max: MAX_SLOTS as u16,
            });
        }
        if self.segment_bytes < MIN_SEGMENT_BYTES || self.segment_bytes > i32::MAX as u32 {
            return Err(ConfigError::SegmentBytes {
                value: self.segment_bytes,
                min: MIN_SEGMENT_BYTES,
            });
        }
        if self.index_interval == 0 {
            return Err(ConfigError::IndexInterval {
                value: self.index_interval,
            });
        }
        Ok(())
    }
    /// Bytes of the `.index` file of one slot.
    pub fn index_bytes(&self) -> u64 {
        index::max_entries(self.segment_bytes, self.index_interval) * index::INDEX_ENTRY_LEN
    }
    /// Bytes of the `.timeindex` file of one slot.
    pub fn time_index_bytes(&self) -> u64 {
        index::max_entries(self.segment_bytes, self.index_interval) * index::TIME_ENTRY_LEN
    }
    /// Bytes the whole ring reserves on disk.
    pub fn reserved_bytes(&self) -> u64 {
        self.slots as u64
            * (self.segment_bytes as u64 + self.index_bytes() + self.time_index_bytes())
    }
}

/// Holes a checkpoint can carry (beyond that, recovery re-checks the slot).
pub const MAX_CHECKPOINT_HOLES: usize = 16;

/// What the shell persists so the next open can trust what was synced:
/// every offset below `recovery_point` was durable with its indexes, and
/// `holes` are the quarantined ranges known then, by the base offset of the
/// slot they are in.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub recovery_point: u64,
    pub holes: HVec<(u64, Hole), MAX_CHECKPOINT_HOLES>,
}

/// Where an appended batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: u64,
    pub last_offset: u64,
    pub slot: u16,
    pub position: u32,
    /// Whether the append moved to a new slot (and so recycled the oldest one).
    pub rolled: bool,
}

/// Why an append was refused. The batch was not written in any case.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendError<E> {
    Invalid(BatchError),
    /// The batch is larger than one slot.
    TooLarge {
        size: usize,
        segment_bytes: u32,
    },
    /// Every slot is full and the policy is `reject_new`.
    RingFull,
    /// Offsets would leave the u32 relative range of a slot or i64.
    OffsetOverflow,
    Io(E),
}

/// Why a follower's append was refused. The batch was not written.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplicaError<E> {
    Append(AppendError<E>),
    /// The batch's base offset is not the next expected offset.
    UnexpectedOffset {
        expected: u64,
        got: i64,
    },
}

/// Why a read was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError<E> {
    OffsetOutOfRange {
        offset: u64,
        log_start: u64,
        log_end: u64,
    },
    Io(E),
}

/// Contiguous stored bytes of whole, valid batches inside one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub slot: u16,
    pub position: u32,
    pub len: u32,
    /// Base offset of the first batch in the span.
    pub first_offset: u64,
    /// The offset after the last batch in the span.
    pub next_offset: u64,
}

/// A partition's ring over a backend.
pub struct Ring<B: Backend> {
    pub(crate) backend: B,
    pub(crate) cfg: RingConfig,
    /// Indexed by slot number; `None` = free.
    pub(crate) slots: HVec<Option<Slot>, MAX_SLOTS>,
    /// Used slot numbers, oldest first.
    pub(crate) order: HVec<u16, MAX_SLOTS>,
    pub(crate) next_offset: u64,
    pub(crate) synced_offset: u64,
    pub(crate) quarantined: QuarantineLog,
    /// Offsets ≥ this are protected from release (`u64::MAX`: none).
    pub(crate) protected: u64,
    /// Per free slot: its stale batches carry offsets below this (a slot a
    /// truncation freed); it is sanitized before a lower base uses it.
    pub(crate) stale_below: [u64; MAX_SLOTS],
}

impl<B: Backend> Ring<B> {
    pub fn config(&self) -> &RingConfig {
        &self.cfg
    }
    pub fn backend(&self) -> &B {
        &self.backend
    }
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }
    /// The offset the next appended batch gets (Kafka's log end offset).
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
    /// Every offset below this is on stable storage.
    pub fn synced_offset(&self) -> u64 {
        self.synced_offset
    }
    /// The slot appends go to, if any is in use.
    pub fn active_slot(&self) -> Option<u16> {
        self.order.last().copied()
    }
    /// Records that a sync the caller ran itself (on its own handle of the
    /// active slot's log file, see `active_slot`) made everything below
    /// `upto` durable. Never moves backwards or past the log end.
    pub fn mark_synced(&mut self, upto: u64) {
        self.synced_offset = self.synced_offset.max(upto.min(self.next_offset));
    }
    /// Changes `ring.full.policy` of a live ring (the shape stays fixed).
    pub fn set_policy(&mut self, policy: FullPolicy) {
        self.cfg.policy = policy;
    }
    /// The oldest offset still held (Kafka's log start offset).
    pub fn log_start(&self) -> u64 {
        self.order
            .first()
            .and_then(|&s| self.slot(s))
            .map(|s| s.base)
            .unwrap_or(self.next_offset)
    }
    /// Slots in use and bytes written in them.
    pub fn usage(&self) -> (u16, u64) {
        let bytes = self
            .order
            .iter()
            .filter_map(|&s| self.slot(s))
            .map(|s| s.size as u64)
            .sum();
        (self.order.len() as u16, bytes)
    }
    /// Holes (quarantined ranges) currently known, over all slots.
    pub fn holes(&self) -> impl Iterator<Item = &Hole> {
        self.order
            .iter()
            .filter_map(|&s| self.slot(s))
            .flat_map(|s| s.holes.iter())
    }

    /// Quarantines found since the last call (at open or by reads), each
    /// reported once; more than [`MAX_PENDING_QUARANTINES`] between two calls
    /// are only counted in [`Ring::quarantined_total`].
    pub fn take_quarantined(&mut self) -> HVec<Quarantine, MAX_PENDING_QUARANTINES> {
        core::mem::take(&mut self.quarantined.pending)
    }
    /// Quarantines found since open (the metric).
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.total
    }

    pub(crate) fn slot(&self, n: u16) -> Option<&Slot> {
        self.slots.get(n as usize).and_then(|s| s.as_ref())
    }
    pub(crate) fn slot_mut(&mut self, n: u16) -> Option<&mut Slot> {
        self.slots.get_mut(n as usize).and_then(|s| s.as_mut())
    }

    /// Validates `batch` (one RecordBatch v2, CRC checked) and writes it
    /// with its base offset and leader epoch stamped. The caller's bytes are
    /// not touched and not copied: the stamped 16-byte prefix (baseOffset,
    /// batchLength, partitionLeaderEpoch, all outside the CRC) and the rest
    /// go to the backend as one vectored write. Allocation-free.
    pub fn append(
        &mut self,
        batch: &[u8],
        leader_epoch: i32,
    ) -> Result<Appended, AppendError<B::Error>> {
        self.write_batch(batch, Some(leader_epoch))
    }

    /// A follower's append: the batch keeps the leader's base offset and
    /// partitionLeaderEpoch, and is refused unless its base offset is the
    /// next expected offset ([`Ring::next_offset`]). Allocation-free.
    /// The bytes are stored as given (nothing is stamped).
    pub fn append_replica(&mut self, batch: &[u8]) -> Result<Appended, ReplicaError<B::Error>> {
        let view = RecordBatch::new_checked(batch)
            .map_err(|e| ReplicaError::Append(AppendError::Invalid(e)))?;
        let got = view.header().base_offset;
        if u64::try_from(got).ok() != Some(self.next_offset) {
            return Err(ReplicaError::UnexpectedOffset {
                expected: self.next_offset,
                got,
            });
        }
        self.write_batch(batch, None).map_err(ReplicaError::Append)
    }

    fn write_batch(
        &mut self,
        batch: &[u8],
        leader_epoch: Option<i32>,
    ) -> Result<Appended, AppendError<B::Error>> {
        let view = RecordBatch::new_checked(batch).map_err(AppendError::Invalid)?;
        let len = view.total_len();
        if len > self.cfg.segment_bytes as usize {
            return Err(AppendError::TooLarge {
                size: len,
                segment_bytes: self.cfg.segment_bytes,
            });
        }
        let h = *view.header();
        let base = self.next_offset;
        let next = base
            .checked_add(h.last_offset_delta as u64 + 1)
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or(AppendError::OffsetOverflow)?;
        let fits = match self.order.last().and_then(|&s| self.slot(s)) {
            Some(s) => {
                !s.sealed
                    && s.size as usize + len <= self.cfg.segment_bytes as usize
                    && next - s.base <= u32::MAX as u64
            }
            None => false,
        };
        let rolled = !fits;
        if rolled {
            self.roll()?;
        }
        let slot_no = *self.order.last().ok_or(AppendError::RingFull)?;
        let bytes = view.as_bytes();
        let (prefix, rest) = bytes.split_at(STAMPED_PREFIX.min(bytes.len()));
        let mut head = [0u8; STAMPED_PREFIX];
        head[..prefix.len()].copy_from_slice(prefix);
        let mut stamped = RecordBatchPrefix(&mut head);
        stamped.set(BASE_OFFSET, &(base as i64).to_be_bytes());
        let h_epoch = match leader_epoch {
            Some(epoch) => {
                stamped.set(LEADER_EPOCH, &epoch.to_be_bytes());
                epoch
            }
            None => h.partition_leader_epoch,
        };
        let interval = self.cfg.index_interval;
        let s = self.slot(slot_no).ok_or(AppendError::RingFull)?.clone();
        let pos = s.size;
        self.backend
            .write_vectored_at(FileId::log(slot_no), pos as u64, &[&head, rest])
            .map_err(AppendError::Io)?;
        let max_ts = s.max_ts.max(h.max_timestamp);
        let add_entry = s.entries == 0 || pos.saturating_sub(s.last_index_pos) >= interval;
        if add_entry {
            let rel = (base - s.base) as u32;
            index::write_entries(
                &mut self.backend,
                slot_no,
                s.entries,
                IndexEntry { rel, pos },
                TimeEntry { max_ts, rel },
                false,
            )
            .map_err(AppendError::Io)?;
        }
        if let Some(s) = self.slot_mut(slot_no) {
            s.note_epoch(h_epoch, base);
            s.mark_verified(pos, pos + len as u32);
            s.size = pos + len as u32;
            s.next = next;
            s.max_ts = max_ts;
            if add_entry {
                s.entries += 1;
                s.last_index_pos = pos;
            }
        }
        self.next_offset = next;
        Ok(Appended {
            base_offset: base,
            last_offset: next - 1,
            slot: slot_no,
            position: pos,
            rolled,
        })
    }

    /// Leaves the active slot (synced first) for a free or recycled one.
    /// A refused roll (`RingFull`) touches nothing, syncs included: a
    /// retrying producer must not become a stream of syncs.
    fn roll(&mut self) -> Result<(), AppendError<B::Error>> {
        // A clean free slot first; else one a truncation freed (sanitized).
        let free = (0..self.cfg.slots)
            .filter(|&n| self.slot(n).is_none())
            .min_by_key(|&n| self.stale_of(n) > self.next_offset);
        let can_recycle = self.cfg.policy == FullPolicy::OverwriteOldest && self.order.len() >= 2;
        if free.is_none() && !can_recycle {
            return Err(AppendError::RingFull);
        }
        if let Some(&active) = self.order.last() {
            self.sync_slot(active).map_err(AppendError::Io)?;
        }
        let slot_no = match free {
            Some(n) => n,
            None => {
                let oldest = self.order.remove(0);
                if let Some(s) = self.slots.get_mut(oldest as usize) {
                    *s = None;
                }
                oldest
            }
        };
        // Stale batches must carry offsets below the new base.
        self.make_clean_for(slot_no, self.next_offset)
            .map_err(AppendError::Io)?;
        self.backend
            .relabel(slot_no, Some(self.next_offset))
            .map_err(AppendError::Io)?;
        if let Some(s) = self.slots.get_mut(slot_no as usize) {
            *s = Some(Slot::empty(self.next_offset));
        }
        self.order
            .push(slot_no)
            .map_err(|_| AppendError::RingFull)?;
        Ok(())
    }

    fn sync_slot(&mut self, n: u16) -> Result<(), B::Error> {
        self.backend.sync(FileId::log(n))?;
        self.backend.sync(FileId::index(n))?;
        self.backend.sync(FileId::time_index(n))
    }

    /// Makes every appended batch durable (the active slot's log file; earlier
    /// slots were synced when the ring left them). Returns the synced offset.
    pub fn sync(&mut self) -> Result<u64, B::Error> {
        if let Some(&active) = self.order.last() {
            self.backend.sync(FileId::log(active))?;
        }
        self.synced_offset = self.next_offset;
        Ok(self.synced_offset)
    }

    /// Syncs the indexes too and returns a checkpoint: persist it and pass it
    /// to [`Ring::open`] after a restart, and recovery trusts everything
    /// below its recovery point instead of re-reading it. With more holes
    /// than a checkpoint holds, the recovery point stays at the oldest slot
    /// with an unlisted hole, so that slot is checked again.
    pub fn checkpoint(&mut self) -> Result<Checkpoint, B::Error> {
        if let Some(&active) = self.order.last() {
            self.sync_slot(active)?;
        }
        self.synced_offset = self.next_offset;
        let mut cp = Checkpoint {
            recovery_point: self.next_offset,
            holes: HVec::new(),
        };
        'slots: for &n in self.order.iter() {
            let Some(s) = self.slot(n) else { continue };
            for h in s.holes.iter() {
                if cp.holes.push((s.base, *h)).is_err() {
                    cp.recovery_point = s.base;
                    break 'slots;
                }
            }
        }
        Ok(cp)
    }

    /// Protects every offset ≥ `offset` (a group's or a replica's
    /// low-water mark) from [`Ring::release_oldest`]: a slot holding any of
    /// them is not freed, so under `reject_new` the ring stays full
    /// (`RingFull`) until the mark moves. `overwrite_oldest` still recycles:
    /// that policy never blocks producers. Kept in memory only (the shell
    /// sets it again after a restart).
    pub fn set_protected(&mut self, offset: u64) {
        self.protected = offset;
    }
    /// Removes the protection of [`Ring::set_protected`].
    pub fn clear_protected(&mut self) {
        self.protected = u64::MAX;
    }
    /// The protected low-water mark, if one is set.
    pub fn protected(&self) -> Option<u64> {
        Some(self.protected).filter(|&p| p != u64::MAX)
    }

    /// Frees the oldest slot (retention, DeleteRecords, a protected group's
    /// progress). Never frees the active slot, nor a slot holding offsets at
    /// or above the protected mark. Returns the new log start.
    pub fn release_oldest(&mut self) -> Result<Option<u64>, B::Error> {
        if self.order.len() < 2 {
            return Ok(None);
        }
        let oldest_next = self
            .order
            .first()
            .and_then(|&n| self.slot(n))
            .map(|s| s.next);
        if oldest_next.is_some_and(|next| next > self.protected) {
            return Ok(None);
        }
        let oldest = self.order.remove(0);
        let stale = self.stale_of(oldest);
        match self.backend.label(oldest) {
            // Stale cut batches above the log start: known after a restart.
            Some(label) if stale > self.next_offset => {
                super::truncate::free_with_mark(&mut self.backend, oldest, label, stale)?
            }
            _ => self.backend.relabel(oldest, None)?,
        }
        if let Some(s) = self.slots.get_mut(oldest as usize) {
            *s = None;
        }
        Ok(Some(self.log_start()))
    }

    /// The oldest slot's base offset and max timestamp, for retention checks.
    pub fn oldest_slot(&self) -> Option<(u64, u64, i64)> {
        if self.order.len() < 2 {
            return None;
        }
        let s = self.order.first().and_then(|&n| self.slot(n))?;
        Some((s.base, s.next, s.max_ts))
    }
}

/// Bytes at the start of a batch the broker rewrites: baseOffset (0..8),
/// batchLength (8..12), partitionLeaderEpoch (12..16); all before the CRC.
const STAMPED_PREFIX: usize = 16;

/// A copy of a batch's first [`STAMPED_PREFIX`] bytes being stamped.
struct RecordBatchPrefix<'a>(&'a mut [u8; STAMPED_PREFIX]);

impl RecordBatchPrefix<'_> {
    fn set(&mut self, field: core::ops::Range<usize>, value: &[u8]) {
        if let Some(dst) = self.0.get_mut(field) {
            dst.copy_from_slice(value);
        }
    }
}
