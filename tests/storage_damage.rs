//! Damaged data never stops the ring from opening and is never served:
//! only batches whose CRC was checked since open (or since they were
//! written) leave the ring; damage becomes a quarantined hole, reported once,
//! and intact batches around it stay readable.

use pipit::storage::batch::{RecordBatch, build_test_batch};
use pipit::storage::index::{INDEX_ENTRY_LEN, IndexEntry};
use pipit::storage::sim::{MemBackend, Sizes};
use pipit::storage::{Backend, Checkpoint, FileId, FullPolicy, Ring, RingConfig};

fn sizes(cfg: &RingConfig) -> Sizes {
    Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    }
}

fn cfg(slots: u16, segment_bytes: u32, index_interval: u32) -> RingConfig {
    RingConfig {
        slots,
        segment_bytes,
        index_interval,
        policy: FullPolicy::OverwriteOldest,
    }
}

/// A ring of `n` batches of two records each (offsets 2i, 2i+1), 261 bytes
/// each, checkpointed; returns the backend, where each batch went and the
/// checkpoint.
fn written(cfg: RingConfig, n: usize) -> (MemBackend, Vec<(u16, u32, u64)>, Checkpoint) {
    let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
    let mut at = Vec::new();
    for i in 0..n {
        let mut b = vec![0u8; 261];
        build_test_batch(&mut b, 200, 2, i as i64, i as u8).unwrap();
        let a = ring.append(&b, 0).unwrap();
        at.push((a.slot, a.position, a.base_offset));
    }
    let cp = ring.checkpoint().unwrap();
    (ring.backend().clone(), at, cp)
}

/// Base offsets of every batch served from the log start; each is checked.
fn served_bases<B: Backend>(ring: &mut Ring<B>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = ring.log_start();
    for _ in 0..10_000 {
        let Some(span) = ring.read(at, 1 << 20).unwrap() else {
            break;
        };
        let mut buf = vec![0u8; span.len as usize];
        ring.read_span(&span, &mut buf).unwrap();
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let v = RecordBatch::new_checked(rest).expect("only CRC-valid batches are served");
            out.push(v.header().base_offset as u64);
            rest = &rest[v.total_len()..];
        }
        at = span.next_offset;
    }
    out
}

fn all_but(n: u64, lost: &[u64]) -> Vec<u64> {
    (0..n)
        .map(|i| i * 2)
        .filter(|o| !lost.contains(o))
        .collect()
}

#[test]
fn flipped_byte_in_a_synced_batch_is_quarantined_at_read_and_reported_once() {
    let cfg = cfg(2, 8192, 512);
    let (mut backend, at, cp) = written(cfg, 10);
    let (slot, pos, _) = at[4];
    backend.bytes_mut(FileId::log(slot))[pos as usize + 100] ^= 0xff;
    // The checkpoint trusts everything: recovery reads nothing back.
    let (mut ring, report) = Ring::open(backend, cfg, &cp).unwrap();
    assert!(report.holes.is_empty());
    assert_eq!(served_bases(&mut ring), all_but(10, &[8]));
    let q = ring.take_quarantined();
    assert_eq!(q.len(), 1, "reported once: {q:?}");
    let q = q[0];
    assert_eq!((q.slot, q.slot_base), (slot, 0));
    assert_eq!((q.start, q.end), (pos, pos + 261));
    assert_eq!((q.first_offset, q.next_offset), (8, 10));
    // Reading again reports nothing new; an offset inside the hole serves
    // the next valid batch.
    assert_eq!(served_bases(&mut ring), all_but(10, &[8]));
    assert_eq!(ring.read(9, 1).unwrap().unwrap().first_offset, 10);
    assert!(ring.take_quarantined().is_empty());
    assert_eq!(ring.quarantined_total(), 1);
    // The hole is in the next checkpoint, so a restart does not serve it either.
    let cp = ring.checkpoint().unwrap();
    let (mut ring, _) = Ring::open(ring.backend().clone(), cfg, &cp).unwrap();
    assert_eq!(served_bases(&mut ring), all_but(10, &[8]));
}

