//! Idempotent-producer state of one partition: per producer id, its epoch and
//! the last five batches' sequence ranges with their offsets (Kafka keeps the
//! same window, `max.in.flight.requests.per.connection` ≤ 5).
//!
//! Rules, as Kafka's broker applies them:
//! - an epoch older than the one known → `InvalidEpoch`;
//! - a newer epoch starts over (its first batch must have sequence 0);
//! - a batch equal to one in the window is a duplicate: it is not written
//!   again and gets its original base offset;
//! - otherwise the batch must start right after the last one (sequences wrap
//!   at i32::MAX), else `OutOfOrder`;
//! - a producer id this broker never handed out (at or above the
//!   InitProducerId counter, `producer_ids.rs`) never gets here: Produce
//!   refuses its batch with UNKNOWN_PRODUCER_ID (Kafka's "no record of this
//!   producer id") and no state is created for it;
//! - a handed-out id this partition has no state for (its first batch here,
//!   or its state expired) is accepted at any sequence and epoch. That is
//!   Kafka's rule since 2.5 (KIP-360: "if there is no current producer epoch,
//!   accept writes with any sequence number"); before 2.5 Kafka answered
//!   UNKNOWN_PRODUCER_ID at a sequence other than 0, which broke producers
//!   whose state retention had removed. pipit keeps state across restarts,
//!   so only expiry or eviction leaves a live producer without state.
//!
//! The state is bounded, as Kafka bounds it in time (`producer.id.expiration.ms`,
//! default one day) and pipit also in count ([`ProducerLimits`]): a producer
//! with no batch for the expiration time is forgotten (it counts as absent at
//! once and is removed by [`ProducerStates::expire`] and whenever room is
//! needed); when a new producer would exceed `producer.state.max.producers`,
//! the least recently used one is evicted. An expired or evicted producer's
//! next batch is treated as Kafka treats an expired producer's: no state, so
//! accepted at any sequence (a retry of a batch from before would be written
//! again, which is why the cap should sit well above the live producers).
//! Times are wall-clock milliseconds passed in by the caller; this module
//! reads no clock.
//!
//! The state survives restarts through the partition's snapshot
//! (`producer_snapshot.rs`): [`ProducerStates::saved`] and
//! [`ProducerStates::restore`] convert it, and the batches written after the
//! snapshot are replayed with [`ProducerStates::record`].

use std::collections::HashMap;

use super::producer_snapshot::{SavedBatch, SavedProducer};

/// Batches remembered per producer (Kafka's window).
pub const WINDOW: usize = 5;

/// Kafka's default `producer.id.expiration.ms`: one day.
pub const DEFAULT_EXPIRATION_MS: u64 = 86_400_000;
/// Default `producer.state.max.producers` (per partition; ~100 bytes each).
pub const DEFAULT_MAX_PRODUCERS: usize = 1000;

/// How much producer state a partition keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerLimits {
    /// `producer.id.expiration.ms`: forget a producer idle this long.
    pub expiration_ms: u64,
    /// `producer.state.max.producers`: at most this many per partition.
    pub max_producers: usize,
}

impl Default for ProducerLimits {
    fn default() -> Self {
        ProducerLimits {
            expiration_ms: DEFAULT_EXPIRATION_MS,
            max_producers: DEFAULT_MAX_PRODUCERS,
        }
    }
}

/// One remembered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Entry {
    first_seq: i32,
    last_seq: i32,
    base_offset: u64,
}

/// One producer: its epoch, its window inline (oldest first; no allocation
/// per producer) and when it last wrote.
#[derive(Debug, Clone, Copy, Default)]
struct Producer {
    epoch: i16,
    len: u8,
    batches: [Entry; WINDOW],
    last_ms: i64,
}

impl Producer {
    fn window(&self) -> &[Entry] {
        &self.batches[..(self.len as usize).min(WINDOW)]
    }
    fn push(&mut self, e: Entry) {
        if self.len as usize == WINDOW {
            self.batches.copy_within(1.., 0);
            self.batches[WINDOW - 1] = e;
        } else {
            self.batches[self.len as usize] = e;
            self.len += 1;
        }
    }
}

/// What to do with a batch from an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// Write it.
    Append,
    /// Already written at this base offset: answer with it, write nothing.
    Duplicate { base_offset: u64 },
    /// The producer's epoch is older than the partition's.
    InvalidEpoch { current: i16 },
    /// The sequence does not follow the last batch.
    OutOfOrder { expected: i32, got: i32 },
}

/// The idempotence state of a partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, Producer>,
    limits: ProducerLimits,
}

