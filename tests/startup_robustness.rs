//! The broker always starts, and one bad partition never stops the others.
//!
//! Each test fills a real broker's topics, stops it with SIGTERM, damages its
//! data dir the way a flaky card or a careless operator would, starts it
//! again and checks that it starts, that every intact partition serves the
//! very bytes it served before, and what the damaged one answers.

mod common;

use std::path::Path;

use common::Broker;
use common::requests::Conn;
use pipit::storage::batch::build_test_batch;

/// Kafka's KAFKA_STORAGE_ERROR.
const KAFKA_STORAGE_ERROR: i16 = 56;
/// The partitions the tests fill: (topic, partition).
const PARTITIONS: [(&str, i32); 3] = [("a", 0), ("a", 1), ("b", 0)];

fn batch(fill: u8) -> Vec<u8> {
    let body = 900;
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, 1, 1_700_000_000_000, fill).unwrap();
    b
}

/// Starts a broker with small rings, writes three batches to each of
/// [`PARTITIONS`], stops it, lets `damage` loose on its data dir and starts it
/// again. Returns the broker and what each partition served before.
fn damaged(damage: impl FnOnce(&Path)) -> (Broker, Vec<Vec<u8>>) {
    let mut broker = Broker::start(&[
        ("log.segment.bytes", "65536"),
        ("log.ring.segments", "2"),
        ("message.max.bytes", "60000"),
    ]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("a", 2).0, 0);
    assert_eq!(c.create_topic("b", 1).0, 0);
    let mut before = Vec::new();
    for (n, (topic, p)) in PARTITIONS.iter().enumerate() {
        for i in 0..3u8 {
            let (code, _) = c.produce(topic, *p, batch(n as u8 * 10 + i + 1));
            assert_eq!(code, 0, "produce to {topic}-{p}");
        }
        let (code, stored, hw) = c.fetch(topic, *p, 0);
        assert_eq!((code, hw), (0, 3), "{topic}-{p} before");
        before.push(stored);
    }
    drop(c);
    let status = broker.sigterm_and_wait();
    assert!(status.success(), "{}", broker.log_tail());
    damage(&broker.data_dir());
    broker.restart();
    (broker, before)
}

/// Asserts partition `i` of [`PARTITIONS`] serves what it served before and takes new data.
fn assert_served(broker: &Broker, before: &[Vec<u8>], i: usize) {
    let (topic, p) = PARTITIONS[i];
    let mut c = Conn::new(&broker.addr());
    let (code, stored, hw) = c.fetch(topic, p, 0);
    assert_eq!(
        (code, hw),
        (0, 3),
        "{topic}-{p} after\n{}",
        broker.log_tail()
    );
    assert!(
        stored == before[i],
        "{topic}-{p} serves other bytes after the restart"
    );
    assert_eq!(
        c.produce(topic, p, batch(99)),
        (0, 3),
        "{topic}-{p} takes new data"
    );
}

#[test]
fn a_corrupt_recovery_checkpoint_is_only_a_hint() {
    let (broker, before) = damaged(|data| {
        for slot in ["a", "b"] {
            let path = data.join(format!("a-0/recovery-point-checkpoint.{slot}"));
            std::fs::write(&path, b"this is not a checkpoint, not even close").unwrap();
        }
    });
    for i in 0..PARTITIONS.len() {
        assert_served(&broker, &before, i);
    }
}

#[test]
fn stray_log_files_in_a_partition_dir_are_left_alone() {
    let (broker, before) = damaged(|data| {
        std::fs::write(data.join("a-0/junk.log"), b"notes").unwrap();
        std::fs::write(data.join("a-0/00000000000000000099.log"), b"stray").unwrap();
    });
    for i in 0..PARTITIONS.len() {
        assert_served(&broker, &before, i);
    }
    let dir = broker.data_dir().join("a-0");
    assert_eq!(std::fs::read(dir.join("junk.log")).unwrap(), b"notes");
    assert_eq!(
        std::fs::read(dir.join("00000000000000000099.log")).unwrap(),
        b"stray"
    );
}

#[test]
fn a_partition_that_cannot_open_is_offline_and_the_others_are_served() {
    let (broker, before) = damaged(|data| {
        let dir = data.join("a-0");
        let free = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.to_string_lossy().ends_with(".log") && p.to_string_lossy().contains("free-")
            })
            .expect("a free slot in a-0");
        std::fs::remove_file(free).unwrap();
    });
    let mut c = Conn::new(&broker.addr());
    let ctx = broker.log_tail();
    assert_eq!(
        c.produce("a", 0, batch(5)).0,
        KAFKA_STORAGE_ERROR,
        "produce\n{ctx}"
    );
    assert_eq!(c.fetch("a", 0, 0).0, KAFKA_STORAGE_ERROR, "fetch\n{ctx}");
    assert_eq!(
        c.list_offset("a", 0, -1).0,
        KAFKA_STORAGE_ERROR,
        "list offsets\n{ctx}"
    );
    for i in 1..PARTITIONS.len() {
        assert_served(&broker, &before, i);
    }
    let dir = broker.data_dir().join("a-0").display().to_string();
    let log = broker.stderr_log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&dir)).collect();
    assert_eq!(lines.len(), 1, "logged once with its dir:\n{log}");
    assert!(lines[0].contains("offline"), "{}", lines[0]);
}

/// Kafka's MESSAGE_TOO_LARGE.
const MESSAGE_TOO_LARGE: i16 = 10;

/// `log.segment.bytes=1048576` alone is a valid config: Kafka's default
/// `message.max.bytes` (1048588) does not fit such a slot, so the broker
/// derives the limit from the slot and says so, instead of refusing to start.
#[test]
fn a_1_mib_segment_alone_starts_with_message_max_bytes_derived_from_it() {
    let broker = Broker::start(&[("log.segment.bytes", "1048576")]);
    let log = broker.stderr_log();
    assert!(
        log.contains("message.max.bytes: not set; using 1044480"),
        "the start log says the derived limit:\n{log}"
    );
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("big", 1).0, 0);
    let sized = |total: usize| {
        let mut b = vec![0u8; total];
        build_test_batch(&mut b, total - 61, 1, 1_700_000_000_000, 3).unwrap();
        b
    };
    assert_eq!(
        c.produce("big", 0, sized(1_044_480)),
        (0, 0),
        "a batch of the limit fits"
    );
    assert_eq!(
        c.produce("big", 0, sized(1_046_000)).0,
        MESSAGE_TOO_LARGE,
        "one beyond it is refused"
    );
}
