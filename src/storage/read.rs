//! The read path: serving batches, checking each one the first time.
//!
//! Recovery does not re-read what the checkpoint trusts (a restart with a
//! GiB of log must stay under a second on an SD card), so bytes below a
//! slot's recovery start have not been checked since open. Each slot keeps
//! the byte ranges it has checked (`Slot::verified`: everything appended
//! since open, everything recovery scanned, everything read since). A batch
//! outside them is CRC-checked, and its base offset compared with the one
//! expected there, before it is handed out.
//!
//! A batch that fails becomes a quarantined hole, found and reported once
//! ([`Ring::take_quarantined`]): its end is found as recovery finds it
//! (`scan::find_next_valid`), batches before and after it are served, and
//! the hole goes into the next checkpoint. A read at an offset inside a hole
//! gets the next valid batch after it: clients see an offset gap, which they
//! handle as in compacted topics (Kafka's consumers skip to the batch's base
//! offset). Index entries are hints: the batch an entry points at must carry
//! the entry's offset (and check out) or an earlier entry is used.
//!
//! Reads take an explicit upper bound (`limit`): consumers pass the high
//! watermark, replicas the log end. No batch whose base offset is at or
//! above the bound is served.

use heapless::Vec as HVec;

use super::backend::{Backend, FileId};
use super::batch::BatchHeader;
use super::index;
use super::ring::{Hole, Quarantine, ReadError, Ring, Span};
use super::scan;

/// Up to where a read may serve (read isolation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLimit {
    /// Consumers: only what is committed, below the high watermark.
    HighWatermark(u64),
    /// Replicas: everything appended, up to the log end.
    LogEnd,
}

/// How thoroughly [`Ring::next_valid`] checks an unchecked batch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// CRC and offset: the batch's bytes will be served.
    Crc,
    /// Header and offset only: only header fields will be used.
    Header,
}

impl<B: Backend> Ring<B> {
    /// The first batch of slot `n` at or after `pos` that passes `check`,
    /// quarantining any that fail on the way. `pos` must be a known batch
    /// boundary (slot start, end of a checked batch or of a hole, a checked
    /// index entry) whose batch should start at offset `expected`.
    fn next_valid(
        &mut self,
        n: u16,
        mut pos: u32,
        mut expected: u64,
        check: Check,
    ) -> Result<Option<(u32, BatchHeader)>, B::Error> {
        loop {
            let Some(s) = self.slot(n) else {
                return Ok(None);
            };
            if let Some(h) = s.hole_at(pos) {
                (pos, expected) = (h.end, h.next_offset);
                continue;
            }
            if let Some(g) = s.gap_at(pos, expected) {
                expected = g.next_offset;
            }
            let (size, slot_next) = (s.size, s.next);
            if pos >= size {
                return Ok(None);
            }
            let bound = match check {
                Check::Crc => s.verified_end(pos),
                Check::Header => Some(size),
            };
            if let Some(bound) = bound
                && let Some(h) = scan::header_at(&mut self.backend, &self.cfg, n, pos)?
                && h.base_offset as u64 == expected
                && (h.last_offset() as u64) < slot_next
                && pos as u64 + h.total_len() as u64 <= bound as u64
            {
                return Ok(Some((pos, h)));
            }
            // Ours: the offset expected here, and no offset the slot does
            // not hold (a batch running into the next slot's is damage).
            let ours = |h: &BatchHeader| {
                h.base_offset as u64 == expected && (h.last_offset() as u64) < slot_next
            };
            let checked = scan::check_batch(&mut self.backend, &self.cfg, n, pos, ours)?
                .filter(|h| pos as u64 + h.total_len() as u64 <= size as u64);
            if let Some(h) = checked {
                if let Some(s) = self.slot_mut(n) {
                    s.mark_verified(pos, pos + h.total_len() as u32);
                }
                return Ok(Some((pos, h)));
            }
            self.quarantine(n, pos, expected)?;
        }
    }

    /// Makes the failed batch at `pos` (expected at offset `expected`) a hole
    /// reaching to the next valid batch of the slot, or to its end.
    fn quarantine(&mut self, n: u16, pos: u32, expected: u64) -> Result<(), B::Error> {
        let Some(s) = self.slot(n) else {
            return Ok(());
        };
        let (base, size, next, entries) = (s.base, s.size, s.next, s.entries);
        let found = scan::find_next_valid(
            &mut self.backend,
            &self.cfg,
            n,
            base,
            pos,
            expected,
            Some(next),
            Some(next),
            size,
            entries,
        )?;
        let (end, next_offset) = match found {
            Some((p, h)) => (p, h.base_offset as u64),
            None => (size, next),
        };
        let hole = Hole {
            start: pos,
            end,
            first_offset: expected,
            next_offset,
        };
        if let Some(s) = self.slot_mut(n) {
            s.add_hole(hole);
        }
        self.quarantined.note(Quarantine {
            slot: n,
            slot_base: base,
            start: pos,
            end,
            first_offset: expected,
            next_offset,
        });
        Ok(())
    }

