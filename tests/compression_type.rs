//! `compression.type` (broker default and per topic), as Kafka's broker
//! applies it: a topic whose value is not `producer` stores every batch under
//! its codec, recompressing what producers send, and consumers read every
//! record back unchanged (keys, values, headers, offsets).

mod common;

use common::Broker;
use common::clients::{kcat, kcat_ok};

/// Codec bits of the first stored batch of partition 0 (attributes byte 22).
fn stored_codec(broker: &Broker, topic: &str) -> u8 {
    let path = broker
        .data_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.len() > 61 && bytes[16] == 2, "no v2 batch stored");
    bytes[22] & 0x07
}

fn create(addr: &str, topic: &str, config: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipit"))
        .args([
            "topics",
            "--bootstrap-server",
            addr,
            "--create",
            "--topic",
            topic,
        ])
        .args(["--config", config])
        .output()
        .expect("run pipit topics");
    assert!(out.status.success(), "create {topic}: {out:?}");
}

/// Produces 30 keyed records with a header (kcat, idempotent, `-z codec`);
/// returns the lines a consumer should print.
fn produce(addr: &str, topic: &str, codec: &str) -> Vec<String> {
    let lines: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("k{i}"),
                format!("{codec} value {i} {}", "z".repeat(150)),
            )
        })
        .collect();
    let input: String = lines.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut args = vec!["-b", addr, "-P", "-t", topic, "-p", "0", "-K:", "-H", "n=1"];
    args.extend(["-X", "enable.idempotence=true"]);
    if codec != "none" {
        args.extend(["-z", codec]);
    }
    let out = kcat(&args, Some(input.as_bytes()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR") && !stderr.contains("failed"),
        "kcat -P {codec}: {stderr}"
    );
    lines
        .iter()
        .enumerate()
        .map(|(i, (k, v))| format!("{i}|{k}|{v}|n=1"))
        .collect()
}

fn consume(addr: &str, topic: &str) -> Vec<String> {
    let out = kcat_ok(
        &[
            "-b",
            addr,
            "-C",
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%o|%k|%s|%h\n",
        ],
        None,
    );
    out.lines().map(str::to_string).collect()
}

#[test]
fn kcat_lz4_into_a_gzip_topic_is_stored_as_gzip_and_read_back_whole() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    create(&addr, "gz", "compression.type=gzip");
    let sent = produce(&addr, "gz", "lz4");
    assert_eq!(stored_codec(&broker, "gz"), 1, "gzip codec bits");
    assert_eq!(consume(&addr, "gz"), sent, "{}", broker.log_tail());
}

#[test]
fn an_uncompressed_topic_stores_gzip_batches_uncompressed() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    create(&addr, "plain", "compression.type=uncompressed");
    let sent = produce(&addr, "plain", "gzip");
    assert_eq!(stored_codec(&broker, "plain"), 0, "no codec bits");
    assert_eq!(consume(&addr, "plain"), sent);
}

#[test]
fn the_broker_default_applies_to_auto_created_topics() {
    let broker = Broker::start(&[("compression.type", "lz4")]);
    let addr = broker.addr();
    kcat_ok(&["-b", &addr, "-L", "-t", "auto"], None);
    let sent = produce(&addr, "auto", "none");
    assert_eq!(stored_codec(&broker, "auto"), 3, "lz4 codec bits");
    assert_eq!(consume(&addr, "auto"), sent);
    // A topic that keeps the producer's codec.
    create(&addr, "keep", "compression.type=producer");
    let sent = produce(&addr, "keep", "gzip");
    assert_eq!(stored_codec(&broker, "keep"), 1);
    assert_eq!(consume(&addr, "keep"), sent);
}
