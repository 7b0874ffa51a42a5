//! The partition core's invariants, driven by hand and by seed.

use super::*;

fn cfg(durability: Durability, flush_ms: Option<u64>) -> CoreConfig {
    CoreConfig {
        durability,
        flush_messages: u64::MAX,
        flush_ms,
        retention_ms: None,
    }
}

fn at(mono_ms: u64) -> Now {
    Now {
        mono_ms,
        wall_ms: 1_700_000_000_000 + mono_ms as i64,
    }
}

fn written(base: u64, last: u64) -> Written {
    Written {
        base_offset: base,
        last_offset: last,
        duplicate: false,
    }
}

fn replied(actions: &[Action]) -> Vec<ReqId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply { id, result: Ok(_) } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn group_commit_answers_only_after_a_sync_that_started_after_the_write() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 0);
    assert_eq!(c.produce(1), Action::Write { id: 1 });
    assert_eq!(c.written(1, written(0, 9), true, at(0)), None);
    assert_eq!(c.high_watermark(), 0, "nothing visible before the sync");
    let sync = c.poll(at(0));
    assert_eq!(sync, vec![Action::Sync { upto: 10 }]);
    // A write lands while the sync runs: it is not covered by that sync.
    assert_eq!(c.written(2, written(10, 19), true, at(1)), None);
    assert!(c.poll(at(1)).is_empty(), "at most one sync in flight");
    assert_eq!(replied(&c.sync_done(10)), vec![1]);
    assert_eq!(c.high_watermark(), 10);
    assert_eq!(c.poll(at(2)), vec![Action::Sync { upto: 20 }]);
    assert_eq!(replied(&c.sync_done(20)), vec![2]);
    assert_eq!(c.next_deadline(at(3)), None, "idle: no wake-ups");
}

#[test]
fn one_sync_serves_every_write_before_it_in_offset_order() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 0);
    for id in 0..5u64 {
        assert_eq!(
            c.written(id, written(id * 2, id * 2 + 1), true, at(0)),
            None
        );
    }
    assert_eq!(c.poll(at(0)), vec![Action::Sync { upto: 10 }]);
    assert_eq!(replied(&c.sync_done(10)), vec![0, 1, 2, 3, 4]);
}

#[test]
fn flush_window_delays_the_sync_and_sets_the_deadline() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, Some(50)), 0, 0);
    c.written(1, written(0, 0), true, at(100));
    assert!(c.poll(at(120)).is_empty());
    assert_eq!(c.next_deadline(at(120)), Some(150));
    assert_eq!(c.poll(at(150)), vec![Action::Sync { upto: 1 }]);
}

#[test]
fn replicated_answers_at_once_and_syncs_by_count() {
    let mut c = PartitionCore::new(
        CoreConfig {
            flush_messages: 20,
            ..cfg(Durability::Replicated, None)
        },
        0,
        0,
    );
    let a = c.written(1, written(0, 9), true, at(0));
    assert!(matches!(
        a,
        Some(Action::Reply {
            id: 1,
            result: Ok(_)
        })
    ));
    assert_eq!(c.high_watermark(), 10);
    assert_eq!(c.durable_end(), 0);
    assert!(c.poll(at(0)).is_empty());
    c.written(2, written(10, 19), true, at(0));
    assert_eq!(c.poll(at(0)), vec![Action::Sync { upto: 20 }]);
    c.sync_done(20);
    assert_eq!(c.durable_end(), 20);
}

#[test]
fn a_failed_sync_takes_the_partition_offline_and_nothing_becomes_visible() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 100);
    c.written(1, written(100, 109), true, at(0));
    assert_eq!(c.poll(at(0)), vec![Action::Sync { upto: 110 }]);
    let out = c.sync_failed("EIO".into());
    assert!(matches!(
        out.as_slice(),
        [Action::Reply {
            id: 1,
            result: Err(ProduceError::Offline { .. })
        }]
    ));
    // A later sync "success" (fsyncgate) must not be possible: nothing is
    // asked, and a stray completion changes nothing.
    assert!(c.poll(at(1)).is_empty());
    assert!(c.sync_done(110).is_empty());
    assert_eq!(c.high_watermark(), 100);
    assert!(matches!(
        c.produce(2),
        Action::Reply {
            id: 2,
            result: Err(ProduceError::Offline { .. })
        }
    ));
    assert!(matches!(c.read(3), Action::RefuseRead { id: 3, .. }));
    assert_eq!(c.next_deadline(at(2)), None);
}

