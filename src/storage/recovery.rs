//! Opening a ring after a clean stop or a power cut.
//!
//! Opening never fails for damaged data, only for backend I/O errors (and a
//! configuration the files cannot hold). The checkpoint is a hint.
//!
//! For each labelled slot, recovery finds a trusted starting point (the last
//! index entry below the recovery point whose batch checks out, with the
//! checkpoint's holes of the part before it, each checked to be a real hole;
//! else the slot start) and scans forward, accepting a batch only if its
//! length is in bounds, its CRC-32C is valid and its base offset is exactly
//! the next expected offset, and its last offset below the next slot's base
//! (a slot never claims offsets of the next). Stale bytes in a recycled slot carry lower
//! offsets, so they can never pass. The part before the starting point is not
//! re-read: the read path checks it batch by batch before serving it (see
//! `read`).
//!
//! When a batch fails, recovery looks for a later valid batch of this slot
//! (`scan::find_next_valid`: the bad batch's length field, later index
//! entries, and a byte scan when data must follow: a later slot exists, or
//! the checkpoint says offsets up to its recovery point were synced). If one
//! exists, the range between is a hole: quarantined, reported, never served.
//! If none does, the slot ends there: a torn tail is cut. Indexes that are
//! behind are rebuilt; entries already right are not rewritten. Two slots
//! with the same label keep the one holding more offsets; the other is
//! treated as free.

use heapless::Vec as HVec;

use super::backend::{Backend, FileId};
use super::batch::{self, BatchHeader};
use super::index::{self, IndexEntry, TimeEntry};
use super::ring::{
    Checkpoint, ConfigError, Hole, MAX_SLOTS, Quarantine, QuarantineLog, Ring, RingConfig, Slot,
};
use super::scan::{check_batch, find_next_valid, header_at};
use super::truncate::{free_with_mark, mark_at};

/// What recovery found; the shell logs it and exports it as metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Batches checked byte by byte.
    pub batches_scanned: u64,
    /// Slots whose tail was cut at a batch that failed (torn write).
    pub torn_tails: u32,
    /// Quarantined ranges: (first offset lost, next offset kept).
    pub holes: HVec<(u64, u64), 16>,
    /// Holes beyond what could be remembered (the slot was cut there instead).
    pub holes_dropped: u32,
    /// Index entries written because the index was behind.
    pub index_entries_rebuilt: u32,
    /// Slots ignored because another slot carries the same label.
    pub duplicate_labels: u32,
    /// Slots whose checkpointed holes did not match the files (scanned whole).
    pub checkpoint_mismatches: u32,
}

/// Why a ring could not be opened: never damaged data.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError<E> {
    Config(ConfigError),
    Io(E),
}