#[test]
fn bad_header_byte_in_the_newest_slot_opens_and_serves_what_is_intact() {
    let cfg = cfg(2, 8192, 512);
    let (backend, at, cp) = written(cfg, 10);
    let (slot, pos, _) = at[3];
    for checkpoint in [cp, Checkpoint::default()] {
        let mut b = backend.clone();
        b.bytes_mut(FileId::log(slot))[pos as usize + 16] = 7; // magic
        let (mut ring, _) = Ring::open(b, cfg, &checkpoint).unwrap();
        let mut seen = Vec::new();
        ring.for_each_header_from(0, |h| seen.push(h.base_offset as u64))
            .unwrap();
        assert!(!seen.contains(&6), "the damaged batch's header is not used");
        assert_eq!(served_bases(&mut ring), all_but(10, &[6]));
    }
}

#[test]
fn bad_header_in_an_older_slot_keeps_later_offsets_readable() {
    // 31 batches per slot; the index has one entry (interval > slot), so only
    // a scan can find the batches after the damage.
    let cfg = cfg(3, 8192, 1 << 20);
    let (backend, at, cp) = written(cfg, 40);
    assert_eq!(at[5].0, at[0].0);
    assert_ne!(at[35].0, at[0].0);
    let (slot, pos, _) = at[5];
    for checkpoint in [cp, Checkpoint::default()] {
        let mut b = backend.clone();
        b.bytes_mut(FileId::log(slot))[pos as usize + 9] ^= 0x40; // batchLength
        let (mut ring, _) = Ring::open(b, cfg, &checkpoint).unwrap();
        assert_eq!(ring.next_offset(), 80);
        assert_eq!(served_bases(&mut ring), all_but(40, &[10]));
        for o in (0..80).filter(|o| !(10..12).contains(o)) {
            let span = ring.read(o, 1).unwrap().unwrap();
            assert!(span.first_offset <= o && o < span.next_offset, "offset {o}");
        }
    }
}

#[test]
fn a_corrupt_but_ordered_index_entry_does_not_hide_an_offset() {
    // An entry every second batch: entry k points at batch 2k.
    let cfg = cfg(2, 8192, 512);
    let (mut backend, at, cp) = written(cfg, 20);
    let slot = at[0].0;
    // Entry 3 points at batch 6 (offset 12); point it one batch further on
    // (still before entry 4's batch 8, so the index stays ordered).
    let k = 3u64;
    let idx = backend.bytes_mut(FileId::index(slot));
    let e = IndexEntry::decode(
        idx[(k * INDEX_ENTRY_LEN) as usize..((k + 1) * INDEX_ENTRY_LEN) as usize]
            .try_into()
            .unwrap(),
    );
    assert_eq!((e.rel, e.pos), (12, at[6].1));
    let wrong = IndexEntry {
        rel: e.rel,
        pos: at[7].1,
    };
    idx[(k * INDEX_ENTRY_LEN) as usize..((k + 1) * INDEX_ENTRY_LEN) as usize]
        .copy_from_slice(&wrong.encode());
    let (mut ring, _) = Ring::open(backend, cfg, &cp).unwrap();
    for o in 0..40 {
        let span = ring.read(o, 1).unwrap().unwrap();
        assert!(
            span.first_offset <= o && o < span.next_offset,
            "offset {o} served as {span:?}"
        );
    }
    assert!(ring.take_quarantined().is_empty(), "nothing was damaged");
}

#[test]
fn a_checkpoint_that_disagrees_with_the_files_is_only_a_hint() {
    let cfg = cfg(2, 8192, 256);
    let (backend, _, cp) = written(cfg, 20);
    let mut bogus = cp.clone();
    bogus.recovery_point = 1_000_000;
    // A hole over intact data, in the trusted part.
    let _ = bogus.holes.push((
        0,
        pipit::storage::ring::Hole {
            start: 261,
            end: 522,
            first_offset: 2,
            next_offset: 4,
        },
    ));
    let (mut ring, _) = Ring::open(backend.clone(), cfg, &bogus).unwrap();
    assert_eq!(ring.next_offset(), 40);
    assert_eq!(served_bases(&mut ring), all_but(20, &[]));
}

