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
//!   so only expiry leaves a live producer without state.
//!
//! The state survives restarts through the partition's snapshot
//! (`producer_snapshot.rs`): [`ProducerStates::saved`] and
//! [`ProducerStates::restore`] convert it, and the batches written after the
//! snapshot are replayed with [`ProducerStates::record`].

use std::collections::{HashMap, VecDeque};

use super::producer_snapshot::{SavedBatch, SavedProducer};

/// Batches remembered per producer (Kafka's window).
pub const WINDOW: usize = 5;

/// One remembered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    first_seq: i32,
    last_seq: i32,
    base_offset: u64,
}

#[derive(Debug, Clone, Default)]
struct Producer {
    epoch: i16,
    batches: VecDeque<Entry>,
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
}

fn next_seq(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

impl ProducerStates {
    /// Checks a batch `[first_seq, first_seq + records - 1]` of `pid`/`epoch`.
    pub fn check(&self, pid: i64, epoch: i16, first_seq: i32, records: i32) -> SeqCheck {
        let Some(p) = self.producers.get(&pid) else {
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
            .batches
            .iter()
            .find(|e| e.first_seq == first_seq && e.last_seq == last_seq)
        {
            return SeqCheck::Duplicate {
                base_offset: e.base_offset,
            };
        }
        match p.batches.back() {
            Some(last) if next_seq(last.last_seq) != first_seq => SeqCheck::OutOfOrder {
                expected: next_seq(last.last_seq),
                got: first_seq,
            },
            _ => SeqCheck::Append,
        }
    }

    /// Records a written batch.
    pub fn record(&mut self, pid: i64, epoch: i16, first_seq: i32, records: i32, base_offset: u64) {
        let p = self.producers.entry(pid).or_default();
        if epoch != p.epoch {
            p.epoch = epoch;
            p.batches.clear();
        }
        if p.batches.len() == WINDOW {
            p.batches.pop_front();
        }
        p.batches.push_back(Entry {
            first_seq,
            last_seq: last_of(first_seq, records),
            base_offset,
        });
    }

    /// Every producer, for a snapshot (ordered by id, so equal states save equal bytes).
    pub fn saved(&self) -> Vec<SavedProducer> {
        let mut out: Vec<SavedProducer> = self
            .producers
            .iter()
            .map(|(&id, p)| SavedProducer {
                id,
                epoch: p.epoch,
                last_ms: 0,
                batches: p
                    .batches
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

    /// The state a snapshot saved (windows longer than [`WINDOW`] keep their newest batches).
    pub fn restore(saved: Vec<SavedProducer>) -> Self {
        let mut s = ProducerStates::default();
        for p in saved {
            let skip = p.batches.len().saturating_sub(WINDOW);
            let batches = p
                .batches
                .into_iter()
                .skip(skip)
                .map(|b| Entry {
                    first_seq: b.first_seq,
                    last_seq: b.last_seq,
                    base_offset: b.base_offset,
                })
                .collect();
            s.producers.insert(
                p.id,
                Producer {
                    epoch: p.epoch,
                    batches,
                },
            );
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
mod tests {
    use super::*;

    #[test]
    fn in_order_batches_append_and_a_retry_is_a_duplicate_with_its_offset() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(7, 0, 0, 5), SeqCheck::Append);
        s.record(7, 0, 0, 5, 100);
        assert_eq!(s.check(7, 0, 5, 3), SeqCheck::Append);
        s.record(7, 0, 5, 3, 105);
        assert_eq!(
            s.check(7, 0, 0, 5),
            SeqCheck::Duplicate { base_offset: 100 }
        );
        assert_eq!(
            s.check(7, 0, 5, 3),
            SeqCheck::Duplicate { base_offset: 105 }
        );
    }

    #[test]
    fn gaps_old_epochs_and_new_epochs() {
        let mut s = ProducerStates::default();
        s.record(1, 2, 0, 1, 0);
        assert_eq!(
            s.check(1, 2, 5, 1),
            SeqCheck::OutOfOrder {
                expected: 1,
                got: 5
            }
        );
        assert_eq!(s.check(1, 1, 1, 1), SeqCheck::InvalidEpoch { current: 2 });
        assert_eq!(
            s.check(1, 3, 4, 1),
            SeqCheck::OutOfOrder {
                expected: 0,
                got: 4
            }
        );
        assert_eq!(s.check(1, 3, 0, 1), SeqCheck::Append);
        s.record(1, 3, 0, 1, 9);
        assert_eq!(s.check(1, 3, 0, 1), SeqCheck::Duplicate { base_offset: 9 });
    }

    #[test]
    fn a_producer_without_state_is_accepted_at_any_sequence_as_kafka_does() {
        let s = ProducerStates::default();
        assert_eq!(s.check(3, 0, 0, 1), SeqCheck::Append);
        assert_eq!(s.check(3, 4, 17, 1), SeqCheck::Append);
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_sequences_wrap() {
        let mut s = ProducerStates::default();
        for i in 0..6 {
            s.record(1, 0, i, 1, i as u64);
        }
        assert_eq!(
            s.check(1, 0, 0, 1),
            SeqCheck::OutOfOrder {
                expected: 6,
                got: 0
            }
        );
        assert_eq!(s.check(1, 0, 1, 1), SeqCheck::Duplicate { base_offset: 1 });
        let mut w = ProducerStates::default();
        w.record(2, 0, i32::MAX - 1, 2, 50);
        assert_eq!(w.check(2, 0, 0, 1), SeqCheck::Append);
    }
}