impl<B: Backend> Ring<B> {
    /// Opens a ring over `backend`. `checkpoint` is the last one
    /// [`Ring::checkpoint`] returned (the default when unknown: everything is
    /// checked).
    pub fn open(
        mut backend: B,
        cfg: RingConfig,
        checkpoint: &Checkpoint,
    ) -> Result<(Self, RecoveryReport), OpenError<B::Error>> {
        cfg.validate().map_err(OpenError::Config)?;
        for n in 0..cfg.slots {
            for (file, need) in [
                (FileId::log(n), cfg.segment_bytes as u64),
                (FileId::index(n), cfg.index_bytes()),
                (FileId::time_index(n), cfg.time_index_bytes()),
            ] {
                let have = backend.capacity(file);
                if have < need {
                    return Err(OpenError::Config(ConfigError::Capacity {
                        file,
                        have,
                        need,
                    }));
                }
            }
        }
        let mut report = RecoveryReport::default();
        let mut quarantined = QuarantineLog::default();
        let mut slots: HVec<Option<Slot>, MAX_SLOTS> = HVec::new();
        let mut order: HVec<u16, MAX_SLOTS> = HVec::new();
        for n in 0..cfg.slots {
            let slot = match backend.label(n) {
                Some(base) => {
                    // The next slot's base: this slot's offsets must reach it.
                    let next_base = (0..cfg.slots)
                        .filter_map(|m| backend.label(m))
                        .filter(|&l| l > base)
                        .min();
                    let mut ctx = Ctx {
                        cfg: &cfg,
                        slot: n,
                        base,
                        next_base,
                        checkpoint,
                        report: &mut report,
                        quarantined: &mut quarantined,
                    };
                    let _ = order.push(n);
                    Some(recover_slot(&mut backend, &mut ctx).map_err(OpenError::Io)?)
                }
                None => None,
            };
            let _ = slots.push(slot);
        }
        let key = |n: &u16| {
            slots
                .get(*n as usize)
                .and_then(|s| s.as_ref())
                .map(|s| (s.base, s.next))
                .unwrap_or((0, 0))
        };
        // Oldest first; of two slots with one label, the fuller one last.
        order.sort_unstable_by_key(key);
        let mut dropped: HVec<u16, MAX_SLOTS> = HVec::new();
        for w in order.windows(2) {
            if let [a, b] = w
                && key(a).0 == key(b).0
            {
                let _ = dropped.push(*a);
            }
        }
        for a in dropped {
            order.retain(|n| *n != a);
            if let Some(s) = slots.get_mut(a as usize) {
                *s = None;
            }
            report.duplicate_labels += 1;
        }
        finish_truncation(&mut backend, &mut slots, &mut order).map_err(OpenError::Io)?;
        // Where stale batches may reach above a slot's base: a free slot's
        // mark at byte 0, a sealed slot's mark.
        let mut stale_below = [0u64; MAX_SLOTS];
        for n in 0..cfg.slots {
            let at = match slots.get(n as usize) {
                Some(None) => Some(0),
                Some(Some(s)) if s.sealed => Some(s.size),
                _ => None,
            };
            if let Some(pos) = at
                && let Some(m) =
                    mark_at(&mut backend, cfg.segment_bytes, n, pos).map_err(OpenError::Io)?
                && let Some(t) = stale_below.get_mut(n as usize)
            {
                *t = m.stale_below;
            }
        }
        let next_offset = order
            .last()
            .and_then(|&n| slots.get(n as usize).and_then(|s| s.as_ref()))
            .map(|s| s.next)
            .unwrap_or(0);
        let mut ring = Ring {
            backend,
            cfg,
            slots,
            order,
            next_offset,
            synced_offset: 0,
            quarantined,
            protected: u64::MAX,
            stale_below,
        };
        // What recovery accepted (and any rebuilt index) is made durable now,
        // so it is the base every later ack builds on.
        ring.checkpoint().map_err(OpenError::Io)?;
        Ok((ring, report))
    }
}

/// The index entry to start scanning from: the last one (in the valid prefix)
/// below the recovery point whose batch is where the entry says.
fn start_point<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    base: u64,
    recovery_point: u64,
) -> Result<Option<(u32, IndexEntry, TimeEntry)>, B::Error> {
    if recovery_point <= base {
        return Ok(None);
    }
    let max = index::max_entries(cfg.segment_bytes, cfg.index_interval) as u32;
    let mut best: Option<(u32, IndexEntry)> = None;
    let mut prev: Option<IndexEntry> = None;
    for k in 0..max {
        let e = index::read_entry(b, slot, k)?;
        let ordered = match prev {
            None => e.rel == 0 && e.pos == 0,
            Some(p) => e.rel > p.rel && e.pos > p.pos,
        };
        let below = index::offset_of(base, e).is_some_and(|o| o < recovery_point);
        if !ordered || e.pos >= cfg.segment_bytes || !below {
            break;
        }
        best = Some((k, e));
        prev = Some(e);
    }
    let Some((k, e)) = best else { return Ok(None) };
    let t = index::read_time_entry(b, slot, k)?;
    let Some(want) = index::offset_of(base, e) else {
        return Ok(None);
    };
    let is_want = |h: &BatchHeader| h.base_offset as u64 == want;
    if t.rel != e.rel || check_batch(b, cfg, slot, e.pos, is_want)?.is_none() {
        return Ok(None);
    }
    Ok(Some((k, e, t)))
}

