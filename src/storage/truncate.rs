//! Durable truncation: cutting the log back to an offset so that no crash,
//! at any point, brings a cut batch back.
//!
//! The cut batches carry exactly the offsets the log expects next, so
//! recovery alone would take them back. Instead of zeroing them (flash
//! wear), truncation writes a small **truncation mark** over the first cut
//! batch's header and syncs it; that write is the commit point. The mark:
//!
//! | bytes | field                                           |
//! |-------|-------------------------------------------------|
//! | 0–7   | the cut offset (the new log end)                |
//! | 8–11  | -1 (an impossible batchLength: never a batch)   |
//! | 12–15 | `TRNC`                                          |
//! | 16–23 | the log end before the cut (`stale_below`)      |
//! | 24–27 | the overwritten header's batchLength            |
//!
//! Rules that keep a cut batch from ever being served again:
//! - a slot with a mark is **sealed**: recovery ends it at the mark (no
//!   resync past it, whatever the checkpoint says) and nothing is appended
//!   into it again; the next append moves to another slot;
//! - the first index entry at or past the mark is zeroed before the mark is
//!   written, so an older checkpoint can never start recovery beyond it;
//! - later slots (and the cut slot when the cut is at its byte 0) get a mark
//!   at byte 0 and are freed. A free slot whose mark says it holds offsets
//!   at or above the log end is **tainted**: before it is used again, one
//!   byte of each stale batch header (the magic) is overwritten and synced,
//!   so stale batches can never pass. Free slots are tainted only after a
//!   truncation, and used clean ones are preferred;
//! - at open, a sealed slot not followed by a slot starting at its cut
//!   offset means the truncation was cut short by a crash: the later slots
//!   are freed as above, finishing it.

use super::backend::{Backend, FileId};
use super::batch;
use super::index::{self, INDEX_ENTRY_LEN};
use super::ring::{Checkpoint, Ring, Slot};

/// Bytes of a truncation mark.
pub const MARK_LEN: usize = 28;
const MARK_TAG: [u8; 4] = *b"TRNC";
/// A mark whose job is done (its slot was sanitized): skipped when
/// following stale batches, never honoured.
const SPENT_TAG: [u8; 4] = *b"TRNX";

/// A truncation mark, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The cut offset: the log end the truncation left.
    pub offset: u64,
    /// The log end before the truncation: stale batches behind the mark
    /// (and in slots it freed) carry offsets below this.
    pub stale_below: u64,
    /// The batchLength of the header the mark overwrote (-1 if none).
    pub old_len: i32,
}

