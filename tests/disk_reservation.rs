//! Disk reservation on a filesystem the test controls: an 8 MiB tmpfs mounted
//! by the test (it runs as root; where mounting is impossible the test fails
//! with the reason, since skipping would prove nothing).
//!
//! A ring is reserved whole or not at all: CreateTopics and CreatePartitions
//! that do not fit answer an error naming the directory and the bytes, and
//! leave nothing on disk or in metadata; without `log.ring.bytes.max` the
//! broker caps rings at 90% of the filesystem, so creating topics cannot fill it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Broker;
use common::requests::Conn;

const KAFKA_STORAGE_ERROR: i16 = 56;
const POLICY_VIOLATION: i16 = 44;
const MIB: u64 = 1 << 20;

/// A small tmpfs, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(size_mib: u64) -> SmallDisk {
        let dir = common::unique_temp_dir();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount(8): {e}"));
        assert!(
            out.status.success(),
            "this test needs to mount a {size_mib} MiB tmpfs (run it as root): mount said {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn free(&self) -> u64 {
        pipit::log::file_backend::free_bytes(&self.dir).unwrap()
    }

    /// Fills the disk until `left` bytes are free.
    fn fill_until(&self, left: u64) {
        let take = self.free().saturating_sub(left);
        let f = std::fs::File::create(self.dir.join("filler")).unwrap();
        f.set_len(0).unwrap();
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        let chunk = vec![0xa5u8; 64 * 1024];
        let mut done = 0;
        while done < take {
            let n = (take - done).min(chunk.len() as u64) as usize;
            w.write_all(&chunk[..n]).unwrap();
            done += n as u64;
        }
        w.flush().unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Partition directories of `topic` in `data`.
fn dirs_of(data: &Path, topic: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.strip_prefix(topic).is_some_and(|r| r.starts_with('-')))
        .collect();
    names.sort();
    names
}

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
fn create_topics_beyond_the_disk_fails_cleanly_and_leaves_nothing() {
    let disk = SmallDisk::mount(8);
    let mut broker = broker_on(&disk, &[("log.ring.bytes.max", "1073741824")]);
    let mut c = Conn::new(&broker.addr());
    let (code, msg) = c.create_topic("big", 5);
    assert_eq!(code, KAFKA_STORAGE_ERROR, "{msg}\n{}", broker.log_tail());
    let data = disk.data().display().to_string();
    assert!(
        msg.contains(&data) && msg.contains("needs") && msg.contains("free"),
        "the error names the dir, the bytes needed and free: {msg}"
    );
    assert_eq!(dirs_of(&disk.data(), "big"), Vec::<String>::new());
    assert_eq!(c.partition_count("big"), None);
    drop(c);
    broker.restart();
    assert_eq!(Conn::new(&broker.addr()).partition_count("big"), None);
    // What fits is still created.
    assert_eq!(Conn::new(&broker.addr()).create_topic("fits", 2).0, 0);
}

#[test]
fn create_partitions_that_fail_half_way_leave_the_topic_as_it_was() {
    let disk = SmallDisk::mount(8);
    let mut broker = broker_on(&disk, &[("log.ring.bytes.max", "1073741824")]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("t", 1).0, 0);
    // Room for two more rings, not four.
    disk.fill_until(5 * MIB);
    let (code, msg) = c.create_partitions("t", 5);
    assert_eq!(code, KAFKA_STORAGE_ERROR, "{msg}\n{}", broker.log_tail());
    assert!(
        msg.contains("t-3"),
        "names the partition that did not fit: {msg}"
    );
    assert_eq!(
        c.partition_count("t"),
        Some(1),
        "nothing half-added in memory"
    );
    assert_eq!(
        dirs_of(&disk.data(), "t"),
        vec!["t-0".to_string()],
        "nor on disk"
    );
    assert_eq!(
        c.produce("t", 1, vec![0; 70]).0,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    drop(c);
    broker.restart();
    assert_eq!(
        Conn::new(&broker.addr()).partition_count("t"),
        Some(1),
        "nor in metadata"
    );
}

#[test]
fn without_a_cap_set_rings_may_take_90_percent_of_the_filesystem() {
    let disk = SmallDisk::mount(8);
    let broker = broker_on(&disk, &[]);
    let log = broker.stderr_log();
    assert!(
        log.contains("log.ring.bytes.max") && log.contains("90%"),
        "the start log says the cap: {log}"
    );
    let mut c = Conn::new(&broker.addr());
    let mut refused = None;
    for n in 0..10 {
        let (code, msg) = c.create_topic(&format!("auto{n}"), 1);
        if code != 0 {
            refused = Some((code, msg));
            break;
        }
    }
    let (code, msg) = refused.expect("8 MiB cannot hold ten 2 MiB rings");
    assert_eq!(code, POLICY_VIOLATION, "{msg}");
    assert!(msg.contains("log.ring.bytes.max"), "{msg}");
    assert!(
        disk.free() >= 8 * MIB / 10,
        "at least 10% of the disk stays free: {} bytes",
        disk.free()
    );
}