/// Finishes a truncation a crash cut short: a sealed slot (ending at a
/// truncation mark) must be the newest or be followed by the slot starting
/// at its cut offset; otherwise the slots after it hold cut batches and are
/// freed now. A slot sealed at byte 0 holds nothing and is freed too.
fn finish_truncation<B: Backend>(
    b: &mut B,
    slots: &mut HVec<Option<Slot>, MAX_SLOTS>,
    order: &mut HVec<u16, MAX_SLOTS>,
) -> Result<(), B::Error> {
    let info = |slots: &HVec<Option<Slot>, MAX_SLOTS>, n: u16| {
        slots
            .get(n as usize)
            .and_then(|s| s.as_ref())
            .map(|s| (s.base, s.next, s.size, s.sealed))
    };
    let mut i = 0;
    while i < order.len() {
        let Some(&n) = order.get(i) else { break };
        let Some((_, cut, size, sealed)) = info(slots, n) else {
            i += 1;
            continue;
        };
        let follower_ok = order
            .get(i + 1)
            .and_then(|&m| info(slots, m))
            .is_none_or(|(base, ..)| base == cut);
        if sealed && (!follower_ok || size == 0) {
            let first_freed = if size == 0 { i } else { i + 1 };
            let stale_below = order
                .iter()
                .filter_map(|&m| info(slots, m))
                .map(|(_, next, ..)| next)
                .max()
                .unwrap_or(cut);
            while order.len() > first_freed {
                let Some(m) = order.pop() else { break };
                let base = info(slots, m).map(|x| x.0).unwrap_or(cut);
                free_with_mark(b, m, base, stale_below)?;
                if let Some(s) = slots.get_mut(m as usize) {
                    *s = None;
                }
            }
            break;
        }
        i += 1;
    }
    Ok(())
}

/// What recovering one slot needs to know and where it reports.
struct Ctx<'a> {
    cfg: &'a RingConfig,
    slot: u16,
    base: u64,
    /// The next slot's base offset, if a later slot exists.
    next_base: Option<u64>,
    checkpoint: &'a Checkpoint,
    report: &'a mut RecoveryReport,
    quarantined: &'a mut QuarantineLog,
}

impl Ctx<'_> {
    /// Offsets this slot must still hold beyond `expected`, when known: up to
    /// the next slot's base, or (newest slot) up to the recovery point.
    fn upper(&self, expected: u64) -> Option<u64> {
        self.next_base
            .or(Some(self.checkpoint.recovery_point))
            .filter(|&u| u > expected)
    }

    /// Whether batch `h` ends below the next slot's base (always, for the
    /// newest slot).
    fn fits(&self, h: &BatchHeader) -> bool {
        self.next_base
            .is_none_or(|nb| (h.last_offset() as u64) < nb)
    }

    fn quarantine(&mut self, start: u32, end: u32, first_offset: u64, next_offset: u64) {
        if self.report.holes.push((first_offset, next_offset)).is_err() {
            self.report.holes_dropped += 1;
        }
        self.quarantined.note(Quarantine {
            slot: self.slot,
            slot_base: self.base,
            start,
            end,
            first_offset,
            next_offset,
        });
    }
}