#[test]
fn two_slots_with_the_same_label_still_open() {
    let cfg = cfg(3, 4096, 256);
    let (mut backend, at, cp) = written(cfg, 20);
    let newest = at[19].0;
    let other = (0..3)
        .find(|&n| n != newest && backend.label(n).is_some())
        .unwrap();
    let label = backend.label(other);
    backend.relabel(newest, label).unwrap();
    for checkpoint in [cp, Checkpoint::default()] {
        let (mut ring, _) = Ring::open(backend.clone(), cfg, &checkpoint).unwrap();
        let served = served_bases(&mut ring);
        assert!(!served.is_empty());
    }
}

mod random_damage {
    use super::*;
    use pipit::storage::FileKind;
    use proptest::prelude::*;

    /// A flipped byte: which file of which slot, where (taken modulo the
    /// file's size) and the XOR mask.
    #[derive(Debug, Clone)]
    struct Flip {
        kind: u8,
        slot: u16,
        pos: u32,
        mask: u8,
    }

    fn flip() -> impl Strategy<Value = Flip> {
        (0u8..4, 0u16..3, any::<u32>(), 1u8..=255).prop_map(|(kind, slot, pos, mask)| Flip {
            kind,
            slot,
            pos,
            mask,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Flipped bytes anywhere (log twice as often as each index): the ring
        /// opens, serves only CRC-valid batches with growing offsets, and,
        /// under a checkpoint that trusts everything (so recovery reads
        /// nothing back), every batch whose bytes were not touched is served
        /// and readable at each of its offsets.
        #[test]
        fn damage_never_stops_open_nor_hides_intact_batches(
            bodies in prop::collection::vec(0usize..700, 5..60),
            interval in 200u32..3000,
            flips in prop::collection::vec(flip(), 1..4),
            trusted in any::<bool>(),
        ) {
            let cfg = cfg(3, 8192, interval);
            let mut ring = Ring::create(MemBackend::new(sizes(&cfg)), cfg, 0).unwrap();
            let mut stored = Vec::new();
            for (i, body) in bodies.iter().enumerate() {
                let mut b = vec![0u8; 61 + body];
                build_test_batch(&mut b, *body, 1 + (i % 3) as i32, i as i64, i as u8).unwrap();
                let a = ring.append(&b, 0).unwrap();
                stored.push((a.slot, a.position, a.base_offset, a.last_offset, b));
            }
            let cp = if trusted { ring.checkpoint().unwrap() } else { Checkpoint::default() };
            let start = ring.log_start();
            let end = ring.next_offset();
            let mut backend = ring.backend().clone();
            let mut touched = Vec::new();
            for f in &flips {
                let file = match f.kind {
                    0 | 1 => FileId::log(f.slot),
                    2 => FileId::index(f.slot),
                    _ => FileId::time_index(f.slot),
                };
                let bytes = backend.bytes_mut(file);
                let at = f.pos as usize % bytes.len();
                bytes[at] ^= f.mask;
                if file.kind == FileKind::Log {
                    touched.push((f.slot, at as u32));
                }
            }
            let (mut ring, _) = Ring::open(backend, cfg, &cp).unwrap();
            prop_assert_eq!(ring.log_start(), start);
            let served = served_bases(&mut ring);
            prop_assert!(served.windows(2).all(|w| w[0] < w[1]));
            if trusted {
                prop_assert_eq!(ring.next_offset(), end);
                for (slot, pos, base, last, b) in stored.iter().filter(|s| s.2 >= start) {
                    let hit = touched
                        .iter()
                        .any(|(s, p)| s == slot && *p >= *pos && (*p as usize) < *pos as usize + b.len());
                    if hit {
                        continue;
                    }
                    prop_assert!(served.contains(base), "intact batch {} not served: {:?}", base, served);
                    for o in *base..=*last {
                        let span = ring.read(o, 1).unwrap().unwrap();
                        prop_assert_eq!(span.first_offset, *base, "offset {}", o);
                    }
                }
            }
        }
    }
}