#[test]
fn reads_are_bounded_by_the_high_watermark() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 5);
    c.written(1, written(5, 9), true, at(0));
    assert_eq!(c.read(2), Action::Read { id: 2, upto: 5 });
    c.poll(at(0));
    c.sync_done(10);
    assert_eq!(c.read(3), Action::Read { id: 3, upto: 10 });
}

#[test]
fn retention_has_a_deadline_instead_of_periodic_wakeups() {
    let mut c = PartitionCore::new(
        CoreConfig {
            retention_ms: Some(1_000),
            ..cfg(Durability::Fsync, None)
        },
        0,
        10,
    );
    let now = at(0);
    assert_eq!(
        c.next_deadline(now),
        None,
        "no releasable slot: no deadline"
    );
    c.usage(0, Some(now.wall_ms - 400));
    assert_eq!(c.next_deadline(now), Some(601));
    assert!(c.poll(at(600)).is_empty());
    assert_eq!(
        c.poll(at(601)),
        vec![Action::ApplyRetention {
            wall_ms: at(601).wall_ms,
            retention_ms: 1_000
        }]
    );
    assert_eq!(c.next_deadline(at(601)), None, "until usage reports back");
}

#[test]
fn config_changes_apply_live() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 0);
    c.written(1, written(0, 4), true, at(0));
    // Switched to replicated before the sync: the write becomes visible and
    // later writes are answered at once.
    c.reconfigure(cfg(Durability::Replicated, None));
    assert_eq!(c.high_watermark(), 5);
    let a = c.written(2, written(5, 5), true, at(1));
    assert!(matches!(
        a,
        Some(Action::Reply {
            id: 2,
            result: Ok(_)
        })
    ));
    // Back to fsync with a window: unsynced data is still owed a sync.
    c.reconfigure(cfg(Durability::Fsync, Some(10)));
    assert_eq!(c.next_deadline(at(2)), Some(10));
    // Retention switched on later gets its deadline.
    c.reconfigure(CoreConfig {
        retention_ms: Some(100),
        ..cfg(Durability::Fsync, Some(10))
    });
    c.usage(0, Some(at(2).wall_ms));
    assert!(c.next_deadline(at(2)).is_some());
}

#[test]
fn duplicates_wait_for_their_original_only() {
    let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 10);
    let dup = Written {
        base_offset: 3,
        last_offset: 4,
        duplicate: true,
    };
    assert!(matches!(
        c.written(1, dup, true, at(0)),
        Some(Action::Reply {
            id: 1,
            result: Ok(Produced { base_offset: 3, .. })
        })
    ));
    assert!(
        c.poll(at(0)).is_empty(),
        "a duplicate writes nothing to sync"
    );
}

/// Random interleavings of writes, sync starts and completions, checked
/// against the invariants: answers only below a completed sync's end, in
/// order, each exactly once; the watermark never goes back.
#[test]
fn seeded_interleavings_keep_the_invariants() {
    for seed in 1..=300u64 {
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut c = PartitionCore::new(cfg(Durability::Fsync, None), 0, 0);
        let mut end = 0u64;
        let mut last_of = std::collections::HashMap::new();
        let mut in_flight: Option<u64> = None;
        let mut answered = Vec::new();
        let mut durable = 0u64;
        let mut hw = 0u64;
        for step in 0..200u64 {
            match next() % 3 {
                0 => {
                    let n = 1 + next() % 5;
                    let w = written(end, end + n - 1);
                    last_of.insert(step, end + n - 1);
                    end += n;
                    if let Some(a) = c.written(step, w, true, at(step)) {
                        panic!("seed {seed}: answered before any sync: {a:?}");
                    }
                }
                1 => {
                    for a in c.poll(at(step)) {
                        if let Action::Sync { upto } = a {
                            assert!(in_flight.is_none(), "seed {seed}: two syncs");
                            in_flight = Some(upto);
                        }
                    }
                }
                _ => {
                    if let Some(upto) = in_flight.take() {
                        durable = upto;
                        for a in c.sync_done(upto) {
                            let Action::Reply { id, result: Ok(_) } = a else {
                                panic!("seed {seed}: {a:?}");
                            };
                            assert!(last_of[&id] < durable, "seed {seed}: early answer");
                            answered.push(last_of[&id]);
                        }
                    }
                }
            }
            assert!(c.high_watermark() >= hw, "seed {seed}: watermark went back");
            hw = c.high_watermark();
            assert!(hw <= durable, "seed {seed}: watermark past durable");
        }
        assert!(
            answered.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: answers out of order"
        );
    }
}
