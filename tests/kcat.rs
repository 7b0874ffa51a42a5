//! kcat (Debian: kcat 1.7.1, librdkafka 2.0.2) against `pipit broker`: metadata,
//! produce with keys and headers under every codec, consume from the beginning,
//! and offsets by time.
//!
//! librdkafka 2.0.2 silently stops compressing with gzip/snappy/lz4 when Produce is
//! advertised from a version above 0, so the codec test also reads the stored batch
//! header from disk (design.md §3 layout: `log.dirs/<topic>-0/00000000000000000000.log`,
//! RecordBatch v2 bytes as sent) and checks the codec bits the client set.

mod common;

use common::Broker;
use common::clients::kcat_ok;
use common::json::Json;
use std::thread;
use std::time::Duration;

/// Messages per produce run; values are compressible so every codec really compresses.
const COUNT: usize = 20;

fn lines(codec: &str, round: &str) -> Vec<(String, String)> {
    (0..COUNT)
        .map(|i| {
            (
                format!("{round}key-{i}"),
                format!("{codec}-value-{i}-{}", "x".repeat(200)),
            )
        })
        .collect()
}

/// `kcat -P` with `-K:` keys, two headers on every message, and optional `-z codec`.
fn produce(broker: &Broker, topic: &str, codec: Option<&str>, records: &[(String, String)]) {
    let input: String = records.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let addr = broker.addr();
    let mut args = vec!["-b", &addr, "-P", "-t", topic, "-p", "0", "-K:"];
    args.extend(["-H", "trace=abc-123", "-H", "n=1"]);
    if let Some(codec) = codec {
        args.extend(["-z", codec]);
    }
    let out = common::clients::kcat(&args, Some(input.as_bytes()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("Delivery failed") && !stderr.contains("ERROR"),
        "kcat produce {codec:?} failed ({})\nstderr:\n{stderr}\n{}",
        out.status,
        broker.log_tail()
    );
}

/// Consumes partition 0 from `offset` to the end as `key|value|headers` lines.
fn consume(broker: &Broker, topic: &str, offset: &str) -> Vec<String> {
    let addr = broker.addr();
    let out = kcat_ok(
        &[
            "-b",
            &addr,
            "-C",
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            offset,
            "-e",
            "-f",
            "%k|%s|%h\n",
        ],
        None,
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn metadata_lists_the_broker_and_an_auto_created_topic() {
    let broker = Broker::start(&[]);
    produce(&broker, "auto-created", None, &lines("none", "")[..1]);
    let addr = broker.addr();
    let out = kcat_ok(&["-b", &addr, "-L", "-J"], None);
    let md = Json::parse(out.trim()).unwrap_or_else(|e| panic!("kcat -L -J: {e}: {out}"));
    let brokers = md.get("brokers").arr();
    assert_eq!(brokers.len(), 1, "one broker in {out}");
    assert_eq!(
        brokers[0].get("name").str(),
        addr,
        "advertised address in {out}"
    );
    assert_eq!(
        md.get("controllerid").i64(),
        brokers[0].get("id").i64(),
        "controller must be the live broker: {out}"
    );
    let topic = md
        .get("topics")
        .arr()
        .iter()
        .find(|t| t.get("topic").str() == "auto-created")
        .unwrap_or_else(|| panic!("auto-created topic missing from {out}"));
    let partitions = topic.get("partitions").arr();
    assert_eq!(partitions.len(), 1, "num.partitions defaults to 1: {out}");
    assert_eq!(
        partitions[0].get("leader").i64(),
        brokers[0].get("id").i64(),
        "{out}"
    );
}

#[test]
fn keys_values_and_headers_round_trip_under_every_codec() {
    let broker = Broker::start(&[]);
    // RecordBatch attributes bits 0-2 (kafka-wire-notes.md §2).
    for (codec, id) in [("gzip", 1u8), ("snappy", 2), ("lz4", 3), ("zstd", 4)] {
        let topic = format!("codec-{codec}");
        let sent = lines(codec, "");
        produce(&broker, &topic, Some(codec), &sent);
        let expected: Vec<String> = sent
            .iter()
            .map(|(k, v)| format!("{k}|{v}|trace=abc-123,n=1"))
            .collect();
        let got = consume(&broker, &topic, "beginning");
        assert_eq!(
            got,
            expected,
            "{codec}: consumed records differ\n{}",
            broker.log_tail()
        );
        assert_eq!(
            stored_codec(&broker, &topic),
            id,
            "{codec}: codec bits of the stored batch"
        );
    }
}

/// The codec bits of the first stored batch of partition 0 (attributes at byte 22).
fn stored_codec(broker: &Broker, topic: &str) -> u8 {
    let path = broker
        .data_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.len() > 61, "no batch stored in {}", path.display());
    assert_eq!(
        bytes[16],
        2,
        "magic of the first batch in {}",
        path.display()
    );
    bytes[22] & 0x07
}

#[test]
fn offsets_by_time_find_the_first_record_at_or_after_the_timestamp() {
    let broker = Broker::start(&[]);
    let topic = "by-time";
    let before = common::now_ms() - 1;
    let first = lines("t", "r1-");
    produce(&broker, topic, None, &first);
    // kcat -P has no per-message timestamp flag: records carry their produce time,
    // so a pause separates the two rounds in time.
    thread::sleep(Duration::from_millis(300));
    let between = common::now_ms();
    thread::sleep(Duration::from_millis(300));
    produce(&broker, topic, None, &lines("t", "r2-"));

    let addr = broker.addr();
    for (ts, want) in [(before, 0), (between, COUNT as i64)] {
        let spec = format!("{topic}:0:{ts}");
        let out = kcat_ok(&["-b", &addr, "-Q", "-t", &spec], None);
        let offset = out
            .lines()
            .find(|l| l.contains("offset"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|o| o.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("no offset in kcat -Q output {out:?}"));
        assert_eq!(offset, want, "ListOffsets by timestamp {ts}: {out}");
    }
    let got = consume(&broker, topic, &format!("s@{between}"));
    assert_eq!(got.len(), COUNT, "records from s@{between}: {got:?}");
    assert!(
        got[0].starts_with("r2-key-0|"),
        "first record at s@{between}: {got:?}"
    );
}
