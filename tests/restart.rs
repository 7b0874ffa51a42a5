//! Durability across restarts, with a real client (confluent-kafka, acks=all).
//!
//! The broker's default `log.durability=fsync` means an ack is sent only after the
//! batch is synced, so everything acked must survive a SIGTERM (graceful stop) and
//! also a SIGKILL straight after the acks, byte for byte and at the same offsets.
//! Values are seeded binary records of 1..600 bytes (tests/clients/confluent_restart.py).

mod common;

use common::Broker;
use common::clients::py_venv;
use common::json::Json;

const TOPIC: &str = "durable";
const FIRST_ROUND: i64 = 300;
const SECOND_ROUND: i64 = 200;

/// Produces `count` records starting at record number `first`; returns the acked
/// `[offset, key, value_hex]` triples after asserting there was no delivery error.
fn produce(broker: &Broker, first: i64, count: i64) -> Vec<Json> {
    let r = py_venv(
        "confluent_restart.py",
        &[
            "produce",
            &broker.addr(),
            TOPIC,
            &first.to_string(),
            &count.to_string(),
        ],
    );
    let ctx = format!("{r:?}\n{}", broker.log_tail());
    assert!(r.get("errors").arr().is_empty(), "delivery errors: {ctx}");
    assert_eq!(r.get("unflushed").i64(), 0, "{ctx}");
    let acked = r.get("acked").arr().to_vec();
    assert_eq!(acked.len() as i64, count, "acked count: {ctx}");
    acked
}

/// Consumes the topic from offset 0 and asserts it equals `expected` exactly.
fn assert_log_equals(broker: &Broker, expected: &[Json], when: &str) {
    let r = py_venv(
        "confluent_restart.py",
        &[
            "consume",
            &broker.addr(),
            TOPIC,
            &expected.len().to_string(),
        ],
    );
    let got = r.get("records").arr();
    assert_eq!(
        got.len(),
        expected.len(),
        "{when}: record count (consumer errors {:?})\n{}",
        r.get("consumer_errors"),
        broker.log_tail()
    );
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g, e, "{when}: record {i} differs (got vs acked)");
    }
}

#[test]
fn acked_records_survive_sigterm_and_sigkill_byte_for_byte() {
    let mut broker = Broker::start(&[]);
    let mut acked = produce(&broker, 0, FIRST_ROUND);
    let offsets: Vec<i64> = acked.iter().map(|r| r.arr()[0].i64()).collect();
    assert_eq!(
        offsets,
        (0..FIRST_ROUND).collect::<Vec<_>>(),
        "offsets on a new topic"
    );

    let status = broker.sigterm_and_wait();
    assert!(
        status.success(),
        "SIGTERM exit status {status}\n{}",
        broker.log_tail()
    );
    broker.restart();
    assert_log_equals(&broker, &acked, "after SIGTERM and restart");

    let more = produce(&broker, FIRST_ROUND, SECOND_ROUND);
    let offsets: Vec<i64> = more.iter().map(|r| r.arr()[0].i64()).collect();
    assert_eq!(
        offsets,
        (FIRST_ROUND..FIRST_ROUND + SECOND_ROUND).collect::<Vec<_>>(),
        "offsets continue after restart"
    );
    acked.extend(more);
    // The producer script has exited, so every ack has been received: kill at once.
    broker.kill9();
    broker.restart();
    assert_log_equals(&broker, &acked, "after SIGKILL and restart");
}

#[test]
fn topic_configs_and_partitions_survive_restart() {
    let mut broker = Broker::start(&[]);
    let r = py_venv("confluent_topic_meta.py", &["create", &broker.addr()]);
    assert!(r.get("ok").bool(), "{r:?}");
    let status = broker.sigterm_and_wait();
    assert!(
        status.success(),
        "SIGTERM exit status {status}\n{}",
        broker.log_tail()
    );
    broker.restart();
    let r = py_venv("confluent_topic_meta.py", &["check", &broker.addr()]);
    assert_eq!(
        r.get("partitions").i64(),
        3,
        "partitions after restart: {r:?}"
    );
    assert_eq!(
        r.get("compression").str(),
        "lz4",
        "topic config after restart: {r:?}"
    );
}

/// A partition directory that the metadata does not know (a create or delete
/// cut short by a power cut) must not stop the topic from being created.
#[test]
fn leftover_partition_directory_does_not_block_topic_creation() {
    let broker = Broker::start(&[]);
    let stale = broker.data_dir().join("left-0");
    std::fs::create_dir_all(&stale).unwrap();
    for ext in ["log", "index", "timeindex"] {
        std::fs::write(stale.join(format!("00000000000000000005.{ext}")), b"junk").unwrap();
    }
    let addr = broker.addr();
    common::clients::kcat_ok(&["-b", &addr, "-t", "left", "-P"], Some(b"hello\n"));
    let out = common::clients::kcat_ok(
        &[
            "-b",
            &addr,
            "-t",
            "left",
            "-C",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%s\n",
        ],
        None,
    );
    assert_eq!(out.trim(), "hello", "{}", broker.log_tail());
}

/// A topic keeps the ring shape it was created with: restarting with smaller
/// segments (as when switching to the board's microSD properties) still serves
/// every acknowledged offset byte for byte; only a topic created afterwards
/// gets the new shape.
#[test]
fn a_topic_keeps_its_ring_shape_when_the_segment_size_default_shrinks() {
    let mut broker = Broker::start(&[
        ("log.segment.bytes", "1048576"),
        ("log.ring.segments", "4"),
        ("message.max.bytes", "1000000"),
    ]);
    // About 120 KB of records in the first 1 MiB segment: more than a 64 KiB one holds.
    let acked = produce(&broker, 0, 400);
    broker.set_override("log.segment.bytes", "65536");
    broker.set_override("message.max.bytes", "60000");
    broker.restart();
    assert_log_equals(&broker, &acked, "after restarting with 64 KiB segments");

    let addr = broker.addr();
    common::clients::kcat_ok(&["-b", &addr, "-t", "newer", "-P"], Some(b"hello\n"));
    let sizes = |topic: &str| -> Vec<u64> {
        let dir = broker.data_dir().join(format!("{topic}-0"));
        let mut sizes: Vec<u64> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| e.metadata().unwrap().len())
            .collect();
        sizes.sort();
        sizes
    };
    assert_eq!(
        sizes(TOPIC),
        vec![1048576; 4],
        "the old topic's ring is untouched"
    );
    assert_eq!(
        sizes("newer"),
        vec![65536; 4],
        "a new topic takes the new default"
    );
}