fn next_seq(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

impl ProducerStates {
    pub fn new(limits: ProducerLimits) -> Self {
        ProducerStates {
            producers: HashMap::new(),
            limits,
        }
    }

    pub fn limits(&self) -> ProducerLimits {
        self.limits
    }

    fn expired(&self, p: &Producer, now_ms: i64) -> bool {
        now_ms.saturating_sub(p.last_ms) as i128 >= self.limits.expiration_ms as i128
    }

    /// The live state of `pid` at `now_ms` (an expired producer has none).
    fn live(&self, pid: i64, now_ms: i64) -> Option<&Producer> {
        self.producers
            .get(&pid)
            .filter(|p| !self.expired(p, now_ms))
    }

    /// Checks a batch `[first_seq, first_seq + records - 1]` of `pid`/`epoch` at `now_ms`.
    pub fn check(
        &self,
        pid: i64,
        epoch: i16,
        first_seq: i32,
        records: i32,
        now_ms: i64,
    ) -> SeqCheck {
        let Some(p) = self.live(pid, now_ms) else {
            return SeqCheck::Append;
        };
        if epoch < p.epoch {
            return SeqCheck::InvalidEpoch { current: p.epoch };
        }
        if epoch > p.epoch {
            return if first_seq == 0 {
                SeqCheck::Append
            } else {
                SeqCheck::OutOfOrder {
                    expected: 0,
                    got: first_seq,
                }
            };
        }
        let last_seq = last_of(first_seq, records);
        if let Some(e) = p
            .window()
            .iter()
            .find(|e| e.first_seq == first_seq && e.last_seq == last_seq)
        {
            return SeqCheck::Duplicate {
                base_offset: e.base_offset,
            };
        }
        match p.window().last() {
            Some(last) if next_seq(last.last_seq) != first_seq => SeqCheck::OutOfOrder {
                expected: next_seq(last.last_seq),
                got: first_seq,
            },
            _ => SeqCheck::Append,
        }
    }

    /// Records a written batch of `pid` at `at_ms` (making room first for a
    /// producer not known yet: the expired go, then the least recently used).
    pub fn record(
        &mut self,
        pid: i64,
        epoch: i16,
        first_seq: i32,
        records: i32,
        base_offset: u64,
        at_ms: i64,
    ) {
        let known = self.live(pid, at_ms).is_some();
        if !known {
            self.producers.remove(&pid);
            self.make_room(at_ms);
        }
        let p = self.producers.entry(pid).or_insert(Producer {
            epoch,
            ..Producer::default()
        });
        if epoch != p.epoch {
            p.epoch = epoch;
            p.len = 0;
        }
        p.push(Entry {
            first_seq,
            last_seq: last_of(first_seq, records),
            base_offset,
        });
        p.last_ms = p.last_ms.max(at_ms);
    }

    /// Room for one more producer under `max_producers`: one scan finds the
    /// least recently used; if even it is expired, every expired one goes,
    /// else it alone is evicted.
    fn make_room(&mut self, now_ms: i64) {
        while self.producers.len() >= self.limits.max_producers.max(1) {
            let Some((&lru, p)) = self
                .producers
                .iter()
                .min_by_key(|(id, p)| (p.last_ms, **id))
            else {
                break;
            };
            if self.expired(p, now_ms) {
                self.expire(now_ms);
            } else {
                self.producers.remove(&lru);
            }
        }
    }

    /// Forgets every producer idle for `producer.id.expiration.ms` at
    /// `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.producers.len();
        let limit = self.limits.expiration_ms as i128;
        self.producers
            .retain(|_, p| (now_ms.saturating_sub(p.last_ms) as i128) < limit);
        before - self.producers.len()
    }

    /// Every producer, for a snapshot (ordered by id, so equal states save equal bytes).
    pub fn saved(&self) -> Vec<SavedProducer> {
        let mut out: Vec<SavedProducer> = self
            .producers
            .iter()
            .map(|(&id, p)| SavedProducer {
                id,
                epoch: p.epoch,
                last_ms: p.last_ms,
                batches: p
                    .window()
                    .iter()
                    .map(|e| SavedBatch {
                        first_seq: e.first_seq,
                        last_seq: e.last_seq,
                        base_offset: e.base_offset,
                    })
                    .collect(),
            })
            .collect();
        out.sort_by_key(|p| p.id);
        out
    }

    /// The state a snapshot saved, under `limits` at `now_ms`: expired
    /// producers are dropped, and beyond the cap the least recently used.
    /// Windows longer than [`WINDOW`] keep their newest batches.
    pub fn restore(saved: Vec<SavedProducer>, limits: ProducerLimits, now_ms: i64) -> Self {
        let mut s = ProducerStates::new(limits);
        for sp in saved {
            let mut p = Producer {
                epoch: sp.epoch,
                last_ms: sp.last_ms.min(now_ms),
                ..Producer::default()
            };
            for b in sp.batches {
                p.push(Entry {
                    first_seq: b.first_seq,
                    last_seq: b.last_seq,
                    base_offset: b.base_offset,
                });
            }
            if !s.expired(&p, now_ms) {
                s.make_room(now_ms);
                s.producers.insert(sp.id, p);
            }
        }
        s
    }

    /// The highest producer id known.
    pub fn max_id(&self) -> Option<i64> {
        self.producers.keys().max().copied()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

fn last_of(first_seq: i32, records: i32) -> i32 {
    let n = records.max(1) as i64;
    ((first_seq as i64 + n - 1) % (i32::MAX as i64 + 1)) as i32
}

#[cfg(test)]
#[path = "producer_state_tests.rs"]
mod tests;
