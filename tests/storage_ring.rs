//! The segment ring against a plain Vec model, and under injected crashes.

use pipit::storage::batch::{RecordBatch, build_test_batch, stamp};
use pipit::storage::sim::{CrashBackend, CrashModel, MemBackend, Rng, Sizes};
use pipit::storage::{
    AppendError, Backend, Checkpoint, FullPolicy, ReadError, ReadLimit, ReplicaError, Ring,
    RingConfig,
};
use proptest::prelude::*;

fn sizes(cfg: &RingConfig) -> Sizes {
    Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    }
}

fn make_batch(body: usize, count: i32, ts: i64, fill: u8) -> Vec<u8> {
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, count, ts, fill).unwrap();
    b
}

/// What a batch looks like once stored: base offset stamped.
#[derive(Clone, Debug)]
struct Stored {
    base: u64,
    last: u64,
    max_ts: i64,
    bytes: Vec<u8>,
}

/// Reads every batch from `from` to the log end through spans; checks each
/// batch's CRC and that offsets only grow.
fn read_all<B: Backend>(ring: &mut Ring<B>, from: u64, max_bytes: u32) -> Vec<Stored> {
    let mut out = Vec::new();
    let mut at = from;
    for _ in 0..100_000 {
        let span = match ring.read(at, max_bytes) {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(e) => panic!("read at {at}: {e:?}"),
        };
        let mut buf = vec![0u8; span.len as usize];
        ring.read_span(&span, &mut buf).unwrap();
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let v = RecordBatch::new_checked(rest).expect("served bytes must be a valid batch");
            let h = *v.header();
            let n = v.total_len();
            if let Some(prev) = out.last() {
                let prev: &Stored = prev;
                assert!(h.base_offset as u64 > prev.last, "offsets must grow");
            }
            out.push(Stored {
                base: h.base_offset as u64,
                last: h.last_offset() as u64,
                max_ts: h.max_timestamp,
                bytes: rest[..n].to_vec(),
            });
            rest = &rest[n..];
        }
        assert_eq!(span.next_offset, out.last().unwrap().last + 1);
        at = span.next_offset;
    }
    out
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        body: usize,
        count: i32,
        ts: i64,
    },
    Read {
        pick: u64,
        max: u32,
    },
    Time {
        ts: i64,
    },
    Release,
    Protect {
        pick: u64,
    },
    Truncate {
        pick: u64,
    },
    ReadCommitted {
        pick: u64,
        hw_pick: u64,
        max: u32,
    },
    Replica {
        body: usize,
        count: i32,
        ts: i64,
        skew: i8,
    },
    Unprotect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..1500, 1i32..20, 0i64..1000).prop_map(|(body, count, ts)| Op::Append { body, count, ts }),
        2 => (any::<u64>(), 1u32..6000).prop_map(|(pick, max)| Op::Read { pick, max }),
        1 => (0i64..1100).prop_map(|ts| Op::Time { ts }),
        1 => Just(Op::Release),
        1 => any::<u64>().prop_map(|pick| Op::Protect { pick }),
        1 => Just(Op::Unprotect),
        1 => any::<u64>().prop_map(|pick| Op::Truncate { pick }),
        2 => (any::<u64>(), any::<u64>(), 1u32..6000).prop_map(|(pick, hw_pick, max)| Op::ReadCommitted { pick, hw_pick, max }),
        2 => (0usize..1500, 1i32..20, 0i64..1000, prop_oneof![3 => Just(0i8), 1 => any::<i8>()])
            .prop_map(|(body, count, ts, skew)| Op::Replica { body, count, ts, skew }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_vec_model(
        ops in prop::collection::vec(op(), 1..300),
        slots in 2u16..6,
        seg in 2048u32..8192,
        interval in 64u32..1024,
        reject in any::<bool>(),
    ) {
        let policy = if reject { FullPolicy::RejectNew } else { FullPolicy::OverwriteOldest };
        let cfg = RingConfig { slots, segment_bytes: seg, index_interval: interval, policy };
        let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
        let mut model: Vec<Stored> = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append { body, count, ts } => {
                    let mut b = make_batch(body, count, ts, i as u8);
                    let end = ring.next_offset();
                    match ring.append(&b, 3) {
                        Ok(a) => {
                            stamp(&mut b, a.base_offset as i64, 3);
                            prop_assert_eq!(a.base_offset, model.last().map(|s| s.last + 1).unwrap_or(end));
                            model.push(Stored { base: a.base_offset, last: a.last_offset, max_ts: ts, bytes: b });
                        }
                        Err(AppendError::TooLarge { .. }) => prop_assert!(b.len() > seg as usize),
                        Err(AppendError::RingFull) => prop_assert!(reject),
                        Err(e) => prop_assert!(false, "append failed: {:?}", e),
                    }
                }
                Op::Read { pick, max } => {
                    let start = ring.log_start();
                    let end = ring.next_offset();
                    let off = start + pick % (end - start + 1);
                    match ring.read(off, max).unwrap() {
                        None => prop_assert_eq!(off, end),
                        Some(span) => {
                            let want = model.iter().position(|s| s.last >= off).unwrap();
                            prop_assert_eq!(span.first_offset, model[want].base);
                            let mut buf = vec![0u8; span.len as usize];
                            ring.read_span(&span, &mut buf).unwrap();
                            let mut at = 0;
                            let mut k = want;
                            while at < buf.len() {
                                let n = model[k].bytes.len();
                                prop_assert_eq!(&buf[at..at + n], &model[k].bytes[..]);
                                at += n;
                                k += 1;
                            }
                            prop_assert!(span.len <= max || k == want + 1);
                        }
                    }
                }
                Op::Time { ts } => {
                    let want = model.iter().find(|s| s.max_ts >= ts).map(|s| s.base);
                    prop_assert_eq!(ring.offset_for_time(ts).unwrap(), want);
                }
                Op::Release => {
                    let before = ring.log_start();
                    let _ = ring.release_oldest().unwrap();
                    if let Some(mark) = ring.protected() {
                        let after = ring.log_start();
                        let freed_protected = model
                            .iter()
                            .any(|s| s.base >= before && s.base < after && s.last >= mark);
                        prop_assert!(!freed_protected, "released offsets at or above the mark {}", mark);
                    }
                }
                Op::Protect { pick } => {
                    let start = ring.log_start();
                    ring.set_protected(start + pick % (ring.next_offset() - start + 1));
                }
                Op::Unprotect => ring.clear_protected(),
                Op::Truncate { pick } => {
                    let start = ring.log_start();
                    let cut = start + pick % (ring.next_offset() - start + 1);
                    ring.truncate_to(cut).unwrap();
                    // Every batch reaching the cut goes, whole.
                    model.retain(|s| s.last < cut);
                    let end = model.last().map(|s| s.last + 1).unwrap_or(start.min(cut));
                    prop_assert_eq!(ring.next_offset(), end);
                }
                Op::ReadCommitted { pick, hw_pick, max } => {
                    // A high watermark at a batch boundary, an offset anywhere.
                    let start = ring.log_start();
                    let end = ring.next_offset();
                    let hw = model.get(hw_pick as usize % (model.len() + 1)).map(|s| s.base).unwrap_or(end);
                    let off = start + pick % (end - start + 1);
                    match ring.read_upto(off, max, ReadLimit::HighWatermark(hw)) {
                        Err(ReadError::OffsetOutOfRange { log_end, .. }) => {
                            prop_assert!(off > hw);
                            prop_assert_eq!(log_end, hw);
                        }
                        Err(e) => prop_assert!(false, "read failed: {:?}", e),
                        Ok(None) => prop_assert_eq!(off, hw),
                        Ok(Some(span)) => {
                            prop_assert!(off < hw);
                            prop_assert!(span.next_offset <= hw, "served {:?} past the high watermark {}", span, hw);
                        }
                    }
                }
                Op::Replica { body, count, ts, skew } => {
                    // A batch as the leader stored it: its offset and epoch.
                    let mut b = make_batch(body, count, ts, i as u8);
                    let want = ring.next_offset() as i64 + skew as i64;
                    b[..8].copy_from_slice(&want.to_be_bytes());
                    b[12..16].copy_from_slice(&7i32.to_be_bytes());
                    let sent = b.clone();
                    match ring.append_replica(&b) {
                        Ok(a) => {
                            prop_assert_eq!(skew, 0);
                            prop_assert_eq!(a.base_offset as i64, want);
                            prop_assert_eq!(&b, &sent, "a replica's bytes are stored as sent");
                            model.push(Stored { base: a.base_offset, last: a.last_offset, max_ts: ts, bytes: b });
                        }
                        Err(ReplicaError::UnexpectedOffset { expected, got }) => {
                            prop_assert!(skew != 0);
                            prop_assert_eq!((expected, got), (ring.next_offset(), want));
                        }
                        Err(ReplicaError::Append(AppendError::TooLarge { .. })) => prop_assert!(b.len() > seg as usize),
                        Err(ReplicaError::Append(AppendError::RingFull)) => prop_assert!(reject),
                        Err(e) => prop_assert!(false, "replica append failed: {:?}", e),
                    }
                }
            }
            // The model keeps what the ring still holds.
            let start = ring.log_start();
            model.retain(|s| s.base >= start);
            prop_assert_eq!(model.first().map(|s| s.base).unwrap_or(ring.next_offset()), start);
            if let Err(ReadError::OffsetOutOfRange { .. }) = ring.read(start.wrapping_sub(1), 100) {
            } else if start > 0 {
                prop_assert!(false, "reading below the log start must fail");
            }
        }
        let from = ring.log_start();
        let all = read_all(&mut ring, from, 4096);
        prop_assert_eq!(all.len(), model.len());
        for (a, m) in all.iter().zip(&model) {
            prop_assert_eq!(&a.bytes, &m.bytes);
        }
    }
}

