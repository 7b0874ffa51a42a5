//! Disk faults on a filesystem the test controls (a small tmpfs it mounts,
//! see `common::small_disk`): a read-only log dir at start, and a full disk
//! under the writes that can still need space once rings are reserved (the
//! state files: checkpoints, producer-state snapshots, topic metadata,
//! producer ids).
//!
//! What may fail and what it does (ARCHITECTURE.md, "Failure semantics"):
//! a checkpoint or snapshot is only a hint, so a failed one is logged and the
//! append succeeds, the partition stays online; topic metadata and the
//! producer-id counter must be written before an answer, so the request gets
//! KAFKA_STORAGE_ERROR with the file and the OS error, leaves nothing
//! half-made, and works again once space is back.

mod common;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::clients::run_bounded;
use common::requests::Conn;
use common::small_disk::SmallDisk;
use common::wire::{Cursor, Request, connect, read_frame};
use pipit::storage::batch::build_test_batch;

#[test]
fn a_read_only_log_dir_stops_the_start_with_an_error_naming_it() {
    let disk = SmallDisk::mount(8);
    let data = disk.data();
    let mut broker = disk.broker(&[]);
    assert_eq!(Conn::new(&broker.addr()).create_topic("t", 1).0, 0);
    assert!(broker.sigterm_and_wait().success());
    disk.remount(true);
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_pipit")).args([
            "broker",
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0",
            "--override",
            &format!("log.dirs={}", data.display()),
        ]),
        None,
        Duration::from_secs(15),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && out.status.code().is_some(),
        "the broker must refuse to start: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stdout.contains("listening on"),
        "it never listens: {stdout}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&data.display().to_string())
            && last.contains("log.dirs")
            && last.to_lowercase().contains("read-only"),
        "the last line names the key, the dir and the reason: {stderr}"
    );
    disk.remount(false);
}

const KAFKA_STORAGE_ERROR: i16 = 56;
const NO_SPACE: &str = "No space left on device";

/// One batch of one record with a 50,000-byte value.
fn batch(fill: u8) -> Vec<u8> {
    let body = 50_000;
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, 1, 1_700_000_000_000, fill).unwrap();
    b
}

/// Bytes the files under `dir` take on disk.
fn allocated(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().blocks() * 512)
        .sum()
}

/// Partition directories of `topic` in `data`.
fn dirs_of(data: &Path, topic: &str) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.strip_prefix(topic).is_some_and(|r| r.starts_with('-')))
        .collect()
}

/// InitProducerId v1 without a transactional id: (error code, producer id).
fn init_producer_id(addr: &str) -> (i16, i64) {
    let mut s = connect(addr);
    let frame = Request::new(22, 1, 7, "disk-faults")
        .i16(-1)
        .i32(60_000)
        .finish();
    s.write_all(&frame).unwrap();
    let body = read_frame(&mut s).expect("InitProducerId response");
    let mut r = Cursor::new(&body);
    assert_eq!(r.i32(), 7, "correlation id");
    let _throttle = r.i32();
    let code = r.i16();
    (code, r.i64())
}

#[test]
fn a_full_disk_fails_the_checkpoint_after_a_segment_roll_but_never_the_append() {
    let disk = SmallDisk::mount(8);
    let mut broker = disk.broker(&[]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("t", 1).0, 0);
    disk.fill_until(0);
    assert_eq!(disk.free(), 0, "the ballast fills the disk");
    // 30 batches of 50 kB roll the first 1 MiB segment; the ring was
    // reserved at creation, so the data itself needs no new space.
    for i in 0..30u8 {
        assert_eq!(
            c.produce("t", 0, batch(i)),
            (0, i64::from(i)),
            "every append is acknowledged\n{}",
            broker.log_tail()
        );
    }
    let log = broker.stderr_log();
    assert!(
        log.lines()
            .any(|l| l.contains("checkpoint after segment roll failed") && l.contains(NO_SPACE)),
        "the failed checkpoint is logged with its reason\n{}",
        broker.log_tail()
    );
    let (code, _, hw) = c.fetch("t", 0, 29);
    assert_eq!((code, hw), (0, 30), "the partition stays online");
    let (_, before, _) = c.fetch("t", 0, 20);
    drop(c);
    disk.remove_ballast();
    broker.restart();
    let mut c = Conn::new(&broker.addr());
    let (code, after, hw) = c.fetch("t", 0, 20);
    assert_eq!((code, hw), (0, 30), "{}", broker.log_tail());
    assert!(after == before, "the same bytes after the restart");
    assert_eq!(c.list_offset("t", 0, -2), (0, 0), "nothing was lost");
}

#[test]
fn create_topics_whose_metadata_cannot_be_written_fail_cleanly_and_work_once_space_is_back() {
    let disk = SmallDisk::mount(8);
    let data = disk.data();
    let mut broker = disk.broker(&[]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("first", 1).0, 0);
    assert!(
        !data.join("pipit-meta.b").exists(),
        "the next metadata write makes a new file"
    );
    // Room for exactly one more partition: its ring is reserved, the
    // metadata write that follows finds no space.
    disk.fill_until(allocated(&data.join("first-0")));
    let (code, msg) = c.create_topic("second", 1);
    assert_eq!(code, KAFKA_STORAGE_ERROR, "{msg}\n{}", broker.log_tail());
    assert!(
        msg.contains("pipit-meta") && msg.contains(NO_SPACE),
        "the error names the file and the reason: {msg}"
    );
    assert!(
        broker
            .stderr_log()
            .lines()
            .any(|l| l.contains("pipit-meta") && l.contains(NO_SPACE)),
        "and so does the log\n{}",
        broker.log_tail()
    );
    assert_eq!(
        dirs_of(&data, "second"),
        Vec::<String>::new(),
        "nothing on disk"
    );
    assert_eq!(c.partition_count("second"), None, "nor in metadata");
    assert_eq!(
        c.produce("first", 0, batch(1)),
        (0, 0),
        "the broker carries on"
    );

    disk.remove_ballast();
    assert_eq!(c.create_topic("second", 1).0, 0, "{}", broker.log_tail());
    assert_eq!(c.produce("second", 0, batch(2)), (0, 0));
    drop(c);
    broker.restart();
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.partition_count("first"), Some(1));
    assert_eq!(c.partition_count("second"), Some(1));
}

#[test]
fn init_producer_id_on_a_full_disk_is_refused_and_works_once_space_is_back() {
    let disk = SmallDisk::mount(8);
    let broker = disk.broker(&[]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("t", 1).0, 0);
    disk.fill_until(0);
    // The counter file must be written before an id is handed out.
    let (code, _) = init_producer_id(&broker.addr());
    assert_eq!(code, KAFKA_STORAGE_ERROR, "{}", broker.log_tail());
    assert!(
        broker
            .stderr_log()
            .lines()
            .any(|l| l.contains("pipit-producer-ids") && l.contains(NO_SPACE)),
        "the log names the file and the reason\n{}",
        broker.log_tail()
    );
    assert_eq!(c.produce("t", 0, batch(1)), (0, 0), "the broker carries on");
    disk.remove_ballast();
    let (code, first) = init_producer_id(&broker.addr());
    assert_eq!(code, 0, "{}", broker.log_tail());
    assert_eq!(init_producer_id(&broker.addr()), (0, first + 1));
}
