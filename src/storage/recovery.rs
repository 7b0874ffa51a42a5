//! Opening a ring after a clean stop or a power cut.
//!
//! For each labelled slot, recovery finds a trusted starting point (the last
//! index entry below the recovery point whose batch checks out, else the slot
//! start) and scans forward, accepting a batch only if its length is in
//! bounds, its CRC-32C is valid and its base offset is exactly the next
//! expected offset. Stale bytes in a recycled slot carry lower offsets, so
//! they can never pass.
//!
//! When a batch fails, recovery looks for a later valid batch of this slot
//! (at the end the bad batch's length field announces, or at a later index
//! entry). If one exists, the range between is a hole: quarantined, reported,
//! never served. If none does, the slot ends there: a torn tail is cut.
//! Indexes that are behind are rebuilt; entries already right are not
//! rewritten.

use heapless::Vec as HVec;

use super::backend::{Backend, FileId};
use super::batch::{self, BatchHeader};
use super::index::{self, IndexEntry, TimeEntry};
use super::ring::{Checkpoint, ConfigError, Hole, MAX_SLOTS, Ring, RingConfig, Slot};

/// Bytes read at a time while checking a batch's CRC (stack buffer).
const CRC_CHUNK: usize = 2048;

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
}

/// Why a ring could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError<E> {
    Config(ConfigError),
    /// Two slots carry the same base offset.
    DuplicateLabel {
        base: u64,
    },
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
        let mut slots: HVec<Option<Slot>, MAX_SLOTS> = HVec::new();
        let mut order: HVec<u16, MAX_SLOTS> = HVec::new();
        for n in 0..cfg.slots {
            let slot = match backend.label(n) {
                Some(base) => {
                    let _ = order.push(n);
                    Some(
                        recover_slot(&mut backend, &cfg, n, base, checkpoint, &mut report)
                            .map_err(OpenError::Io)?,
                    )
                }
                None => None,
            };
            let _ = slots.push(slot);
        }
        let base_of = |n: &u16| {
            slots
                .get(*n as usize)
                .and_then(|s| s.as_ref())
                .map(|s| s.base)
                .unwrap_or(0)
        };
        order.sort_unstable_by_key(base_of);
        for w in order.windows(2) {
            if let [a, b] = w
                && base_of(a) == base_of(b)
            {
                return Err(OpenError::DuplicateLabel { base: base_of(a) });
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
        };
        // What recovery accepted (and any rebuilt index) is made durable now,
        // so it is the base every later ack builds on.
        ring.checkpoint().map_err(OpenError::Io)?;
        Ok((ring, report))
    }
}

/// Checks the batch at `pos`: in bounds, valid header, valid CRC, and a base
/// offset `accept` agrees with. Returns its header.
fn check_batch<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    pos: u32,
    accept: impl Fn(u64) -> bool,
) -> Result<Option<BatchHeader>, B::Error> {
    let seg = cfg.segment_bytes as u64;
    if pos as u64 + batch::HEADER_LEN as u64 > seg {
        return Ok(None);
    }
    let mut head = [0u8; batch::HEADER_LEN];
    b.read_at(FileId::log(slot), pos as u64, &mut head)?;
    let Ok(h) = BatchHeader::parse(&head) else {
        return Ok(None);
    };
    if h.base_offset < 0 || !accept(h.base_offset as u64) || pos as u64 + h.total_len() as u64 > seg
    {
        return Ok(None);
    }
    let mut digest = batch::CRC32C.digest();
    digest.update(&head[batch::CRC_START..]);
    let mut at = pos as u64 + batch::HEADER_LEN as u64;
    let end = pos as u64 + h.total_len() as u64;
    let mut chunk = [0u8; CRC_CHUNK];
    while at < end {
        let n = ((end - at) as usize).min(CRC_CHUNK);
        let buf = &mut chunk[..n];
        b.read_at(FileId::log(slot), at, buf)?;
        digest.update(buf);
        at += n as u64;
    }
    Ok((digest.finalize() == h.crc).then_some(h))
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
        if !ordered || e.pos >= cfg.segment_bytes || base + e.rel as u64 >= recovery_point {
            break;
        }
        best = Some((k, e));
        prev = Some(e);
    }
    let Some((k, e)) = best else { return Ok(None) };
    let t = index::read_time_entry(b, slot, k)?;
    let want = base + e.rel as u64;
    if t.rel != e.rel || check_batch(b, cfg, slot, e.pos, |o| o == want)?.is_none() {
        return Ok(None);
    }
    Ok(Some((k, e, t)))
}