/// The checkpoint's holes of this slot before `pos` (where the batch with
/// offset `at_offset` starts), each checked to be real: in order, ending
/// where a batch with its next offset starts, and not starting at a batch
/// that checks out. `None` when any is not: the slot is scanned whole.
fn trusted_holes<B: Backend>(
    b: &mut B,
    ctx: &Ctx<'_>,
    pos: u32,
    at_offset: u64,
) -> Result<Option<HVec<Hole, { super::ring::MAX_HOLES }>>, B::Error> {
    let mut holes: HVec<Hole, { super::ring::MAX_HOLES }> = HVec::new();
    let mut prev_end = 0u32;
    for (_, h) in ctx
        .checkpoint
        .holes
        .iter()
        .filter(|(sb, h)| *sb == ctx.base && h.start < pos)
    {
        let sane = h.start >= prev_end
            && h.start <= h.end
            && h.end <= pos
            && h.first_offset < h.next_offset
            && h.first_offset >= ctx.base;
        if !sane || holes.push(*h).is_err() {
            return Ok(None);
        }
        let ends_at_batch = if h.end == pos {
            h.next_offset == at_offset
        } else {
            header_at(b, ctx.cfg, ctx.slot, h.end)?
                .is_some_and(|x| x.base_offset as u64 == h.next_offset)
        };
        let first = h.first_offset;
        if !ends_at_batch
            || check_batch(b, ctx.cfg, ctx.slot, h.start, |x| {
                x.base_offset as u64 == first
            })?
            .is_some()
        {
            return Ok(None);
        }
        prev_end = h.end;
    }
    Ok(Some(holes))
}

/// Rebuilds one slot's state by scanning it.
fn recover_slot<B: Backend>(b: &mut B, ctx: &mut Ctx<'_>) -> Result<Slot, B::Error> {
    let (cfg, slot, base) = (ctx.cfg, ctx.slot, ctx.base);
    let mut s = Slot::empty(base);
    let mut pos = 0u32;
    if let Some((k, e, t)) = start_point(b, cfg, slot, base, ctx.checkpoint.recovery_point)? {
        // `start_point` only returns entries whose offset is below u64::MAX.
        let at_offset = index::offset_of(base, e).unwrap_or(base);
        match trusted_holes(b, ctx, e.pos, at_offset)? {
            Some(holes) => {
                pos = e.pos;
                s.next = at_offset;
                s.entries = k + 1;
                s.last_index_pos = e.pos;
                s.max_ts = t.max_ts;
                s.holes = holes;
            }
            None => ctx.report.checkpoint_mismatches += 1,
        }
    }
    let scanned_from = pos;
    // Epochs are known when the whole slot is scanned; otherwise they are
    // read from the headers when first asked for.
    s.epochs = (pos == 0).then(HVec::new);
    let max_entries = index::max_entries(cfg.segment_bytes, cfg.index_interval) as u32;
    loop {
        let expected = s.next;
        // A batch whose offsets run into the next slot's is damage: this
        // slot would otherwise claim (and serve for) offsets of the next.
        let ours = |h: &BatchHeader| h.base_offset as u64 == expected && ctx.fits(h);
        if let Some(h) = check_batch(b, cfg, slot, pos, ours)? {
            accept(b, cfg, slot, &mut s, pos, &h, ctx.report)?;
            pos += h.total_len() as u32;
            continue;
        }
        // A truncation mark of this slot's life ends the slot for good,
        // whatever else is known. (Marks of an earlier life carry lower
        // offsets; one at byte 0 names the slot's own base.)
        if let Some(m) = mark_at(b, cfg.segment_bytes, slot, pos)?
            && (m.offset == expected || (pos > 0 && m.offset > expected))
        {
            s.sealed = true;
            s.next = m.offset;
            break;
        }
        let upper = ctx.upper(expected);
        // With no more data known to follow, a parseable batch with a lower
        // offset is stale data from the slot's previous life, and zeros are
        // never-written space: a clean end.
        if upper.is_none() && clean_end(b, cfg, slot, base, pos)? {
            break;
        }
        let found = find_next_valid(
            b,
            cfg,
            slot,
            base,
            pos,
            expected,
            upper,
            ctx.next_base,
            cfg.segment_bytes,
            max_entries,
        )?;
        match found {
            Some((p2, h2)) if p2 == pos => {
                // Offsets missing, no bytes: a gap readers step over.
                let gap = Hole {
                    start: pos,
                    end: pos,
                    first_offset: expected,
                    next_offset: h2.base_offset as u64,
                };
                if !s.add_hole(gap) {
                    ctx.report.holes_dropped += 1;
                }
                ctx.quarantine(pos, pos, expected, gap.next_offset);
                s.next = gap.next_offset;
            }
            Some((p2, h2)) => {
                let hole = Hole {
                    start: pos,
                    end: p2,
                    first_offset: expected,
                    next_offset: h2.base_offset as u64,
                };
                if !s.add_hole(hole) {
                    ctx.report.holes_dropped += 1;
                }
                ctx.quarantine(pos, p2, hole.first_offset, hole.next_offset);
                // The hole is skipped by readers; offsets jump past it.
                s.next = hole.next_offset;
                pos = p2;
            }
            None => {
                if let Some(u) = upper {
                    // Offsets that should be here are not: damage to the end.
                    ctx.quarantine(pos, cfg.segment_bytes, expected, u);
                    // A damaged batch (not a clean end: then the checkpoint
                    // was wrong) keeps its offsets taken, so they are never
                    // given to other records.
                    if !clean_end(b, cfg, slot, base, pos)? {
                        let _ = s.add_hole(Hole {
                            start: pos,
                            end: pos,
                            first_offset: expected,
                            next_offset: u,
                        });
                        s.next = u;
                    }
                }
                ctx.report.torn_tails += 1;
                break;
            }
        }
    }
    s.size = pos;
    s.mark_verified(scanned_from, pos);
    Ok(s)
}