impl Mark {
    pub fn encode(&self) -> [u8; MARK_LEN] {
        let mut b = [0u8; MARK_LEN];
        b[..8].copy_from_slice(&self.offset.to_be_bytes());
        b[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        b[12..16].copy_from_slice(&MARK_TAG);
        b[16..24].copy_from_slice(&self.stale_below.to_be_bytes());
        b[24..28].copy_from_slice(&self.old_len.to_be_bytes());
        b
    }
    /// A live mark; `None` for anything else (a spent mark included).
    pub fn decode(b: &[u8; MARK_LEN]) -> Option<Self> {
        Self::decode_any(b)
            .filter(|(_, live)| *live)
            .map(|(m, _)| m)
    }

    /// A live or spent mark, and whether it is live.
    fn decode_any(b: &[u8; MARK_LEN]) -> Option<(Self, bool)> {
        let field = |r: core::ops::Range<usize>| b.get(r);
        let len = field(8..12)?;
        let tag = field(12..16)?;
        if len != (-1i32).to_be_bytes() || (tag != MARK_TAG && tag != SPENT_TAG) {
            return None;
        }
        let u64_at = |at: usize| -> Option<u64> {
            let mut x = [0u8; 8];
            x.copy_from_slice(b.get(at..at + 8)?);
            Some(u64::from_be_bytes(x))
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(field(24..28)?);
        let mark = Mark {
            offset: u64_at(0)?,
            stale_below: u64_at(16)?,
            old_len: i32::from_be_bytes(l),
        };
        Some((mark, tag == MARK_TAG))
    }
}

/// Reads the mark at `pos` of a slot's log, if there is one.
pub(crate) fn mark_at<B: Backend>(
    b: &mut B,
    segment_bytes: u32,
    slot: u16,
    pos: u32,
) -> Result<Option<Mark>, B::Error> {
    if pos as u64 + MARK_LEN as u64 > segment_bytes as u64 {
        return Ok(None);
    }
    let mut buf = [0u8; MARK_LEN];
    b.read_at(FileId::log(slot), pos as u64, &mut buf)?;
    Ok(Mark::decode(&buf))
}

/// Writes a mark over byte 0 of `slot` (keeping the batchLength it
/// overwrites), syncs it and frees the slot.
pub(crate) fn free_with_mark<B: Backend>(
    b: &mut B,
    slot: u16,
    offset: u64,
    stale_below: u64,
) -> Result<(), B::Error> {
    let mut head = [0u8; MARK_LEN];
    b.read_at(FileId::log(slot), 0, &mut head)?;
    let old_len = match Mark::decode_any(&head) {
        Some((m, _)) => m.old_len,
        None => {
            let mut len = [0u8; 4];
            b.read_at(
                FileId::log(slot),
                batch::BATCH_LENGTH.start as u64,
                &mut len,
            )?;
            i32::from_be_bytes(len)
        }
    };
    let mark = Mark {
        offset,
        stale_below,
        old_len,
    };
    b.write_at(FileId::log(slot), 0, &mark.encode())?;
    b.sync(FileId::log(slot))?;
    b.relabel(slot, None)
}

/// Makes every stale batch of a slot unable to pass recovery before the
/// slot gets a base its stale offsets could reach. Stale batches of several
/// earlier lives lie in a slot, not all reachable by following lengths, so
/// the whole slot is read once: every byte position that parses as a batch
/// header gets its magic byte overwritten (one byte per batch), and every
/// live mark but the one at byte 0 is spent. Synced; then the mark at byte
/// 0, which says the slot is tainted until this is done, is spent and
/// synced. Runs only when a slot a truncation left tainted is used again.
pub(crate) fn sanitize<B: Backend>(
    b: &mut B,
    segment_bytes: u32,
    slot: u16,
) -> Result<(), B::Error> {
    const CHUNK: usize = 4096;
    let seg = segment_bytes as usize;
    let mut buf = [0u8; CHUNK];
    let mut at = 0usize;
    while at + MARK_LEN <= seg {
        let n = (seg - at).min(CHUNK);
        let chunk = &mut buf[..n];
        b.read_at(FileId::log(slot), at as u64, chunk)?;
        let last = at + n == seg;
        for i in 0..n {
            let pos = (at + i) as u64;
            if let Some(head) = chunk
                .get(i..i + batch::HEADER_LEN)
                .and_then(|s| <&[u8; batch::HEADER_LEN]>::try_from(s).ok())
                && head.get(batch::MAGIC) == Some(&batch::MAGIC_V2)
                && batch::BatchHeader::parse(head).is_ok()
            {
                b.write_at(FileId::log(slot), pos + batch::MAGIC as u64, &[0])?;
            } else if pos > 0
                && let Some(m) = chunk
                    .get(i..i + MARK_LEN)
                    .and_then(|s| <&[u8; MARK_LEN]>::try_from(s).ok())
                && Mark::decode(m).is_some()
            {
                b.write_at(FileId::log(slot), pos + 12, &SPENT_TAG)?;
            }
        }
        if last || n <= batch::HEADER_LEN {
            break;
        }
        at += n - batch::HEADER_LEN + 1;
    }
    b.sync(FileId::log(slot))?;
    if mark_at(b, segment_bytes, slot, 0)?.is_some() {
        b.write_at(FileId::log(slot), 12, &SPENT_TAG)?;
        b.sync(FileId::log(slot))?;
    }
    Ok(())
}

impl<B: Backend> Ring<B> {
    /// Cuts the log back so that `offset` is the log end: every batch whose
    /// last offset is ≥ `offset` is removed (a batch holding `offset` goes
    /// whole, so the new log end may be below `offset`). Durable when it
    /// returns (see the module doc); returns the checkpoint to persist.
    /// Offsets below the log start cut everything.
    pub fn truncate_to(&mut self, offset: u64) -> Result<Checkpoint, B::Error> {
        if offset >= self.next_offset {
            return self.checkpoint();
        }
        let stale_below = self.next_offset;
        let seg = self.cfg.segment_bytes;
        // The first cut batch: slot position in `order`, byte, offset.
        let mut cut: Option<(usize, u32, u64)> = None;
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            let Some((base, next, size)) = self.slot(n).map(|s| (s.base, s.next, s.size)) else {
                continue;
            };
            if next <= offset && size > 0 {
                continue;
            }
            cut = Some(match self.first_batch_reaching(n, offset)? {
                Some((0, _)) => (i, 0, base),
                Some((pos, first)) => (i, pos, first.min(offset)),
                // An empty slot goes whole.
                None if size == 0 => (i, 0, base),
                // Only a gap reaches `offset`: the log simply ends there.
                None => (i, size, offset),
            });
            break;
        }
        let Some((i, pos, new_end)) = cut else {
            return self.checkpoint();
        };
        let Some(&a) = self.order.get(i) else {
            return self.checkpoint();
        };
        // 1. Index entries from the cut on can no longer lead recovery past it.
        let entries = self.slot(a).map(|s| s.entries).unwrap_or(0);
        let keep = index::entries_before(&mut self.backend, a, entries, pos)?;
        if pos > 0 && keep < entries {
            self.backend.write_at(
                FileId::index(a),
                keep as u64 * INDEX_ENTRY_LEN,
                &[0u8; INDEX_ENTRY_LEN as usize],
            )?;
            self.backend.sync(FileId::index(a))?;
        }
        // 2. The commit point: the mark over the first cut header.
        if pos > 0 {
            let mut len = [0u8; 4];
            if pos as u64 + batch::LOG_OVERHEAD as u64 <= seg as u64 {
                self.backend.read_at(
                    FileId::log(a),
                    pos as u64 + batch::BATCH_LENGTH.start as u64,
                    &mut len,
                )?;
            }
            let stale = self.stale_of(a).max(stale_below);
            if let Some(t) = self.stale_below.get_mut(a as usize) {
                *t = stale;
            }
            let mark = Mark {
                offset: new_end,
                stale_below: stale,
                old_len: i32::from_be_bytes(len),
            };
            if pos as u64 + MARK_LEN as u64 <= seg as u64 {
                self.backend
                    .write_at(FileId::log(a), pos as u64, &mark.encode())?;
            }
            self.backend.sync(FileId::log(a))?;
        }
        // 3. Later slots (and the cut slot when cut at byte 0), newest first.
        let first_freed = if pos == 0 { i } else { i + 1 };
        while self.order.len() > first_freed {
            let Some(n) = self.order.pop() else { break };
            let base = self.slot(n).map(|s| s.base).unwrap_or(new_end);
            let stale = self.stale_of(n).max(stale_below);
            free_with_mark(&mut self.backend, n, base, stale)?;
            if let Some(s) = self.slots.get_mut(n as usize) {
                *s = None;
            }
            if let Some(t) = self.stale_below.get_mut(n as usize) {
                *t = stale;
            }
        }
        // 4. The cut slot, sealed at the mark.
        if pos > 0
            && let Some(s) = self.slot_mut(a)
        {
            trim(s, pos, new_end, keep);
        }
        self.next_offset = new_end;
        self.synced_offset = self.synced_offset.min(new_end);
        self.checkpoint()
    }

    /// Offsets below which slot `n`'s stale batches lie (0: none above its base).
    pub(crate) fn stale_of(&self, n: u16) -> u64 {
        self.stale_below.get(n as usize).copied().unwrap_or(0)
    }

    /// Readies slot `n` (free, or the oldest about to be recycled) for base
    /// `base`: when its stale batches could carry offsets at or above it,
    /// it gets a mark at byte 0 and is freed (so a crash leaves it known as
    /// tainted), then is sanitized.
    pub(crate) fn make_clean_for(&mut self, n: u16, base: u64) -> Result<(), B::Error> {
        let stale = self.stale_of(n);
        if stale <= base {
            return Ok(());
        }
        let seg = self.cfg.segment_bytes;
        if let Some(label) = self.backend.label(n) {
            free_with_mark(&mut self.backend, n, label, stale)?;
        }
        sanitize(&mut self.backend, seg, n)?;
        if let Some(t) = self.stale_below.get_mut(n as usize) {
            *t = 0;
        }
        Ok(())
    }

    /// The position and base offset of the first batch of slot `n` whose
    /// last offset is ≥ `offset`.
    fn first_batch_reaching(
        &mut self,
        n: u16,
        offset: u64,
    ) -> Result<Option<(u32, u64)>, B::Error> {
        let Some(s) = self.slot(n) else {
            return Ok(None);
        };
        let (mut pos, mut expected, size) = (0u32, s.base, s.size);
        while pos < size {
            let hole = self.slot(n).and_then(|s| s.hole_at(pos).copied());
            if let Some(h) = hole {
                if h.next_offset > offset {
                    return Ok(Some((pos, h.first_offset)));
                }
                (pos, expected) = (h.end, h.next_offset);
                continue;
            }
            let Some(h) = super::scan::header_at(&mut self.backend, &self.cfg, n, pos)? else {
                return Ok(Some((pos, expected)));
            };
            if h.last_offset() as u64 >= offset {
                return Ok(Some((pos, (h.base_offset as u64).max(expected))));
            }
            pos += h.total_len() as u32;
            expected = h.last_offset() as u64 + 1;
        }
        Ok(None)
    }
}

/// The in-memory side of sealing a slot at `pos`.
fn trim(s: &mut Slot, pos: u32, new_end: u64, keep: u32) {
    s.size = pos;
    s.next = new_end;
    s.sealed = true;
    s.entries = keep;
    if let Some(list) = s.epochs.as_mut() {
        list.retain(|&(_, start)| start < new_end);
    }
    s.holes.retain(|h| h.start < pos);
    for h in s.holes.iter_mut() {
        h.end = h.end.min(pos);
    }
    let ranges = s.verified.clone();
    s.verified.clear();
    for (a, b) in ranges {
        s.mark_verified(a, b.min(pos));
    }
}
