//! Leader epochs: `end_offset_for_epoch` answers Kafka's OffsetForLeaderEpoch
//! from the epochs in the batch headers, against a model of the batches the
//! ring holds, across appends, truncations, retention, reopening and crashes.

use pipit::storage::batch::{RecordBatch, build_test_batch};
use pipit::storage::sim::{CrashBackend, CrashModel, MemBackend, Rng, Sizes};
use pipit::storage::{Backend, Checkpoint, FullPolicy, Ring, RingConfig};
use proptest::prelude::*;

fn sizes(cfg: &RingConfig) -> Sizes {
    Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    }
}

/// Kafka's answer from the (base offset, epoch) of every batch held, in
/// offset order, and the log end: (largest epoch ≤ asked, start of the next
/// higher epoch, or the log end for the latest); `None` for undefined.
fn kafka_answer(batches: &[(u64, i32)], log_end: u64, asked: i32) -> Option<(i32, u64)> {
    let mut epochs: Vec<(i32, u64)> = Vec::new();
    for &(base, e) in batches {
        if epochs.last().is_none_or(|&(l, _)| e > l) {
            epochs.push((e, base));
        }
    }
    let latest = epochs.last().map(|&(e, _)| e);
    if latest == Some(asked) {
        return Some((asked, log_end));
    }
    let higher = epochs.iter().find(|&&(e, _)| e > asked)?;
    let floor = epochs.iter().rev().find(|&&(e, _)| e <= asked);
    Some((floor.map(|&(e, _)| e).unwrap_or(asked), higher.1))
}

/// (base offset, epoch) of every batch served from the log start.
fn held<B: Backend>(ring: &mut Ring<B>) -> Vec<(u64, i32)> {
    let mut out = Vec::new();
    let mut at = ring.log_start();
    for _ in 0..100_000 {
        let Some(span) = ring.read(at, 1 << 20).unwrap() else {
            break;
        };
        let mut buf = vec![0u8; span.len as usize];
        ring.read_span(&span, &mut buf).unwrap();
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let v = RecordBatch::new_checked(rest).unwrap();
            out.push((
                v.header().base_offset as u64,
                v.header().partition_leader_epoch,
            ));
            rest = &rest[v.total_len()..];
        }
        at = span.next_offset;
    }
    out
}

fn check_all<B: Backend>(ring: &mut Ring<B>, max_epoch: i32) -> Result<(), TestCaseError> {
    let batches = held(ring);
    let end = ring.next_offset();
    for asked in -1..=max_epoch + 2 {
        prop_assert_eq!(
            ring.end_offset_for_epoch(asked).unwrap(),
            kafka_answer(&batches, end, asked),
            "epoch {} over {:?}",
            asked,
            batches
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Append { body: usize, count: i32 },
    Bump { by: i32 },
    Truncate { pick: u64 },
    Release,
    Reopen,
    Query,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..900, 1i32..6).prop_map(|(body, count)| Op::Append { body, count }),
        2 => (1i32..3).prop_map(|by| Op::Bump { by }),
        1 => any::<u64>().prop_map(|pick| Op::Truncate { pick }),
        1 => Just(Op::Release),
        1 => Just(Op::Reopen),
        2 => Just(Op::Query),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn end_offset_for_epoch_matches_kafka_over_the_batches_held(
        ops in prop::collection::vec(op(), 1..150),
        slots in 2u16..5,
        interval in 64u32..2048,
    ) {
        let cfg = RingConfig { slots, segment_bytes: 4096, index_interval: interval, policy: FullPolicy::OverwriteOldest };
        let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
        let mut epoch = 0i32;
        for op in ops {
            match op {
                Op::Append { body, count } => {
                    let mut b = vec![0u8; 61 + body];
                    build_test_batch(&mut b, body, count, 1, 1).unwrap();
                    ring.append(&b, epoch).unwrap();
                }
                Op::Bump { by } => epoch += by,
                Op::Truncate { pick } => {
                    let start = ring.log_start();
                    let cut = start + pick % (ring.next_offset() - start + 1);
                    ring.truncate_to(cut).unwrap();
                }
                Op::Release => {
                    let _ = ring.release_oldest().unwrap();
                }
                Op::Reopen => {
                    let cp = ring.checkpoint().unwrap();
                    let backend = ring.backend().clone();
                    ring = Ring::open(backend, cfg, &cp).unwrap().0;
                }
                Op::Query => check_all(&mut ring, epoch)?,
            }
        }
        check_all(&mut ring, epoch)?;
    }
}

/// After crashes, the epochs answered are those of the batches recovered.
#[test]
fn end_offset_for_epoch_after_crashes_follows_the_recovered_batches() {
    for seed in 0..300u64 {
        let mut rng = Rng::new(seed);
        let cfg = RingConfig {
            slots: 2 + rng.below(3) as u16,
            segment_bytes: 2048 + rng.below(4096) as u32,
            index_interval: 64 + rng.below(1024) as u32,
            policy: FullPolicy::OverwriteOldest,
        };
        let mut ring = Ring::create(CrashBackend::new(sizes(&cfg)), cfg, 0).unwrap();
        let mut epoch = 0;
        let mut checkpoint = Checkpoint::default();
        for _ in 0..3 {
            for _ in 0..(1 + rng.below(60)) {
                match rng.below(10) {
                    0..=5 => {
                        let body = rng.below(700) as usize;
                        let mut b = vec![0u8; 61 + body];
                        build_test_batch(&mut b, body, 1 + rng.below(4) as i32, 1, 1).unwrap();
                        ring.append(&b, epoch).unwrap();
                    }
                    6 => epoch += 1,
                    7 => {
                        ring.sync().unwrap();
                    }
                    _ => checkpoint = ring.checkpoint().unwrap(),
                }
            }
            let mut backend = std::mem::replace(ring.backend_mut(), CrashBackend::new(sizes(&cfg)));
            backend.crash(&mut rng, CrashModel::AnySubset);
            ring = Ring::open(backend, cfg, &checkpoint).unwrap().0;
            check_all(&mut ring, epoch).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            checkpoint = ring.checkpoint().unwrap();
        }
    }
}
