//! Durable truncation: once `truncate_to` has returned, no crash at any
//! later moment brings a cut batch back, and a crash in the middle of it
//! leaves a log that a retried truncation finishes. The cut batches carry
//! exactly the offsets the log expects next, which is what makes this hard.

use std::collections::HashSet;

use pipit::storage::batch::{RecordBatch, build_test_batch};
use pipit::storage::sim::{CrashBackend, CrashModel, Rng, Sizes};
use pipit::storage::{Backend, Checkpoint, FullPolicy, Ring, RingConfig};

fn sizes(cfg: &RingConfig) -> Sizes {
    Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    }
}

/// Every batch served from the log start: (base offset, bytes), each checked.
fn served<B: Backend>(ring: &mut Ring<B>) -> Vec<(u64, Vec<u8>)> {
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
            let v = RecordBatch::new_checked(rest).expect("only valid batches are served");
            out.push((
                v.header().base_offset as u64,
                rest[..v.total_len()].to_vec(),
            ));
            rest = &rest[v.total_len()..];
        }
        at = span.next_offset;
    }
    out
}

/// One seeded run: appends, syncs, checkpoints and truncations at random,
/// some truncations interrupted by a dying disk, crashes, reopens (with the
/// checkpoint the truncation returned, or, as if the shell had not persisted
/// it yet, the one before), checks, goes on.
fn truncate_run(seed: u64, model: CrashModel) {
    let mut rng = Rng::new(seed);
    let cfg = RingConfig {
        slots: 2 + rng.below(4) as u16,
        segment_bytes: 2048 + rng.below(4096) as u32,
        index_interval: 64 + rng.below(1024) as u32,
        policy: if rng.below(2) == 0 {
            FullPolicy::OverwriteOldest
        } else {
            FullPolicy::RejectNew
        },
    };
    let mut ring = Ring::create(CrashBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    // A unique timestamp per batch makes every batch's bytes unique.
    let mut stamp = 0i64;
    let mut dead: HashSet<Vec<u8>> = HashSet::new();
    let mut checkpoint = Checkpoint::default();
    for round in 0..4 {
        let mut interrupted: Option<u64> = None;
        for _ in 0..(1 + rng.below(60)) {
            match rng.below(12) {
                0..=6 => {
                    let body = rng.below(600) as usize;
                    let mut b = vec![0u8; 61 + body];
                    stamp += 1;
                    build_test_batch(&mut b, body, 1 + rng.below(5) as i32, stamp, round).unwrap();
                    if ring.append(&b, 0).is_err() {
                        let _ = ring.release_oldest().unwrap();
                    }
                }
                7 => {
                    ring.sync().unwrap();
                }
                8 => checkpoint = ring.checkpoint().unwrap(),
                _ => {
                    let start = ring.log_start();
                    let end = ring.next_offset();
                    let cut = start + rng.below(end - start + 1);
                    let before: Vec<(u64, Vec<u8>)> = served(&mut ring);
                    if rng.below(4) == 0 {
                        // The disk dies in the middle of it.
                        ring.backend_mut().fail_after(rng.below(8) as usize);
                        if ring.truncate_to(cut).is_err() {
                            interrupted = Some(cut);
                            break;
                        }
                        ring.backend_mut().fail_after(usize::MAX);
                    } else {
                        let cp = ring.truncate_to(cut).unwrap();
                        if rng.below(2) == 0 {
                            checkpoint = cp;
                        }
                    }
                    assert!(ring.next_offset() <= cut, "seed {seed}: cut not done");
                    for (base, bytes) in before {
                        let h = RecordBatch::new_checked(&bytes[..]).unwrap();
                        if h.header().last_offset() as u64 >= cut || base >= cut {
                            dead.insert(bytes);
                        }
                    }
                }
            }
        }
        let mut backend = std::mem::replace(ring.backend_mut(), CrashBackend::new(sizes(&cfg)));
        backend.crash(&mut rng, model);
        let (reopened, _) = Ring::open(backend, cfg, &checkpoint)
            .unwrap_or_else(|e| panic!("seed {seed}: open failed: {e:?}"));
        ring = reopened;
        if let Some(cut) = interrupted {
            // The caller retries the truncation it did not see succeed.
            let before = served(&mut ring);
            ring.truncate_to(cut).unwrap();
            for (base, bytes) in before {
                let h = RecordBatch::new_checked(&bytes[..]).unwrap();
                if h.header().last_offset() as u64 >= cut || base >= cut {
                    dead.insert(bytes);
                }
            }
        }
        for (base, bytes) in served(&mut ring) {
            assert!(
                !dead.contains(&bytes),
                "seed {seed} round {round}: a truncated batch came back at {base}"
            );
        }
        checkpoint = ring.checkpoint().unwrap();
    }
}

#[test]
fn truncated_batches_never_come_back_ordered_prefix() {
    for seed in 0..1500 {
        truncate_run(seed, CrashModel::OrderedPrefix);
    }
}

#[test]
fn truncated_batches_never_come_back_any_subset() {
    for seed in 50_000..51_500 {
        truncate_run(seed, CrashModel::AnySubset);
    }
}

/// The case recovery alone gets wrong: new batches reuse the cut offsets,
/// the newest ones are lost in a crash, and behind them sit the cut batches
/// with exactly the offsets expected next, under a checkpoint from before
/// the truncation.
#[test]
fn appends_after_a_truncation_never_uncover_cut_batches() {
    let cfg = RingConfig {
        slots: 3,
        segment_bytes: 8192,
        index_interval: 256,
        policy: FullPolicy::OverwriteOldest,
    };
    let mut ring = Ring::create(CrashBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    let batch = |fill: u8| {
        let mut b = vec![0u8; 261];
        build_test_batch(&mut b, 200, 2, 7, fill).unwrap();
        b
    };
    for _ in 0..20 {
        ring.append(&batch(1), 0).unwrap();
    }
    let old_cp = ring.checkpoint().unwrap();
    ring.truncate_to(10).unwrap();
    assert_eq!(ring.next_offset(), 10);
    // Same sizes and counts as the cut batches, different content.
    for _ in 0..3 {
        ring.append(&batch(2), 0).unwrap();
    }
    ring.sync().unwrap();
    for _ in 0..2 {
        ring.append(&batch(2), 0).unwrap();
    }
    let mut backend = std::mem::replace(ring.backend_mut(), CrashBackend::new(sizes(&cfg)));
    backend.crash(&mut Rng::new(1), CrashModel::OrderedPrefix);
    let (mut ring, _) = Ring::open(backend, cfg, &old_cp).unwrap();
    let got = served(&mut ring);
    assert!(got.len() >= 5 + 3, "the synced new batches stay");
    for (base, bytes) in got {
        let fill = bytes[bytes.len() - 1];
        assert!(
            base < 10 || fill == 2,
            "cut batch at {base} came back after appends reused its offsets"
        );
    }
}
