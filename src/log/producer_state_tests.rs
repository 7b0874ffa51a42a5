//! The sequence, epoch, expiry and eviction rules of `producer_state.rs`.

use super::*;

/// A wall-clock time for tests that do not care about expiry.
const T: i64 = 1_700_000_000_000;

#[test]
fn in_order_batches_append_and_a_retry_is_a_duplicate_with_its_offset() {
    let mut s = ProducerStates::default();
    assert_eq!(s.check(7, 0, 0, 5, T), SeqCheck::Append);
    s.record(7, 0, 0, 5, 100, T);
    assert_eq!(s.check(7, 0, 5, 3, T), SeqCheck::Append);
    s.record(7, 0, 5, 3, 105, T);
    assert_eq!(
        s.check(7, 0, 0, 5, T),
        SeqCheck::Duplicate { base_offset: 100 }
    );
    assert_eq!(
        s.check(7, 0, 5, 3, T),
        SeqCheck::Duplicate { base_offset: 105 }
    );
}

#[test]
fn gaps_old_epochs_and_new_epochs() {
    let mut s = ProducerStates::default();
    s.record(1, 2, 0, 1, 0, T);
    assert_eq!(
        s.check(1, 2, 5, 1, T),
        SeqCheck::OutOfOrder {
            expected: 1,
            got: 5
        }
    );
    assert_eq!(
        s.check(1, 1, 1, 1, T),
        SeqCheck::InvalidEpoch { current: 2 }
    );
    assert_eq!(
        s.check(1, 3, 4, 1, T),
        SeqCheck::OutOfOrder {
            expected: 0,
            got: 4
        }
    );
    assert_eq!(s.check(1, 3, 0, 1, T), SeqCheck::Append);
    s.record(1, 3, 0, 1, 9, T);
    assert_eq!(
        s.check(1, 3, 0, 1, T),
        SeqCheck::Duplicate { base_offset: 9 }
    );
}

#[test]
fn a_producer_without_state_is_accepted_at_any_sequence_as_kafka_does() {
    let s = ProducerStates::default();
    assert_eq!(s.check(3, 0, 0, 1, T), SeqCheck::Append);
    assert_eq!(s.check(3, 4, 17, 1, T), SeqCheck::Append);
}

#[test]
fn idle_producers_expire_and_the_least_recently_used_is_evicted_at_the_cap() {
    let limits = ProducerLimits {
        expiration_ms: 1000,
        max_producers: 3,
    };
    let mut s = ProducerStates::new(limits);
    s.record(1, 0, 0, 1, 10, 0);
    s.record(2, 0, 0, 1, 11, 100);
    s.record(3, 0, 0, 1, 12, 200);
    let dup = |o| SeqCheck::Duplicate { base_offset: o };
    assert_eq!(s.check(1, 0, 0, 1, 999), dup(10), "not expired yet");
    // Idle for producer.id.expiration.ms: no state, any sequence.
    assert_eq!(s.check(1, 0, 0, 1, 1000), SeqCheck::Append);
    assert_eq!(s.check(1, 0, 9, 1, 1000), SeqCheck::Append);
    assert_eq!(s.expire(1000), 1);
    assert_eq!(s.len(), 2);
    s.record(4, 0, 0, 1, 13, 300);
    s.record(2, 0, 1, 1, 14, 400);
    // A fourth producer: the least recently used (3, at 200) goes.
    s.record(5, 0, 0, 1, 15, 500);
    assert_eq!(s.len(), 3);
    assert_eq!(s.check(3, 0, 0, 1, 500), SeqCheck::Append, "evicted");
    assert_eq!(s.check(3, 0, 7, 1, 500), SeqCheck::Append, "as if expired");
    assert_eq!(s.check(2, 0, 1, 1, 500), dup(14));
    assert_eq!(s.check(4, 0, 0, 1, 500), dup(13));
    assert_eq!(s.check(5, 0, 0, 1, 500), dup(15));
    // Never more than the cap, however many producers come.
    for pid in 100..10_000 {
        s.record(pid, 0, 0, 1, pid as u64, 600);
    }
    assert_eq!(s.len(), 3);
}

#[test]
fn a_restored_snapshot_keeps_last_use_and_drops_the_expired() {
    let limits = ProducerLimits {
        expiration_ms: 1000,
        max_producers: 2,
    };
    let mut s = ProducerStates::new(limits);
    s.record(1, 0, 0, 1, 10, 0);
    s.record(2, 0, 0, 1, 11, 600);
    s.record(2, 0, 1, 1, 12, 700);
    let back = ProducerStates::restore(s.saved(), limits, 1200);
    assert_eq!(back.len(), 1, "producer 1 expired at 1000");
    assert_eq!(
        back.check(2, 0, 0, 1, 1200),
        SeqCheck::Duplicate { base_offset: 11 }
    );
    assert_eq!(back.check(2, 0, 2, 1, 1699), SeqCheck::Append);
    assert_eq!(
        back.check(2, 0, 9, 1, 1699),
        SeqCheck::OutOfOrder {
            expected: 2,
            got: 9
        }
    );
    let smaller = ProducerLimits {
        max_producers: 1,
        ..limits
    };
    assert_eq!(ProducerStates::restore(s.saved(), smaller, 600).len(), 1);
}

#[test]
fn only_the_last_five_batches_are_remembered_and_sequences_wrap() {
    let mut s = ProducerStates::default();
    for i in 0..6 {
        s.record(1, 0, i, 1, i as u64, T);
    }
    assert_eq!(
        s.check(1, 0, 0, 1, T),
        SeqCheck::OutOfOrder {
            expected: 6,
            got: 0
        }
    );
    assert_eq!(
        s.check(1, 0, 1, 1, T),
        SeqCheck::Duplicate { base_offset: 1 }
    );
    let mut w = ProducerStates::default();
    w.record(2, 0, i32::MAX - 1, 2, 50, T);
    assert_eq!(w.check(2, 0, 0, 1, T), SeqCheck::Append);
}
