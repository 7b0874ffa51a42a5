//! Sparse offset and time indexes of one slot, kept in the slot's own files.
//!
//! Entry `k` of both files describes the same batch, so they always have the
//! same number of entries:
//! - `.index`: `[relative offset u32][position u32]`, 8 bytes, big-endian;
//! - `.timeindex`: `[max timestamp so far i64][relative offset u32]`, 12 bytes.
//!
//! The first batch of a slot always has entry 0 (relative offset 0, position
//! 0); after that a batch gets an entry when it starts at least
//! `index.interval.bytes` after the previous entry's batch. So a slot of `S`
//! bytes needs at most `S / interval + 1` entries, which is the size the files
//! are preallocated to. Entries past the slot's live count are stale and never
//! read by lookups.

use super::backend::{Backend, FileId};

pub const INDEX_ENTRY_LEN: u64 = 8;
pub const TIME_ENTRY_LEN: u64 = 12;

/// One offset-index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub rel: u32,
    pub pos: u32,
}

impl IndexEntry {
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.rel.to_be_bytes());
        b[4..].copy_from_slice(&self.pos.to_be_bytes());
        b
    }
    pub fn decode(b: &[u8; 8]) -> Self {
        let [a0, a1, a2, a3, b0, b1, b2, b3] = *b;
        IndexEntry {
            rel: u32::from_be_bytes([a0, a1, a2, a3]),
            pos: u32::from_be_bytes([b0, b1, b2, b3]),
        }
    }
}

/// The offset entry `e` of a slot based at `base` names, or `None` when it
/// would pass `u64::MAX` (a damaged entry in a slot labelled near it).
pub fn offset_of(base: u64, e: IndexEntry) -> Option<u64> {
    base.checked_add(u64::from(e.rel))
}

/// One time-index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub max_ts: i64,
    pub rel: u32,
}

impl TimeEntry {
    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&self.max_ts.to_be_bytes());
        b[8..].copy_from_slice(&self.rel.to_be_bytes());
        b
    }
    pub fn decode(b: &[u8; 12]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        let mut rel = [0u8; 4];
        rel.copy_from_slice(&b[8..]);
        TimeEntry {
            max_ts: i64::from_be_bytes(ts),
            rel: u32::from_be_bytes(rel),
        }
    }
}

/// Entries a slot of `segment_bytes` can need with this interval.
pub fn max_entries(segment_bytes: u32, interval: u32) -> u64 {
    segment_bytes as u64 / interval.max(1) as u64 + 1
}

pub fn read_entry<B: Backend>(b: &mut B, slot: u16, k: u32) -> Result<IndexEntry, B::Error> {
    let mut buf = [0u8; 8];
    b.read_at(FileId::index(slot), k as u64 * INDEX_ENTRY_LEN, &mut buf)?;
    Ok(IndexEntry::decode(&buf))
}

pub fn read_time_entry<B: Backend>(b: &mut B, slot: u16, k: u32) -> Result<TimeEntry, B::Error> {
    let mut buf = [0u8; 12];
    b.read_at(
        FileId::time_index(slot),
        k as u64 * TIME_ENTRY_LEN,
        &mut buf,
    )?;
    Ok(TimeEntry::decode(&buf))
}

/// Writes entry `k` of both files, skipping writes of bytes already there
/// (recovery rebuilds indexes without rewriting flash it does not need to).
pub fn write_entries<B: Backend>(
    b: &mut B,
    slot: u16,
    k: u32,
    e: IndexEntry,
    t: TimeEntry,
    skip_if_equal: bool,
) -> Result<(), B::Error> {
    if skip_if_equal && read_entry(b, slot, k)? == e && read_time_entry(b, slot, k)? == t {
        return Ok(());
    }
    b.write_at(FileId::index(slot), k as u64 * INDEX_ENTRY_LEN, &e.encode())?;
    b.write_at(
        FileId::time_index(slot),
        k as u64 * TIME_ENTRY_LEN,
        &t.encode(),
    )
}

/// The number of the last of the first `count` entries whose relative
/// offset is ≤ `rel` (entry 0 has rel 0, so there is always one when
/// `count > 0`). Entries are hints: callers check the batch it points at.
pub fn floor_index<B: Backend>(
    b: &mut B,
    slot: u16,
    count: u32,
    rel: u32,
) -> Result<Option<u32>, B::Error> {
    if count == 0 {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0u32, count); // invariant: answer in [lo, hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if read_entry(b, slot, mid)?.rel <= rel {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

/// How many of the first `count` entries point before byte `pos`
/// (entries are in position order).
pub fn entries_before<B: Backend>(
    b: &mut B,
    slot: u16,
    count: u32,
    pos: u32,
) -> Result<u32, B::Error> {
    let (mut lo, mut hi) = (0u32, count); // answer in [lo, hi]
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if read_entry(b, slot, mid)?.pos < pos {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The last of the first `count` time entries whose max timestamp is < `ts`,
/// as an index into both files; `None` when even entry 0 reaches `ts`.
pub fn last_time_entry_below<B: Backend>(
    b: &mut B,
    slot: u16,
    count: u32,
    ts: i64,
) -> Result<Option<u32>, B::Error> {
    if count == 0 || read_time_entry(b, slot, 0)?.max_ts >= ts {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0u32, count);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if read_time_entry(b, slot, mid)?.max_ts < ts {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = IndexEntry {
            rel: 0xdead_beef,
            pos: 77,
        };
        assert_eq!(IndexEntry::decode(&e.encode()), e);
        let t = TimeEntry {
            max_ts: -5,
            rel: 12,
        };
        assert_eq!(TimeEntry::decode(&t.encode()), t);
    }

    #[test]
    fn max_entries_bounds_the_index() {
        assert_eq!(max_entries(16 << 20, 4096), 4097);
        assert_eq!(max_entries(100, 4096), 1);
    }
}