/// Looks for a valid batch of this slot after a bad one at `pos`.
fn resync<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    base: u64,
    pos: u32,
    expected: u64,
    from_entry: u32,
) -> Result<Option<(u32, BatchHeader)>, B::Error> {
    // 1. The bad batch's own length field, if its header still parses.
    let mut head = [0u8; batch::HEADER_LEN];
    if pos as u64 + batch::HEADER_LEN as u64 <= cfg.segment_bytes as u64 {
        b.read_at(FileId::log(slot), pos as u64, &mut head)?;
        if let Ok(h) = BatchHeader::parse(&head) {
            let next = pos as u64 + h.total_len() as u64;
            if next < cfg.segment_bytes as u64
                && let Some(h2) = check_batch(b, cfg, slot, next as u32, |o| o > expected)?
            {
                return Ok(Some((next as u32, h2)));
            }
        }
    }
    // 2. A later index entry that points at a valid batch of this slot.
    let max = index::max_entries(cfg.segment_bytes, cfg.index_interval) as u32;
    for k in from_entry..max {
        let e = index::read_entry(b, slot, k)?;
        if e.rel == 0 && e.pos == 0 {
            break;
        }
        let want = base + e.rel as u64;
        if e.pos > pos
            && want > expected
            && let Some(h) = check_batch(b, cfg, slot, e.pos, |o| o == want)?
        {
            return Ok(Some((e.pos, h)));
        }
    }
    Ok(None)
}

/// Rebuilds one slot's state by scanning it.
fn recover_slot<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    base: u64,
    checkpoint: &Checkpoint,
    report: &mut RecoveryReport,
) -> Result<Slot, B::Error> {
    let mut s = Slot::empty(base);
    let mut pos = 0u32;
    if let Some((k, e, t)) = start_point(b, cfg, slot, base, checkpoint.recovery_point)? {
        pos = e.pos;
        s.next = base + e.rel as u64;
        s.entries = k + 1;
        s.last_index_pos = e.pos;
        s.max_ts = t.max_ts;
        // Holes in the trusted part are known only from the checkpoint.
        for (_, h) in checkpoint
            .holes
            .iter()
            .filter(|(b, h)| *b == base && h.end <= pos)
        {
            let _ = s.holes.push(*h);
        }
    }
    loop {
        let expected = s.next;
        if let Some(h) = check_batch(b, cfg, slot, pos, |o| o == expected)? {
            accept(b, cfg, slot, &mut s, pos, &h, report)?;
            pos += h.total_len() as u32;
            continue;
        }
        // A parseable batch with a lower offset is stale data from the slot's
        // previous life, and zeros are never-written space: a clean end.
        let mut head = [0u8; batch::HEADER_LEN];
        let in_bounds = pos as u64 + batch::HEADER_LEN as u64 <= cfg.segment_bytes as u64;
        if in_bounds {
            b.read_at(FileId::log(slot), pos as u64, &mut head)?;
        }
        let clean_end = !in_bounds
            || head.iter().all(|&x| x == 0)
            || matches!(BatchHeader::parse(&head), Ok(h) if (h.base_offset as u64) < base || h.base_offset < 0);
        if clean_end {
            break;
        }
        match resync(b, cfg, slot, base, pos, expected, s.entries)? {
            Some((p2, h2)) if !s.holes.is_full() => {
                let hole = Hole {
                    start: pos,
                    end: p2,
                    first_offset: expected,
                    next_offset: h2.base_offset as u64,
                };
                let _ = s.holes.push(hole);
                if report
                    .holes
                    .push((hole.first_offset, hole.next_offset))
                    .is_err()
                {
                    report.holes_dropped += 1;
                }
                // The hole is skipped by readers; offsets jump past it.
                s.next = h2.base_offset as u64;
                pos = p2;
            }
            Some(_) => {
                report.holes_dropped += 1;
                report.torn_tails += 1;
                break;
            }
            None => {
                report.torn_tails += 1;
                break;
            }
        }
    }
    s.size = pos;
    Ok(s)
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
