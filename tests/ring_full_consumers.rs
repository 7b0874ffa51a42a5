//! A full ring with a slow consumer and an idempotent producer
//! (confluent-kafka, `enable.idempotence=true`), under both
//! `ring.full.policy` values (`tests/clients/ring_full_consumers.py`).
//!
//! overwrite_oldest: the producer is never refused; the paused consumer's
//! position is overwritten, Fetch answers OFFSET_OUT_OF_RANGE and librdkafka
//! (`auto.offset.reset=earliest`) carries on from the new log start.
//! reject_new: the producer is refused with the retriable
//! KAFKA_STORAGE_ERROR, backs off and resumes as `retention.ms` frees
//! segments. Under both, every acknowledged record is either consumed
//! exactly once or below the log start, and no record is written twice.

mod common;

use std::collections::HashMap;

use common::Broker;
use common::clients::py_venv;
use common::json::Json;
use common::requests::Conn;

const COUNT: i64 = 400;
const OFFSET_OUT_OF_RANGE: i16 = 1;

fn pairs(j: &Json) -> Vec<(i64, i64)> {
    j.arr()
        .iter()
        .map(|p| (p.arr()[0].i64(), p.arr()[1].i64()))
        .collect()
}

/// Runs the script under `policy`; checks what both policies promise and
/// returns the result for the policy's own checks.
fn run(policy: &str) -> (Broker, Json) {
    let broker = Broker::start(&[]);
    let topic = format!("slow-{policy}");
    let r = py_venv(
        "ring_full_consumers.py",
        &[&broker.addr(), &topic, policy, &COUNT.to_string()],
    );
    let failed = r.get("failed").strings();
    let ctx = format!(
        "{policy}: {} acked, {} consumed, log start {}, hw {}, {} failed (first: {:?}), refused {}\n{}",
        r.get("acked").arr().len(),
        r.get("consumed").arr().len(),
        r.get("log_start").i64(),
        r.get("high_watermark").i64(),
        failed.len(),
        failed.first(),
        r.get("refused").i64(),
        broker.log_tail()
    );
    assert!(failed.is_empty(), "no delivery failed: {ctx}");
    // acked: (sequence number in the value, offset).
    let acked = pairs(r.get("acked"));
    assert_eq!(
        acked.len() as i64,
        COUNT,
        "every record acknowledged: {ctx}"
    );
    // One producer, in order, nothing written twice: record i is at offset i.
    for (seq, off) in &acked {
        assert_eq!(seq, off, "record {seq} acknowledged at offset {off}: {ctx}");
    }
    let log_start = r.get("log_start").i64();
    let hw = r.get("high_watermark").i64();
    assert_eq!(hw, COUNT, "{ctx}");
    assert!(
        log_start > 5,
        "the ring was overwritten or freed past the consumer: {ctx}"
    );
    // consumed: (offset, sequence number in the value).
    let consumed = pairs(r.get("consumed"));
    let mut seen: HashMap<i64, i64> = HashMap::new();
    for (off, seq) in &consumed {
        assert!(
            seen.insert(*off, *seq).is_none(),
            "offset {off} read twice: {ctx}"
        );
    }
    let before: Vec<i64> = consumed.iter().take(5).map(|c| c.0).collect();
    assert_eq!(before, vec![0, 1, 2, 3, 4], "{ctx}");
    assert_eq!(
        consumed.get(5).map(|c| c.0),
        Some(log_start),
        "after the reset the consumer continues from the new log start: {ctx}"
    );
    for (seq, off) in &acked {
        assert!(
            *off < log_start || seen.get(off) == Some(seq),
            "acknowledged record {seq} at offset {off} is neither consumed nor below the log start {log_start}: {ctx}"
        );
    }
    // What the consumer got when it came back.
    let (code, _, _) = Conn::new(&broker.addr()).fetch(&topic, 0, 5);
    assert_eq!(code, OFFSET_OUT_OF_RANGE, "{ctx}");
    eprintln!(
        "{policy}: {COUNT} acked, {} consumed, log start {log_start}, refused produce requests {}, consumer errors {:?}",
        consumed.len(),
        r.get("refused").i64(),
        r.get("consumer_errors")
    );
    (broker, r)
}

#[test]
fn overwrite_oldest_moves_a_slow_consumer_to_the_new_log_start_and_loses_nothing_acked_above_it() {
    let (broker, r) = run("overwrite_oldest");
    assert_eq!(
        r.get("refused").i64(),
        0,
        "overwrite_oldest never refuses\n{}",
        broker.log_tail()
    );
}

#[test]
fn reject_new_makes_an_idempotent_producer_back_off_until_retention_frees_a_segment() {
    let (broker, r) = run("reject_new");
    assert!(
        r.get("refused").i64() > 0,
        "the ring filled and the producer was refused\n{}",
        broker.log_tail()
    );
    assert!(
        broker.stderr_log().contains("retention.ms=1000 freed"),
        "retention let the producer in again\n{}",
        broker.log_tail()
    );
}