/// One seeded crash run: appends, syncs and checkpoints at random, crashes,
/// reopens, checks, and goes on; three crashes per seed.
fn crash_run(seed: u64, model_kind: CrashModel) {
    let mut rng = Rng::new(seed);
    let cfg = RingConfig {
        slots: 2 + rng.below(4) as u16,
        segment_bytes: 2048 + rng.below(6144) as u32,
        index_interval: 64 + rng.below(1024) as u32,
        policy: FullPolicy::OverwriteOldest,
    };
    let mut ring = Ring::create(CrashBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    let mut history: Vec<Stored> = Vec::new();
    // Every batch ever written: an unsynced batch lost at one crash may come
    // back at a later one (it is valid data a client sent; never acked).
    let mut ever: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut checkpoint = Checkpoint::default();
    for round in 0..3 {
        let steps = 1 + rng.below(120);
        for i in 0..steps {
            match rng.below(10) {
                0..=6 => {
                    let body = rng.below(900) as usize;
                    let count = 1 + rng.below(8) as i32;
                    let ts = rng.below(10_000) as i64;
                    let mut b = make_batch(body, count, ts, (seed as u8) ^ (i as u8) ^ round);
                    let a = if rng.below(3) == 0 {
                        // A follower's append of the leader's batch.
                        b[..8].copy_from_slice(&(ring.next_offset() as i64).to_be_bytes());
                        b[12..16].copy_from_slice(&(round as i32 + 10).to_be_bytes());
                        ring.append_replica(&b).unwrap()
                    } else {
                        let a = ring.append(&b, round as i32).unwrap();
                        stamp(&mut b, a.base_offset as i64, round as i32);
                        a
                    };
                    history.retain(|s| s.base < a.base_offset);
                    ever.push((a.base_offset, b.clone()));
                    history.push(Stored {
                        base: a.base_offset,
                        last: a.last_offset,
                        max_ts: ts,
                        bytes: b,
                    });
                }
                7 | 8 => {
                    ring.sync().unwrap();
                }
                _ => {
                    checkpoint = ring.checkpoint().unwrap();
                }
            }
        }
        let synced = ring.synced_offset();
        let log_start = ring.log_start();
        let mut backend = std::mem::replace(ring.backend_mut(), CrashBackend::new(sizes(&cfg)));
        backend.crash(&mut rng, model_kind);
        let (reopened, report) = Ring::open(backend, cfg, &checkpoint)
            .unwrap_or_else(|e| panic!("seed {seed}: recovery failed: {e:?}"));
        ring = reopened;
        assert_eq!(ring.log_start(), log_start, "seed {seed}: log start moved");
        assert!(
            ring.next_offset() >= synced,
            "seed {seed}: lost synced data ({} < {synced}) {report:?}",
            ring.next_offset()
        );
        let served = read_all(&mut ring, log_start, 1 + rng.below(8192) as u32);
        // Every synced batch is there, byte for byte.
        for h in history
            .iter()
            .filter(|s| s.base >= log_start && s.last < synced)
        {
            let got = served.iter().find(|s| s.base == h.base);
            assert_eq!(
                got.map(|g| &g.bytes),
                Some(&h.bytes),
                "seed {seed}: synced batch {} lost or changed",
                h.base
            );
        }
        // Whatever else is served is a batch that was really written there.
        for s in &served {
            // Beyond the synced offset, a torn header can re-stamp a stale
            // batch of the recycled space with a new offset (baseOffset is
            // outside the CRC): its content is still a batch a client sent.
            // The stamped prefix (offset, length, epoch) and the rest are
            // separate writes, so the epoch there may be a stale one too.
            let genuine = if s.base < synced {
                ever.iter()
                    .any(|(b, bytes)| *b == s.base && *bytes == s.bytes)
            } else {
                ever.iter().any(|(_, bytes)| bytes[16..] == s.bytes[16..])
            };
            assert!(
                genuine,
                "seed {seed}: served a batch never written at {}",
                s.base
            );
        }
        // The model now is what the ring holds, and what it accepted (a
        // re-stamped stale batch included) is what later rounds may serve.
        ever.extend(served.iter().map(|s| (s.base, s.bytes.clone())));
        history = served;
        checkpoint = ring.checkpoint().unwrap();
    }
}

#[test]
fn crash_recovery_ordered_prefix_keeps_synced_and_serves_only_valid() {
    for seed in 0..4000 {
        crash_run(seed, CrashModel::OrderedPrefix);
    }
}

#[test]
fn crash_recovery_any_subset_keeps_synced_and_serves_only_valid() {
    for seed in 10_000..14_000 {
        crash_run(seed, CrashModel::AnySubset);
    }
}

#[test]
fn corrupt_batch_in_the_middle_is_quarantined_and_later_batches_served() {
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 8192,
        index_interval: 256,
        policy: FullPolicy::OverwriteOldest,
    };
    let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    let mut positions = Vec::new();
    for i in 0..10 {
        let b = make_batch(200, 2, i, i as u8);
        positions.push(ring.append(&b, 0).unwrap());
    }
    ring.checkpoint().unwrap();
    let mut backend = ring.backend().clone();
    // Flip a byte inside batch 4's records (offsets 8 and 9).
    let p = positions[4];
    backend.bytes_mut(pipit::storage::FileId::log(p.slot))[p.position as usize + 100] ^= 0xff;
    let (mut ring, report) = Ring::open(backend, cfg, &Checkpoint::default()).unwrap();
    assert_eq!(report.holes.as_slice(), &[(8, 10)]);
    assert_eq!(ring.next_offset(), 20);
    let served = read_all(&mut ring, 0, 100_000);
    let bases: Vec<u64> = served.iter().map(|s| s.base).collect();
    assert_eq!(bases, vec![0, 2, 4, 6, 10, 12, 14, 16, 18]);
    // Reading an offset inside the hole serves the next valid batch.
    assert_eq!(ring.read(8, 1).unwrap().unwrap().first_offset, 10);
    // A restart that trusts the synced part learns the hole from the checkpoint.
    let cp = ring.checkpoint().unwrap();
    assert_eq!(cp.recovery_point, 20);
    assert_eq!(cp.holes.len(), 1);
    let backend = ring.backend().clone();
    let (mut ring, report) = Ring::open(backend, cfg, &cp).unwrap();
    assert!(
        report.batches_scanned < 10,
        "the trusted part is not re-read"
    );
    let again: Vec<u64> = read_all(&mut ring, 0, 100_000)
        .iter()
        .map(|s| s.base)
        .collect();
    assert_eq!(again, bases);
}

