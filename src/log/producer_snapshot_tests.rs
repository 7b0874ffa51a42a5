//! Idempotence across a reopen of a real partition directory: the snapshot,
//! the replay after it, and the full rebuild when it is missing or corrupt.

use std::path::{Path, PathBuf};

use crate::log::partition::Partition;
use crate::log::topic_config::TopicValues;
use crate::storage::batch::{CRC32C, build_test_batch};

fn values() -> TopicValues {
    TopicValues::for_tests(64 * 1024, 4)
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pipit-psnap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d.join("t-0")
}

/// Wall-clock ms, as the owner passes it (producer expiry is measured on it).
fn now() -> i64 {
    crate::log::partition::wall_ms()
}

/// A one-record batch of `pid`/`epoch` at sequence `seq` (pid -1: not idempotent).
pub(crate) fn batch(pid: i64, epoch: i16, seq: i32, body: usize) -> Vec<u8> {
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, 1, 1_700_000_000_000, seq as u8).unwrap();
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = CRC32C.checksum(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Producer 7 writes seq 0 and 1 into the first slot; plain batches then fill
/// more than a slot, so the ring rolls and the newest slot has none of 7's.
fn write_then_roll(dir: &Path) -> (u64, u64) {
    let mut p = Partition::create(dir, &values()).unwrap();
    let first = p.append(&batch(7, 0, 0, 100), now()).unwrap().base_offset;
    let second = p.append(&batch(7, 0, 1, 100), now()).unwrap().base_offset;
    for _ in 0..100 {
        p.append(&batch(-1, -1, -1, 1000), now()).unwrap();
    }
    assert!(p.usage().0 >= 2, "the ring rolled");
    p.close().unwrap();
    (first, second)
}

fn assert_retries_are_duplicates(dir: &Path, first: u64, second: u64) {
    let (mut p, _) = Partition::open(dir, &values()).unwrap();
    let end = p.log_end();
    let a = p.append(&batch(7, 0, 0, 100), now()).unwrap();
    assert!(a.duplicate, "seq 0 is answered as a duplicate");
    assert_eq!(a.base_offset, first);
    let b = p.append(&batch(7, 0, 1, 100), now()).unwrap();
    assert!(b.duplicate);
    assert_eq!(b.base_offset, second);
    assert_eq!(p.log_end(), end, "nothing written twice");
    let c = p.append(&batch(7, 0, 2, 100), now()).unwrap();
    assert_eq!(
        (c.duplicate, c.base_offset),
        (false, end),
        "the next one follows"
    );
}

#[test]
fn a_retry_of_a_batch_in_an_older_slot_is_a_duplicate_after_reopen() {
    let dir = tmpdir("older-slot");
    let (first, second) = write_then_roll(&dir);
    assert_retries_are_duplicates(&dir, first, second);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn without_a_snapshot_the_state_is_rebuilt_from_every_slot() {
    for damage in ["delete", "garble"] {
        let dir = tmpdir(damage);
        let (first, second) = write_then_roll(&dir);
        for ext in ["a", "b"] {
            let f = dir.join(format!("producer-state.{ext}"));
            match damage {
                "delete" => {
                    let _ = std::fs::remove_file(&f);
                }
                _ => {
                    if f.exists() {
                        std::fs::write(&f, b"PPST garbage that is no state file").unwrap();
                    }
                }
            }
        }
        assert_retries_are_duplicates(&dir, first, second);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

#[test]
fn batches_after_the_snapshot_are_replayed() {
    // The snapshot written at the roll knows seq 0; seq 1 comes after it and
    // the partition is dropped without close (as SIGKILL would).
    let dir = tmpdir("replay");
    let mut p = Partition::create(&dir, &values()).unwrap();
    let first = p.append(&batch(7, 0, 0, 100), now()).unwrap().base_offset;
    for _ in 0..70 {
        p.append(&batch(-1, -1, -1, 1000), now()).unwrap();
    }
    assert!(p.usage().0 >= 2, "the ring rolled");
    let second = p.append(&batch(7, 0, 1, 100), now()).unwrap().base_offset;
    p.sync().unwrap();
    drop(p);
    assert_retries_are_duplicates(&dir, first, second);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn a_snapshot_past_the_log_end_is_ignored_so_a_lost_batch_is_written_again() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let dir = tmpdir("past-end");
    let mut p = Partition::create(&dir, &values()).unwrap();
    let first = p.append(&batch(7, 0, 0, 100), now()).unwrap().base_offset;
    let second = p.append(&batch(7, 0, 1, 100), now()).unwrap().base_offset;
    p.close().unwrap();
    // Seq 1 is lost: a byte of it garbled and, with no checkpoint to trust,
    // recovery cuts the log before it. The snapshot still remembers it.
    for ext in ["a", "b"] {
        let _ = std::fs::remove_file(dir.join(format!("recovery-point-checkpoint.{ext}")));
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("00000000000000000000.log"))
        .unwrap();
    let at = SeekFrom::Start(161 + 61 + 10);
    let mut byte = [0u8; 1];
    f.seek(at).unwrap();
    f.read_exact(&mut byte).unwrap();
    f.seek(at).unwrap();
    f.write_all(&[byte[0] ^ 0xff]).unwrap();
    drop(f);
    let (mut p, _) = Partition::open(&dir, &values()).unwrap();
    assert_eq!(p.log_end(), second, "recovery cut the garbled batch");
    let a = p.append(&batch(7, 0, 0, 100), now()).unwrap();
    assert_eq!((a.duplicate, a.base_offset), (true, first));
    let b = p.append(&batch(7, 0, 1, 100), now()).unwrap();
    assert_eq!(
        (b.duplicate, b.base_offset),
        (false, second),
        "the lost batch's retry is written, not answered from the snapshot"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