/// Whether the bytes at `pos` end the slot cleanly: the slot's end, zeros,
/// or a header with an offset below the slot's base (stale bytes).
fn clean_end<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    base: u64,
    pos: u32,
) -> Result<bool, B::Error> {
    if pos as u64 + batch::HEADER_LEN as u64 > cfg.segment_bytes as u64 {
        return Ok(true);
    }
    let mut head = [0u8; batch::HEADER_LEN];
    b.read_at(FileId::log(slot), pos as u64, &mut head)?;
    Ok(head.iter().all(|&x| x == 0)
        || matches!(BatchHeader::parse(&head), Ok(h) if h.base_offset < 0 || (h.base_offset as u64) < base))
}

/// Takes a checked batch into the slot state, rebuilding index entries.
fn accept<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    s: &mut Slot,
    pos: u32,
    h: &BatchHeader,
    report: &mut RecoveryReport,
) -> Result<(), B::Error> {
    report.batches_scanned += 1;
    s.note_epoch(h.partition_leader_epoch, h.base_offset as u64);
    s.max_ts = s.max_ts.max(h.max_timestamp);
    let is_entry_batch = s.entries > 0 && pos == s.last_index_pos;
    if !is_entry_batch && (s.entries == 0 || pos - s.last_index_pos >= cfg.index_interval) {
        let rel = (h.base_offset as u64 - s.base) as u32;
        let e = IndexEntry { rel, pos };
        let t = TimeEntry {
            max_ts: s.max_ts,
            rel,
        };
        let had = index::read_entry(b, slot, s.entries)? == e
            && index::read_time_entry(b, slot, s.entries)? == t;
        if !had {
            index::write_entries(b, slot, s.entries, e, t, false)?;
            report.index_entries_rebuilt += 1;
        }
        s.entries += 1;
        s.last_index_pos = pos;
    }
    s.next = h.last_offset() as u64 + 1;
    s.size = pos + h.total_len() as u32;
    Ok(())
}

impl<B: Backend> Ring<B> {
    /// A new, empty ring over freshly preallocated (or wiped) files; the first
    /// batch gets `start_offset`.
    pub fn create(
        mut backend: B,
        cfg: RingConfig,
        start_offset: u64,
    ) -> Result<Self, OpenError<B::Error>> {
        for n in 0..cfg.slots {
            if backend.label(n).is_some() {
                backend.relabel(n, None).map_err(OpenError::Io)?;
            }
        }
        let (mut ring, _) = Ring::open(backend, cfg, &Checkpoint::default())?;
        ring.next_offset = start_offset;
        ring.synced_offset = start_offset;
        Ok(ring)
    }
}
