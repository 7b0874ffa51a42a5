//! A partition's bounded ring of fixed-size, preallocated slots.
//!
//! Invariants the ring keeps:
//! - used slots hold increasing, non-overlapping offset ranges; `order` lists
//!   them oldest first and the last one is the active slot;
//! - a slot holds its batches back to back from position 0; `size` is where
//!   the next batch goes and everything before it is valid or a recorded hole;
//! - a slot is synced (all three files) before the ring moves to the next one,
//!   and a recycled slot is relabelled with its new base offset before any new
//!   byte is written into it, so stale bytes always carry lower offsets;
//! - appending and reading allocate nothing: state lives in fixed arrays.
//!
//! Reads return [`Span`]s (slot, position, length) so the shell can send the
//! stored bytes without copying them.

use heapless::Vec as HVec;

use super::backend::{Backend, FileId};
use super::batch::{self, BatchError, BatchHeader, RecordBatch};
use super::index::{self, IndexEntry, TimeEntry};

/// Most slots a ring can have (`log.ring.segments` is validated against it).
pub const MAX_SLOTS: usize = 64;
/// Quarantined ranges remembered per slot; recovery cuts the slot at a further one.
pub const MAX_HOLES: usize = 4;
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

/// A quarantined byte range of a slot: never served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hole {
    pub start: u32,
    pub end: u32,
    /// The offsets lost: `first_offset..next_offset`.
    pub first_offset: u64,
    pub next_offset: u64,
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

/// The in-memory state of one used slot.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub base: u64,
    pub next: u64,
    pub size: u32,
    pub entries: u32,
    pub last_index_pos: u32,
    pub max_ts: i64,
    pub holes: HVec<Hole, MAX_HOLES>,
}

impl Slot {
    pub fn empty(base: u64) -> Self {
        Slot {
            base,
            next: base,
            size: 0,
            entries: 0,
            last_index_pos: 0,
            max_ts: i64::MIN,
            holes: HVec::new(),
        }
    }
    fn hole_at(&self, pos: u32) -> Option<&Hole> {
        self.holes.iter().find(|h| h.start <= pos && pos < h.end)
    }
    fn hole_starting_at(&self, pos: u32) -> bool {
        self.holes.iter().any(|h| h.start == pos)
    }
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

    pub(crate) fn slot(&self, n: u16) -> Option<&Slot> {
        self.slots.get(n as usize).and_then(|s| s.as_ref())
    }
    fn slot_mut(&mut self, n: u16) -> Option<&mut Slot> {
        self.slots.get_mut(n as usize).and_then(|s| s.as_mut())
    }

