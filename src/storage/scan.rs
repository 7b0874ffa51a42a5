//! Checking stored batches and finding the next good one after damage.
//!
//! Shared by recovery (at open) and the read path (for bytes not yet checked
//! since open). Nothing here trusts a byte: a batch counts only when its
//! header parses, it lies inside the slot, its CRC-32C matches and its base
//! offset is one the caller accepts. Index entries are hints: a batch found
//! through one is checked like any other.
//!
//! [`find_next_valid`] is how damage gets its end: the bad batch's own length
//! field, then later index entries, then (only when the caller knows more
//! data must follow, because a later slot or the checkpoint says so) a scan
//! byte by byte through the slot for a checked batch with an offset in the
//! expected range. Stale bytes of a recycled slot carry offsets below the
//! slot's base, so they never pass.

use super::backend::{Backend, FileId};
use super::batch::{self, BatchHeader};
use super::index;
use super::ring::RingConfig;

/// Bytes read at a time while checking a batch's CRC (stack buffer).
const CRC_CHUNK: usize = 2048;
/// Bytes read at a time while scanning for a batch header (stack buffer).
const SCAN_CHUNK: usize = 4096;

/// Reads and parses the header at `pos`, if it lies inside the slot.
pub(crate) fn header_at<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    pos: u32,
) -> Result<Option<BatchHeader>, B::Error> {
    if pos as u64 + batch::HEADER_LEN as u64 > cfg.segment_bytes as u64 {
        return Ok(None);
    }
    let mut head = [0u8; batch::HEADER_LEN];
    b.read_at(FileId::log(slot), pos as u64, &mut head)?;
    Ok(BatchHeader::parse(&head).ok())
}

/// Checks the batch at `pos`: in bounds, valid header, valid CRC, a
/// non-negative base offset, and offsets `accept` agrees with (it sees the
/// parsed header before the CRC is computed). Returns its header.
pub(crate) fn check_batch<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    pos: u32,
    accept: impl Fn(&BatchHeader) -> bool,
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
    if h.base_offset < 0 || !accept(&h) || pos as u64 + h.total_len() as u64 > seg {
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

/// Where damage at `pos` (a batch boundary whose batch should have had base
/// offset `expected`) ends: the next checked batch of this slot before byte
/// `end`, with a base offset above `expected` and, when `upper` is known,
/// below it; when `ends_below` is known (the next slot's base), its last
/// offset must be below that too, so a slot never claims offsets of the
/// next. `entries` bounds the index entries consulted. The byte scan
/// runs up to the first batch an index entry finds, or to `end` when
/// `upper` is known (more data must exist).
#[allow(clippy::too_many_arguments)]
pub(crate) fn find_next_valid<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    base: u64,
    pos: u32,
    expected: u64,
    upper: Option<u64>,
    ends_below: Option<u64>,
    end: u32,
    entries: u32,
) -> Result<Option<(u32, BatchHeader)>, B::Error> {
    let fits = |h: &BatchHeader| ends_below.is_none_or(|e| (h.last_offset() as u64) < e);
    let in_range = |h: &BatchHeader| {
        let o = h.base_offset as u64;
        o > expected && upper.is_none_or(|u| o < u) && fits(h)
    };
    // 0. A valid batch right here with a later offset, when offsets up to
    //    `upper` are known to exist: only offsets are missing (a gap). Not
    //    otherwise: a torn write of `baseOffset` over a stale batch looks
    //    the same.
    if upper.is_some()
        && let Some(h) = check_batch(b, cfg, slot, pos, in_range)?
    {
        return Ok(Some((pos, h)));
    }
    // 1. The bad batch's own length field, if its header still parses.
    if let Some(h) = header_at(b, cfg, slot, pos)? {
        let next = pos as u64 + h.total_len() as u64;
        if next < end as u64
            && let Some(h2) = check_batch(b, cfg, slot, next as u32, in_range)?
        {
            return Ok(Some((next as u32, h2)));
        }
    }
    // 2. The first later index entry that points at a valid batch.
    let mut hit = None;
    for k in 0..entries {
        let e = index::read_entry(b, slot, k)?;
        if k > 0 && e.rel == 0 && e.pos == 0 {
            break;
        }
        let Some(want) = index::offset_of(base, e) else {
            continue;
        };
        if e.pos > pos
            && e.pos < end
            && let Some(h) = check_batch(b, cfg, slot, e.pos, |h| {
                h.base_offset as u64 == want && in_range(h)
            })?
        {
            hit = Some((e.pos, h));
            break;
        }
    }
    // 3. Every byte position before that entry's batch (entries are sparse:
    //    intact batches may lie between), or to the end when data is known
    //    to follow.
    let scan_end = hit.map(|(p, _)| p).or(upper.map(|_| end));
    if let Some(scan_end) = scan_end
        && let Some(found) = byte_scan(b, cfg, slot, pos.saturating_add(1), scan_end, in_range)?
    {
        return Ok(Some(found));
    }
    Ok(hit)
}

/// The first checked batch starting in `from..end` whose base offset
/// `accept` agrees with.
fn byte_scan<B: Backend>(
    b: &mut B,
    cfg: &RingConfig,
    slot: u16,
    from: u32,
    end: u32,
    accept: impl Fn(&BatchHeader) -> bool,
) -> Result<Option<(u32, BatchHeader)>, B::Error> {
    let end = end.min(cfg.segment_bytes);
    let mut buf = [0u8; SCAN_CHUNK];
    let mut at = from;
    while at as usize + batch::HEADER_LEN <= end as usize {
        let n = ((end - at) as usize).min(SCAN_CHUNK);
        let chunk = &mut buf[..n];
        b.read_at(FileId::log(slot), at as u64, chunk)?;
        let starts = n - batch::HEADER_LEN + 1;
        for i in 0..starts {
            if chunk.get(i + batch::MAGIC) != Some(&batch::MAGIC_V2) {
                continue;
            }
            let Some(head) = chunk
                .get(i..i + batch::HEADER_LEN)
                .and_then(|s| <&[u8; batch::HEADER_LEN]>::try_from(s).ok())
            else {
                continue;
            };
            let Ok(h) = BatchHeader::parse(head) else {
                continue;
            };
            if h.base_offset < 0 || !accept(&h) {
                continue;
            }
            let p = at + i as u32;
            if let Some(h) = check_batch(b, cfg, slot, p, &accept)? {
                return Ok(Some((p, h)));
            }
        }
        at += starts as u32;
    }
    Ok(None)
}
