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

use std::process::Command;
use std::time::Duration;

use common::Broker;
use common::clients::run_bounded;
use common::small_disk::SmallDisk;

/// A broker on `disk` with 2 x 1 MiB rings (about 2.1 MiB per partition).
fn broker_on(disk: &SmallDisk, extra: &[(&str, &str)]) -> Broker {
    let data = disk.data().display().to_string();
    let mut overrides = vec![
        ("log.dirs", data.as_str()),
        ("log.segment.bytes", "1048576"),
        ("log.ring.segments", "2"),
        ("message.max.bytes", "100000"),
    ];
    overrides.extend_from_slice(extra);
    Broker::start(&overrides)
}

#[test]
fn a_read_only_log_dir_stops_the_start_with_an_error_naming_it() {
    let disk = SmallDisk::mount(8);
    let data = disk.data();
    let mut broker = broker_on(&disk, &[]);
    assert_eq!(
        common::requests::Conn::new(&broker.addr())
            .create_topic("t", 1)
            .0,
        0
    );
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