#[test]
fn stale_bytes_in_a_recycled_slot_never_pass() {
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 4096,
        index_interval: 512,
        policy: FullPolicy::OverwriteOldest,
    };
    let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    // Fill both slots, then recycle the first with one small batch.
    for i in 0..((4096 / 561) * 2) {
        let b = make_batch(500, 1, i, 1);
        ring.append(&b, 0).unwrap();
    }
    let b = make_batch(500, 1, 99, 2);
    let a = ring.append(&b, 0).unwrap();
    assert!(a.rolled);
    let end = ring.next_offset();
    let backend = ring.backend().clone();
    let (mut ring, report) = Ring::open(backend, cfg, &Checkpoint::default()).unwrap();
    assert_eq!(
        ring.next_offset(),
        end,
        "stale batches after the new one must not be taken"
    );
    assert_eq!(report.torn_tails, 0);
    assert!(report.holes.is_empty());
    let from = ring.log_start();
    assert_eq!(
        read_all(&mut ring, from, 1 << 20).last().unwrap().base,
        a.base_offset
    );
}

#[test]
fn reject_new_hands_the_batch_back_and_release_makes_room() {
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 2048,
        index_interval: 512,
        policy: FullPolicy::RejectNew,
    };
    let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    let mut n = 0;
    loop {
        let b = make_batch(900, 1, 0, 1);
        match ring.append(&b, 0) {
            Ok(_) => n += 1,
            Err(AppendError::RingFull) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(n < 100);
    }
    assert_eq!(n, 4);
    assert_eq!(ring.next_offset(), 4);
    assert_eq!(ring.release_oldest().unwrap(), Some(2));
    let b = make_batch(900, 1, 0, 1);
    assert_eq!(ring.append(&b, 0).unwrap().base_offset, 4);
    let big = make_batch(2048, 1, 0, 1);
    assert!(matches!(
        ring.append(&big, 0),
        Err(AppendError::TooLarge { .. })
    ));
}

