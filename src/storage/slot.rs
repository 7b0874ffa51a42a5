//! One slot's in-memory state, and the quarantine records.
//!
//! A `Slot` is what the ring knows about a used slot: its offsets and
//! size, its index count, its quarantined [`Hole`]s (a hole of no bytes is a
//! gap: offsets missing before a batch), the byte ranges checked since open,
//! whether a truncation sealed it, and its leader epochs. All of it lives in
//! fixed-size arrays: nothing here allocates. Each bound is a constant in
//! `ring`; past it, a hole grows to cover its neighbour, a checked range is
//! forgotten (checked again later) and the oldest epoch of the slot is
//! dropped.

use heapless::Vec as HVec;

use super::ring::{MAX_EPOCHS, MAX_HOLES, MAX_VERIFIED};

/// A quarantined byte range of a slot: never served. `start == end` is a
/// gap: offsets missing before the batch at `start`, no bytes lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hole {
    pub start: u32,
    pub end: u32,
    /// The offsets lost: `first_offset..next_offset`.
    pub first_offset: u64,
    pub next_offset: u64,
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
    /// Byte ranges whose batches were CRC-checked since open or written.
    pub verified: HVec<(u32, u32), MAX_VERIFIED>,
    /// Ends at a truncation mark: nothing is appended into it again.
    pub sealed: bool,
    /// Leader epochs of its batches: (epoch, first offset), epochs rising;
    /// `None` until read from the batch headers (after open).
    pub epochs: Option<HVec<(i32, u64), MAX_EPOCHS>>,
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
            verified: HVec::new(),
            sealed: false,
            epochs: Some(HVec::new()),
        }
    }
    /// Records that the batch at `offset` has leader epoch `epoch`. Epochs
    /// only rise; with [`MAX_EPOCHS`] known, the oldest of the slot is
    /// forgotten.
    pub(crate) fn note_epoch(&mut self, epoch: i32, offset: u64) {
        let Some(list) = self.epochs.as_mut() else {
            return;
        };
        if list.last().is_some_and(|&(e, _)| e >= epoch) {
            return;
        }
        if list.is_full() {
            list.remove(0);
        }
        let _ = list.push((epoch, offset));
    }
    pub(crate) fn hole_at(&self, pos: u32) -> Option<&Hole> {
        self.holes.iter().find(|h| h.start <= pos && pos < h.end)
    }
    pub(crate) fn hole_starting_at(&self, pos: u32) -> bool {
        self.holes.iter().any(|h| h.start == pos)
    }
    /// A gap (a hole of no bytes: offsets missing before the batch at
    /// `pos`) for a batch expected at `expected`.
    pub(crate) fn gap_at(&self, pos: u32, expected: u64) -> Option<&Hole> {
        self.holes
            .iter()
            .find(|h| h.start == pos && h.end == pos && h.first_offset == expected)
    }
    /// Quarantines `h`. When the slot already remembers [`MAX_HOLES`], the
    /// nearest hole grows to cover `h` too (and the bytes between them);
    /// returns false then.
    pub(crate) fn add_hole(&mut self, h: Hole) -> bool {
        if self.holes.push(h).is_ok() {
            return true;
        }
        let nearest = self
            .holes
            .iter_mut()
            .min_by_key(|o| o.start.abs_diff(h.start));
        if let Some(o) = nearest {
            *o = Hole {
                start: o.start.min(h.start),
                end: o.end.max(h.end),
                first_offset: o.first_offset.min(h.first_offset),
                next_offset: o.next_offset.max(h.next_offset),
            };
        }
        false
    }
    /// The end of the checked range holding `pos`, if any.
    pub(crate) fn verified_end(&self, pos: u32) -> Option<u32> {
        self.verified
            .iter()
            .find(|(a, b)| *a <= pos && pos < *b)
            .map(|(_, b)| *b)
    }
    /// Records `start..end` as checked, merging touching ranges. With no room
    /// left, the smallest range is forgotten (its batches get checked again).
    pub(crate) fn mark_verified(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut a, mut b) = (start, end);
        let mut i = 0;
        while i < self.verified.len() {
            match self.verified.get(i).copied() {
                Some((x, y)) if x <= b && a <= y => {
                    a = a.min(x);
                    b = b.max(y);
                    self.verified.swap_remove(i);
                }
                _ => i += 1,
            }
        }
        if self.verified.is_full() {
            let smallest = (0..self.verified.len())
                .min_by_key(|&k| self.verified.get(k).map(|(x, y)| y - x).unwrap_or(0));
            if let Some(k) = smallest {
                self.verified.swap_remove(k);
            }
        }
        let _ = self.verified.push((a, b));
    }
}

/// A quarantined range, as reported once to the shell: which slot (number
/// and base offset), which bytes of its `.log` file and which offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarantine {
    pub slot: u16,
    pub slot_base: u64,
    pub start: u32,
    pub end: u32,
    pub first_offset: u64,
    pub next_offset: u64,
}

/// Quarantines not yet taken by the shell (`Ring::take_quarantined`).
pub const MAX_PENDING_QUARANTINES: usize = 16;

/// Quarantines found since open: the ones not yet reported, and a count.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuarantineLog {
    pub pending: HVec<Quarantine, MAX_PENDING_QUARANTINES>,
    pub total: u64,
}

impl QuarantineLog {
    pub fn note(&mut self, q: Quarantine) {
        self.total += 1;
        let _ = self.pending.push(q);
    }
}