    /// Validates `batch` (one RecordBatch v2, CRC checked), stamps its base
    /// offset and leader epoch in place, and writes it. Allocation-free.
    pub fn append(
        &mut self,
        batch: &mut [u8],
        leader_epoch: i32,
    ) -> Result<Appended, AppendError<B::Error>> {
        let mut view = RecordBatch::new_checked(&mut *batch).map_err(AppendError::Invalid)?;
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
                s.size as usize + len <= self.cfg.segment_bytes as usize
                    && next - s.base <= u32::MAX as u64
            }
            None => false,
        };
        let rolled = !fits;
        if rolled {
            self.roll()?;
        }
        let slot_no = *self.order.last().ok_or(AppendError::RingFull)?;
        view.set_base_offset(base as i64);
        view.set_partition_leader_epoch(leader_epoch);
        let interval = self.cfg.index_interval;
        let s = self.slot(slot_no).ok_or(AppendError::RingFull)?.clone();
        let pos = s.size;
        self.backend
            .write_at(FileId::log(slot_no), pos as u64, view.as_bytes())
            .map_err(AppendError::Io)?;
        let max_ts = s.max_ts.max(h.max_timestamp);
        let add_entry = s.entries == 0 || pos - s.last_index_pos >= interval;
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
        let free = (0..self.cfg.slots).find(|&n| self.slot(n).is_none());
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

    /// Frees the oldest slot (retention, DeleteRecords, a protected group's
    /// progress). Never frees the active slot. Returns the new log start.
    pub fn release_oldest(&mut self) -> Result<Option<u64>, B::Error> {
        if self.order.len() < 2 {
            return Ok(None);
        }
        let oldest = self.order.remove(0);
        self.backend.relabel(oldest, None)?;
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

    /// Calls `f` with the header of every batch of the newest slot, oldest
    /// first (idempotent-producer state is rebuilt from them at open).
    pub fn for_each_header_in_active_slot(
        &mut self,
        mut f: impl FnMut(&BatchHeader),
    ) -> Result<(), ReadError<B::Error>> {
        let Some(&n) = self.order.last() else {
            return Ok(());
        };
        let Some(s) = self.slot(n).cloned() else {
            return Ok(());
        };
        let mut pos = 0u32;
        while pos < s.size {
            if let Some(h) = s.hole_at(pos) {
                pos = h.end;
                continue;
            }
            let h = self.read_header(n, pos)?;
            f(&h);
            pos += h.total_len() as u32;
        }
        Ok(())
    }

    fn read_header(&mut self, slot: u16, pos: u32) -> Result<BatchHeader, ReadError<B::Error>> {
        let mut head = [0u8; batch::HEADER_LEN];
        self.backend
            .read_at(FileId::log(slot), pos as u64, &mut head)
            .map_err(ReadError::Io)?;
        // Bytes below `size` were validated when written or recovered.
        BatchHeader::parse(&head).map_err(|_| ReadError::OffsetOutOfRange {
            offset: pos as u64,
            log_start: self.log_start(),
            log_end: self.next_offset,
        })
    }

    /// Whole batches starting with the one that contains `offset`, at most
    /// `max_bytes` long unless the first batch alone is longer (Kafka returns
    /// it whole). `Ok(None)` when `offset` is the log end offset.
    pub fn read(
        &mut self,
        offset: u64,
        max_bytes: u32,
    ) -> Result<Option<Span>, ReadError<B::Error>> {
        self.read_below(offset, max_bytes, u64::MAX)
    }

    /// As [`Ring::read`], serving no batch whose base offset is ≥ `limit`
    /// (the high watermark: consumers never see what is not committed).
    pub fn read_below(
        &mut self,
        offset: u64,
        max_bytes: u32,
        limit: u64,
    ) -> Result<Option<Span>, ReadError<B::Error>> {
        let log_start = self.log_start();
        if offset < log_start || offset > self.next_offset {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start,
                log_end: self.next_offset,
            });
        }
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            let Some(s) = self.slot(n).cloned() else {
                continue;
            };
            if offset >= s.next || s.size == 0 {
                continue;
            }
            let span = self.read_in_slot(n, &s, offset.max(s.base), max_bytes, limit)?;
            return Ok(Some(span).filter(|sp| sp.first_offset < limit));
        }
        Ok(None)
    }

    fn read_in_slot(
        &mut self,
        n: u16,
        s: &Slot,
        offset: u64,
        max_bytes: u32,
        limit: u64,
    ) -> Result<Span, ReadError<B::Error>> {
        let rel = (offset - s.base) as u32;
        let mut pos = index::floor_entry(&mut self.backend, n, s.entries, rel)
            .map_err(ReadError::Io)?
            .map(|e| e.pos)
            .unwrap_or(0);
        // Find the batch containing `offset` (or the first after a gap/hole).
        let (start, first) = loop {
            if let Some(h) = s.hole_at(pos) {
                pos = h.end;
                continue;
            }
            if pos >= s.size {
                return Err(ReadError::OffsetOutOfRange {
                    offset,
                    log_start: self.log_start(),
                    log_end: self.next_offset,
                });
            }
            let h = self.read_header(n, pos)?;
            if h.last_offset() as u64 >= offset {
                break (pos, h);
            }
            pos += h.total_len() as u32;
        };
        let mut end = start + first.total_len() as u32;
        let mut next_offset = first.last_offset() as u64 + 1;
        while end < s.size && !s.hole_starting_at(end) {
            let h = self.read_header(n, end)?;
            let len = h.total_len() as u32;
            if (end - start).saturating_add(len) > max_bytes || h.base_offset as u64 >= limit {
                break;
            }
            end += len;
            next_offset = h.last_offset() as u64 + 1;
        }
        Ok(Span {
            slot: n,
            position: start,
            len: end - start,
            first_offset: first.base_offset as u64,
            next_offset,
        })
    }

    /// Copies a span's bytes into `buf` (which must be `span.len` long).
    pub fn read_span(&mut self, span: &Span, buf: &mut [u8]) -> Result<(), B::Error> {
        self.backend
            .read_at(FileId::log(span.slot), span.position as u64, buf)
    }

    /// Base offset of the first batch whose max timestamp is ≥ `ts`
    /// (ListOffsets by time), or `None` if no batch reaches `ts`.
    pub fn offset_for_time(&mut self, ts: i64) -> Result<Option<u64>, B::Error> {
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            let Some(s) = self.slot(n).cloned() else {
                continue;
            };
            if s.max_ts < ts || s.size == 0 {
                continue;
            }
            let mut pos = match index::last_time_entry_below(&mut self.backend, n, s.entries, ts)? {
                Some(k) => index::read_entry(&mut self.backend, n, k)?.pos,
                None => 0,
            };
            while pos < s.size {
                if let Some(h) = s.hole_at(pos) {
                    pos = h.end;
                    continue;
                }
                let mut head = [0u8; batch::HEADER_LEN];
                self.backend
                    .read_at(FileId::log(n), pos as u64, &mut head)?;
                let Ok(h) = BatchHeader::parse(&head) else {
                    break;
                };
                if h.max_timestamp >= ts {
                    return Ok(Some(h.base_offset as u64));
                }
                pos += h.total_len() as u32;
            }
        }
        Ok(None)
    }
}