/// A backend that counts syncs (and otherwise is the in-memory one).
struct CountingSyncs {
    inner: MemBackend,
    syncs: usize,
}

impl Backend for CountingSyncs {
    type Error = <MemBackend as Backend>::Error;
    fn read_at(
        &mut self,
        f: pipit::storage::FileId,
        pos: u64,
        buf: &mut [u8],
    ) -> Result<(), Self::Error> {
        self.inner.read_at(f, pos, buf)
    }
    fn write_at(
        &mut self,
        f: pipit::storage::FileId,
        pos: u64,
        data: &[u8],
    ) -> Result<(), Self::Error> {
        self.inner.write_at(f, pos, data)
    }
    fn sync(&mut self, f: pipit::storage::FileId) -> Result<(), Self::Error> {
        self.syncs += 1;
        self.inner.sync(f)
    }
    fn capacity(&self, f: pipit::storage::FileId) -> u64 {
        self.inner.capacity(f)
    }
    fn label(&self, slot: u16) -> Option<u64> {
        self.inner.label(slot)
    }
    fn relabel(&mut self, slot: u16, base: Option<u64>) -> Result<(), Self::Error> {
        self.inner.relabel(slot, base)
    }
}

#[test]
fn refused_appends_under_reject_new_sync_nothing() {
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 2048,
        index_interval: 512,
        policy: FullPolicy::RejectNew,
    };
    let backend = CountingSyncs {
        inner: MemBackend::new(sizes(&cfg)),
        syncs: 0,
    };
    let mut ring = Ring::create(backend, cfg, 0).unwrap();
    for _ in 0..4 {
        ring.append(&make_batch(900, 1, 0, 1), 0).unwrap();
    }
    let b = make_batch(900, 1, 0, 1);
    assert_eq!(ring.append(&b, 0), Err(AppendError::RingFull));
    let before = ring.backend().syncs;
    for _ in 0..100 {
        assert_eq!(ring.append(&b, 0), Err(AppendError::RingFull));
    }
    assert_eq!(
        ring.backend().syncs,
        before,
        "a retrying producer must not turn into a stream of syncs"
    );
}

#[test]
fn a_protected_mark_keeps_a_reject_new_ring_full_until_it_moves() {
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 2048,
        index_interval: 512,
        policy: FullPolicy::RejectNew,
    };
    let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    for _ in 0..4 {
        ring.append(&make_batch(900, 1, 0, 1), 0).unwrap();
    }
    // Slot 0 holds offsets 0 and 1; a group has consumed only offset 0.
    ring.set_protected(1);
    assert_eq!(ring.release_oldest().unwrap(), None);
    let b = make_batch(900, 1, 0, 1);
    assert_eq!(ring.append(&b, 0), Err(AppendError::RingFull));
    ring.set_protected(2);
    assert_eq!(ring.release_oldest().unwrap(), Some(2));
    assert_eq!(ring.append(&b, 0).unwrap().base_offset, 4);
}
