//! Crashes the `ring_open` fuzz target found in recovery and the read path,
//! each rebuilt by hand as a behaviour test (the raw inputs are replayed by
//! `tests/fuzz_corpus.rs` from `fuzz/regressions/ring_open/`). Each test
//! opens with a one-line postmortem: what went wrong and why.

use pipit::storage::batch::{self, CRC32C, RecordBatch, build_test_batch};
use pipit::storage::index::{INDEX_ENTRY_LEN, IndexEntry};
use pipit::storage::sim::{MemBackend, Sizes};
use pipit::storage::{Backend, Checkpoint, FileId, FullPolicy, Ring, RingConfig};

fn cfg(slots: u16) -> RingConfig {
    RingConfig {
        slots,
        segment_bytes: 4096,
        index_interval: 1,
        policy: FullPolicy::OverwriteOldest,
    }
}

fn backend(cfg: &RingConfig) -> MemBackend {
    MemBackend::new(Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    })
}

/// Writes at byte `pos` of slot `slot` a CRC-valid batch of two records
/// with base offset `base` whose header claims `last_offset_delta`.
fn put_batch(
    b: &mut MemBackend,
    slot: u16,
    pos: usize,
    base: u64,
    last_offset_delta: i32,
) -> usize {
    let mut buf = vec![0u8; 261];
    let n = build_test_batch(&mut buf, 200, 2, 1, 7).unwrap();
    buf[batch::BASE_OFFSET].copy_from_slice(&(base as i64).to_be_bytes());
    buf[batch::LAST_OFFSET_DELTA].copy_from_slice(&last_offset_delta.to_be_bytes());
    let crc = CRC32C.checksum(&buf[batch::CRC_START..n]);
    buf[batch::CRC].copy_from_slice(&crc.to_be_bytes());
    b.bytes_mut(FileId::log(slot))[pos..pos + n].copy_from_slice(&buf[..n]);
    n
}

/// Serves everything from the log start, checking each batch; returns the
/// base offsets served, after checking a new append is served back.
fn served_then_append(ring: &mut Ring<MemBackend>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = ring.log_start();
    for _ in 0..1_000 {
        let Some(span) = ring.read(at, 1 << 20).unwrap() else {
            break;
        };
        assert!(span.next_offset > at, "no progress at {at}: {span:?}");
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
    let mut b = vec![0u8; 261];
    build_test_batch(&mut b, 200, 2, 1, 9).unwrap();
    let a = ring.append(&b, 0).unwrap();
    let back = ring.read(a.base_offset, 1 << 20).unwrap();
    assert_eq!(
        back.map(|s| s.first_offset),
        Some(a.base_offset),
        "a batch appended after recovery is served back"
    );
    out
}

#[test]
fn a_batch_whose_offsets_run_past_the_next_slot_is_not_served() {
    // Postmortem: recovery took a CRC-valid batch of slot 0 whose lastOffsetDelta ran past slot 1's base, so reads of later offsets (and of a new append) returned that stray batch.
    let cfg = cfg(3);
    let mut b = backend(&cfg);
    for (slot, base) in [(0u16, 21u64), (1, 42), (2, 63)] {
        b.relabel(slot, Some(base)).unwrap();
    }
    put_batch(&mut b, 0, 0, 21, 1 << 27);
    put_batch(&mut b, 1, 0, 42, 1);
    put_batch(&mut b, 2, 0, 63, 1);
    let (mut ring, report) = Ring::open(b, cfg, &Checkpoint::default()).unwrap();
    assert_eq!(report.holes.first(), Some(&(21, 42)), "{report:?}");
    assert_eq!(ring.next_offset(), 65);
    assert_eq!(served_then_append(&mut ring), vec![42, 63]);
}

#[test]
fn an_index_entry_past_u64_max_in_a_slot_labelled_near_it_is_ignored() {
    // Postmortem: `base + entry.rel` overflowed (a panic in debug, a wrapped offset in release) when a slot's label was near u64::MAX and a damaged batch sent recovery to the index.
    let cfg = cfg(2);
    let mut b = backend(&cfg);
    let base = u64::MAX - 3;
    b.relabel(0, Some(10)).unwrap();
    b.relabel(1, Some(base)).unwrap();
    put_batch(&mut b, 0, 0, 10, 1);
    // Slot 1: garbage where its first batch should be, and index entries
    // whose offsets pass u64::MAX.
    b.bytes_mut(FileId::log(1))[..100].fill(0x55);
    for (k, e) in [
        IndexEntry { rel: 0, pos: 0 },
        IndexEntry {
            rel: u32::MAX,
            pos: 300,
        },
    ]
    .iter()
    .enumerate()
    {
        let at = k * INDEX_ENTRY_LEN as usize;
        b.bytes_mut(FileId::index(1))[at..at + 8].copy_from_slice(&e.encode());
    }
    let cp = Checkpoint {
        recovery_point: u64::MAX,
        ..Checkpoint::default()
    };
    let (mut ring, _) = Ring::open(b, cfg, &cp).unwrap();
    let mut at = ring.log_start();
    for _ in 0..100 {
        let Some(span) = ring.read(at, 1 << 20).unwrap() else {
            break;
        };
        assert!(span.next_offset > at, "no progress at {at}: {span:?}");
        at = span.next_offset;
    }
}