    /// Where to start looking for relative offset `rel` in slot `n`: the
    /// last index entry at or below it that points at a batch with its
    /// offset, else the slot start. Returns (position, expected offset).
    fn start_for(&mut self, n: u16, rel: u32) -> Result<(u32, u64), B::Error> {
        let Some(s) = self.slot(n) else {
            return Ok((0, 0));
        };
        let (base, entries, size) = (s.base, s.entries, s.size);
        let mut k = index::floor_index(&mut self.backend, n, entries, rel)?;
        while let Some(i) = k.filter(|&i| i > 0) {
            let e = index::read_entry(&mut self.backend, n, i)?;
            let Some(want) = index::offset_of(base, e) else {
                k = Some(i - 1);
                continue;
            };
            let in_hole = self.slot(n).and_then(|s| s.hole_at(e.pos)).is_some();
            if e.rel <= rel
                && e.pos < size
                && !in_hole
                && let Some(h) = scan::header_at(&mut self.backend, &self.cfg, n, e.pos)?
                && h.base_offset as u64 == want
            {
                return Ok((e.pos, want));
            }
            k = Some(i - 1);
        }
        Ok((0, base))
    }

    /// Calls `f` with the header of every batch whose base offset is at least
    /// `from`, oldest first, across every slot (idempotent-producer state is
    /// rebuilt from them at open). Headers are checked for place and offset;
    /// damage is quarantined.
    pub fn for_each_header_from(
        &mut self,
        from: u64,
        mut f: impl FnMut(&BatchHeader),
    ) -> Result<(), ReadError<B::Error>> {
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            let Some(s) = self.slot(n) else { continue };
            if s.next <= from || s.size == 0 {
                continue;
            }
            // `from < s.next` and a slot spans at most u32::MAX offsets.
            let rel = from.saturating_sub(s.base).min(u32::MAX as u64) as u32;
            let (mut pos, mut expected) = self.start_for(n, rel).map_err(ReadError::Io)?;
            while let Some((p, h)) = self
                .next_valid(n, pos, expected, Check::Header)
                .map_err(ReadError::Io)?
            {
                if h.base_offset as u64 >= from {
                    f(&h);
                }
                pos = p + h.total_len() as u32;
                expected = h.last_offset() as u64 + 1;
            }
        }
        Ok(())
    }

    /// Whole batches starting with the one that contains `offset`, at most
    /// `max_bytes` long unless the first batch alone is longer (Kafka returns
    /// it whole), up to the log end (a replica's read). `Ok(None)` when
    /// `offset` is the log end offset.
    pub fn read(
        &mut self,
        offset: u64,
        max_bytes: u32,
    ) -> Result<Option<Span>, ReadError<B::Error>> {
        self.read_upto(offset, max_bytes, ReadLimit::LogEnd)
    }

    /// A consumer's read: as [`Ring::read`] up to the high watermark `hw`.
    pub fn read_below(
        &mut self,
        offset: u64,
        max_bytes: u32,
        hw: u64,
    ) -> Result<Option<Span>, ReadError<B::Error>> {
        self.read_upto(offset, max_bytes, ReadLimit::HighWatermark(hw))
    }

    /// As [`Ring::read`], isolated by `limit`: no batch whose base offset is
    /// at or above the bound is served (a batch below it is served whole;
    /// the bound is at a batch boundary when it is a high watermark or the
    /// log end). An `offset` above the bound is out of range, with the bound
    /// as the log end; at the bound, `Ok(None)`.
    pub fn read_upto(
        &mut self,
        offset: u64,
        max_bytes: u32,
        limit: ReadLimit,
    ) -> Result<Option<Span>, ReadError<B::Error>> {
        let bound = match limit {
            ReadLimit::HighWatermark(hw) => hw.min(self.next_offset),
            ReadLimit::LogEnd => self.next_offset,
        };
        let log_start = self.log_start();
        if offset < log_start || offset > bound {
            return Err(ReadError::OffsetOutOfRange {
                offset,
                log_start,
                log_end: bound,
            });
        }
        let limit = bound;
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            let Some(s) = self.slot(n) else {
                continue;
            };
            if offset >= s.next || s.size == 0 {
                continue;
            }
            let from = offset.max(s.base);
            if let Some(span) = self
                .read_in_slot(n, from, max_bytes, limit)
                .map_err(ReadError::Io)?
            {
                return Ok(Some(span).filter(|sp| sp.first_offset < limit));
            }
        }
        Ok(None)
    }

    fn read_in_slot(
        &mut self,
        n: u16,
        offset: u64,
        max_bytes: u32,
        limit: u64,
    ) -> Result<Option<Span>, B::Error> {
        let Some(base) = self.slot(n).map(|s| s.base) else {
            return Ok(None);
        };
        let rel = u32::try_from(offset - base).unwrap_or(u32::MAX);
        let (mut pos, mut expected) = self.start_for(n, rel)?;
        // The batch containing `offset`, or the first one after a hole.
        let (start, first) = loop {
            let Some((p, h)) = self.next_valid(n, pos, expected, Check::Crc)? else {
                return Ok(None);
            };
            if h.last_offset() as u64 >= offset {
                break (p, h);
            }
            pos = p + h.total_len() as u32;
            expected = h.last_offset() as u64 + 1;
        };
        let mut end = start + first.total_len() as u32;
        let mut next_offset = first.last_offset() as u64 + 1;
        while let Some(s) = self.slot(n) {
            if end >= s.size || s.hole_starting_at(end) {
                break;
            }
            let Some((p, h)) = self.next_valid(n, end, next_offset, Check::Crc)? else {
                break;
            };
            let len = h.total_len() as u32;
            if p != end
                || (end - start).saturating_add(len) > max_bytes
                || h.base_offset as u64 >= limit
            {
                break;
            }
            end += len;
            next_offset = h.last_offset() as u64 + 1;
        }
        Ok(Some(Span {
            slot: n,
            position: start,
            len: end - start,
            first_offset: first.base_offset as u64,
            next_offset,
        }))
    }

    /// Copies a span's bytes into `buf` (which must be `span.len` long).
    pub fn read_span(&mut self, span: &Span, buf: &mut [u8]) -> Result<(), B::Error> {
        self.backend
            .read_at(FileId::log(span.slot), span.position as u64, buf)
    }

    /// Kafka's OffsetForLeaderEpoch: for `epoch`, the largest epoch ≤ it
    /// that the log holds and the offset where the next higher epoch starts
    /// (the log end when `epoch` is the latest). `None` (Kafka's undefined
    /// epoch and offset) when `epoch` is above every epoch the log holds or
    /// the log is empty; an epoch below all of them answers itself and the
    /// first epoch's start. Epochs come from the batches' headers: kept on
    /// append, read once per slot after open.
    pub fn end_offset_for_epoch(&mut self, epoch: i32) -> Result<Option<(i32, u64)>, B::Error> {
        let mut floor: Option<i32> = None;
        let mut higher: Option<u64> = None;
        let mut latest: Option<i32> = None;
        for i in 0..self.order.len() {
            let Some(&n) = self.order.get(i) else { break };
            self.learn_epochs(n)?;
            let Some(list) = self.slot(n).and_then(|s| s.epochs.as_ref()) else {
                continue;
            };
            for &(e, start) in list.iter() {
                if latest.is_some_and(|l| e <= l) {
                    continue;
                }
                latest = Some(e);
                if e <= epoch {
                    floor = Some(e);
                } else if higher.is_none() {
                    higher = Some(start);
                }
            }
        }
        if latest == Some(epoch) {
            return Ok(Some((epoch, self.next_offset)));
        }
        Ok(higher.map(|start| (floor.unwrap_or(epoch), start)))
    }

    /// Reads slot `n`'s epochs from its batch headers if not known yet.
    fn learn_epochs(&mut self, n: u16) -> Result<(), B::Error> {
        let Some(s) = self.slot(n) else {
            return Ok(());
        };
        if s.epochs.is_some() {
            return Ok(());
        }
        let (mut pos, mut expected) = (0, s.base);
        if let Some(s) = self.slot_mut(n) {
            s.epochs = Some(HVec::new());
        }
        while let Some((p, h)) = self.next_valid(n, pos, expected, Check::Header)? {
            if let Some(s) = self.slot_mut(n) {
                s.note_epoch(h.partition_leader_epoch, h.base_offset as u64);
            }
            pos = p + h.total_len() as u32;
            expected = h.last_offset() as u64 + 1;
        }
        Ok(())
    }

    /// Base offset of the first batch whose max timestamp is ≥ `ts`
    /// (ListOffsets by time), or `None` if no batch reaches `ts`.
    pub fn offset_for_time(&mut self, ts: i64) -> Result<Option<u64>, B::Error> {
        let mut order: HVec<u16, { super::ring::MAX_SLOTS }> = HVec::new();
        let _ = order.extend_from_slice(&self.order);
        for &n in order.iter() {
            let Some(s) = self.slot(n) else {
                continue;
            };
            if s.max_ts < ts || s.size == 0 {
                continue;
            }
            let (base, entries) = (s.base, s.entries);
            let (mut pos, mut expected) = (0, base);
            if let Some(k) = index::last_time_entry_below(&mut self.backend, n, entries, ts)? {
                let e = index::read_entry(&mut self.backend, n, k)?;
                let hint = index::offset_of(base, e);
                let in_hole = self.slot(n).and_then(|s| s.hole_at(e.pos)).is_some();
                if let Some(hint) = hint
                    && !in_hole
                    && let Some(h) = scan::header_at(&mut self.backend, &self.cfg, n, e.pos)?
                    && h.base_offset as u64 == hint
                {
                    (pos, expected) = (e.pos, hint);
                }
            }
            while let Some((p, h)) = self.next_valid(n, pos, expected, Check::Header)? {
                if h.max_timestamp >= ts {
                    return Ok(Some(h.base_offset as u64));
                }
                pos = p + h.total_len() as u32;
                expected = h.last_offset() as u64 + 1;
            }
        }
        Ok(None)
    }
}
