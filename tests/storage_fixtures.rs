//! On-disk fixtures of a partition directory, opened the way the broker opens
//! them: `tests/fixtures/segments/valid` (a 3 × 4 KiB ring that wrapped once)
//! and `tests/fixtures/segments/corrupt` (the same bytes with one flipped byte
//! inside a batch of a full slot and garbage over the tail of the active
//! slot). Fixtures are copied to a temp dir first: opening rebuilds indexes.
//!
//! Regenerate with
//! `cargo test --test storage_fixtures -- --ignored regenerate_fixtures`.

use std::path::{Path, PathBuf};

use pipit::log::file_backend::FileBackend;
use pipit::storage::batch::{RecordBatch, build_test_batch};
use pipit::storage::{Backend, Checkpoint, FullPolicy, Ring, RingConfig};

const CFG: RingConfig = RingConfig {
    slots: 3,
    segment_bytes: 4096,
    index_interval: 256,
    policy: FullPolicy::OverwriteOldest,
};
/// Batches written: 3 records each, 500-byte bodies (561 bytes, 7 per slot).
const BATCHES: u64 = 24;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segments")
}

/// A copy of fixture `name` in a temp dir of its own (`tag` tells tests apart).
fn copy_to_temp(name: &str, tag: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!("pipit-fixture-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst
}

/// Every batch served from the log start, checked.
fn served(ring: &mut Ring<FileBackend>) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = ring.log_start();
    while let Some(span) = ring.read(at, 1 << 20).unwrap() {
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

fn expected_batch(i: u64) -> Vec<u8> {
    let mut b = vec![0u8; 561];
    build_test_batch(&mut b, 500, 3, 1_700_000_000_000 + i as i64, i as u8).unwrap();
    b[..8].copy_from_slice(&((i * 3) as i64).to_be_bytes());
    b[12..16].copy_from_slice(&0i32.to_be_bytes());
    b
}

#[test]
fn valid_fixture_opens_with_every_batch_intact() {
    let dir = copy_to_temp("valid", "valid");
    let backend = FileBackend::open(&dir, &CFG).unwrap();
    let (mut ring, report) = Ring::open(backend, CFG, &Checkpoint::default()).unwrap();
    assert_eq!(report.torn_tails, 0);
    assert!(report.holes.is_empty());
    assert_eq!(ring.next_offset(), BATCHES * 3);
    assert_eq!(
        ring.log_start(),
        7 * 3,
        "the ring wrapped: the first slot was recycled"
    );
    let got = served(&mut ring);
    assert_eq!(got.len() as u64, BATCHES - 7);
    for (base, bytes) in got {
        assert_eq!(bytes, expected_batch(base / 3), "batch at {base}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupt_fixture_quarantines_the_bad_batch_and_cuts_the_torn_tail() {
    let dir = copy_to_temp("corrupt", "corrupt");
    let backend = FileBackend::open(&dir, &CFG).unwrap();
    let (mut ring, report) = Ring::open(backend, CFG, &Checkpoint::default()).unwrap();
    // Batch 11 (offsets 33..36) has a flipped byte; batch 23 (the last) is torn.
    assert_eq!(report.holes.as_slice(), &[(33, 36)]);
    assert_eq!(report.torn_tails, 1);
    assert_eq!(ring.next_offset(), 23 * 3);
    let got = served(&mut ring);
    let bases: Vec<u64> = got.iter().map(|(b, _)| b / 3).collect();
    let want: Vec<u64> = (7..23).filter(|&i| i != 11).collect();
    assert_eq!(bases, want);
    for (base, bytes) in got {
        assert_eq!(bytes, expected_batch(base / 3));
    }
    // The broker goes on: the next append takes the cut offset.
    let b = expected_batch(0);
    assert_eq!(ring.append(&b, 0).unwrap().base_offset, 23 * 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupt_fixture_under_a_trusting_checkpoint_serves_only_checked_batches() {
    let dir = copy_to_temp("corrupt", "corrupt-trusted");
    let backend = FileBackend::open(&dir, &CFG).unwrap();
    // The checkpoint says everything up to the torn batch was synced, so
    // recovery re-reads only the newest slot's tail.
    let cp = Checkpoint {
        recovery_point: 23 * 3,
        ..Checkpoint::default()
    };
    let (mut ring, report) = Ring::open(backend, CFG, &cp).unwrap();
    assert!(
        report.holes.is_empty(),
        "the flipped byte is in trusted data"
    );
    assert_eq!(ring.next_offset(), 23 * 3);
    let _ = ring.take_quarantined();
    let got = served(&mut ring);
    let bases: Vec<u64> = got.iter().map(|(b, _)| b / 3).collect();
    let want: Vec<u64> = (7..23).filter(|&i| i != 11).collect();
    assert_eq!(bases, want);
    let q = ring.take_quarantined();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].slot_base, 21);
    assert_eq!((q[0].start, q[0].end), (4 * 561, 5 * 561));
    assert_eq!((q[0].first_offset, q[0].next_offset), (33, 36));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "writes tests/fixtures/segments; run by hand when the format changes"]
fn regenerate_fixtures() {
    let root = fixtures();
    let _ = std::fs::remove_dir_all(&root);
    let valid = root.join("valid");
    let backend = FileBackend::create(&valid, &CFG).unwrap();
    let mut ring = Ring::create(backend, CFG, 0).unwrap();
    let mut last = None;
    for i in 0..BATCHES {
        let b = expected_batch(i);
        last = Some(ring.append(&b, 0).unwrap());
    }
    ring.checkpoint().unwrap();
    // Where batch 11 lives, for the corrupt copy.
    let mut where11 = None;
    let span = ring.read(33, 1).unwrap().unwrap();
    if span.first_offset == 33 {
        where11 = Some((span.slot, span.position));
    }
    let names: Vec<(u16, String)> = (0..CFG.slots)
        .map(|n| {
            let stem = match ring.backend().label(n) {
                Some(b) => format!("{b:020}"),
                None => format!("free-{n:02}"),
            };
            (n, stem)
        })
        .collect();
    drop(ring);
    let corrupt = root.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    for e in std::fs::read_dir(&valid).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), corrupt.join(e.file_name())).unwrap();
    }
    let (slot, pos) = where11.unwrap();
    let stem = &names[slot as usize].1;
    let log = corrupt.join(format!("{stem}.log"));
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[pos as usize + 300] ^= 0xff;
    std::fs::write(&log, bytes).unwrap();
    let last = last.unwrap();
    let stem = &names[last.slot as usize].1;
    let log = corrupt.join(format!("{stem}.log"));
    let mut bytes = std::fs::read(&log).unwrap();
    let at = last.position as usize + 200;
    bytes[at..at + 100].fill(0xa5);
    std::fs::write(&log, bytes).unwrap();
}
