//! Unmodified Python Kafka clients against `pipit broker`: confluent-kafka 2.16.1
//! (librdkafka 2.16), kafka-python 3.0.12 (both in .venv) and Debian's kafka-python
//! 2.0.2. Each produces with acks 0, 1 and all and consumes back with assign/seek;
//! the admin clients create, describe, alter, extend and delete topics.
//!
//! The scripts in tests/clients/ print what happened as JSON; every assertion is
//! here. Record i of the run for acks `a` is key "k<i>", value "<a>-value-<i>",
//! header h=<i> (tests/clients/records.py).

mod common;

use common::Broker;
use common::clients::{py_debian, py_venv};
use common::json::Json;

const COUNT: i64 = 25;
/// Kafka's exact text for a bad compression.type (the contract's error message).
const COMPRESSION_ERROR: &str =
    "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer";

/// Asserts that every acks run got all its records back, in order, byte for byte.
fn assert_runs(client: &str, result: &Json, broker: &Broker) {
    for acks in ["0", "1", "all"] {
        let run = result.get("runs").get(acks);
        let ctx = format!("{client} acks={acks}: {run:?}\n{}", broker.log_tail());
        assert!(
            run.get("delivery_errors").arr().is_empty(),
            "delivery errors, {ctx}"
        );
        assert_eq!(run.get("delivered").i64(), COUNT, "delivered count, {ctx}");
        if acks != "0" {
            // acks=0 has no response, so no offsets; otherwise 0..COUNT on a new topic.
            let offsets: Vec<i64> = run.get("offsets").arr().iter().map(Json::i64).collect();
            let mut sorted = offsets.clone();
            sorted.sort_unstable();
            assert_eq!(
                sorted,
                (0..COUNT).collect::<Vec<_>>(),
                "acked offsets, {ctx}"
            );
        }
        let consumed = run.get("consumed").arr();
        assert_eq!(consumed.len() as i64, COUNT, "consumed count, {ctx}");
        for (i, rec) in consumed.iter().enumerate() {
            let f = rec.arr();
            assert_eq!(f[0].i64(), i as i64, "offset of record {i}, {ctx}");
            assert_eq!(f[1].str(), format!("k{i}"), "key of record {i}, {ctx}");
            assert_eq!(
                f[2].str(),
                format!("{acks}-value-{i}"),
                "value of record {i}, {ctx}"
            );
            let headers = f[3].arr();
            assert_eq!(headers.len(), 1, "headers of record {i}, {ctx}");
            assert_eq!(
                headers[0].strings(),
                vec!["h".to_string(), i.to_string()],
                "{ctx}"
            );
        }
    }
}

#[test]
fn confluent_kafka_produces_with_acks_0_1_all_and_consumes_by_assign() {
    let broker = Broker::start(&[]);
    let r = py_venv(
        "confluent_produce_consume.py",
        &[&broker.addr(), "ck", &COUNT.to_string()],
    );
    assert_runs("confluent-kafka", &r, &broker);
}

#[test]
fn kafka_python_3_produces_with_acks_0_1_all_and_consumes_by_assign() {
    let broker = Broker::start(&[]);
    let r = py_venv(
        "kafka_python_produce_consume.py",
        &[&broker.addr(), "kp3", &COUNT.to_string()],
    );
    assert!(
        r.get("version").str().starts_with("3."),
        "venv kafka-python: {r:?}"
    );
    assert_runs("kafka-python 3", &r, &broker);
}

#[test]
fn kafka_python_2_from_debian_produces_with_acks_0_1_all_and_consumes_by_assign() {
    let broker = Broker::start(&[]);
    let r = py_debian(
        "kafka_python_produce_consume.py",
        &[&broker.addr(), "kp2", &COUNT.to_string()],
    );
    assert_eq!(
        r.get("version").str(),
        "2.0.2",
        "Debian kafka-python: {r:?}"
    );
    assert_runs("kafka-python 2.0.2", &r, &broker);
}

/// The admin scripts print the same fields; see tests/clients/confluent_admin.py.
fn assert_admin_result(client: &str, r: &Json, broker: &Broker) {
    let ctx = format!("{client}: {r:?}\n{}", broker.log_tail());
    assert_eq!(
        r.get("created_partitions").i64(),
        2,
        "partitions at creation, {ctx}"
    );

    // DescribeConfigs lists every config with its default and where the value came from.
    assert!(
        r.get("plain_config_count").i64() >= 5,
        "too few configs described, {ctx}"
    );
    let plain = r.get("plain_compression");
    assert_eq!(
        plain.get("value").str(),
        "producer",
        "default compression.type, {ctx}"
    );
    assert_eq!(
        plain.get("source").str(),
        "DEFAULT_CONFIG",
        "source of a default, {ctx}"
    );
    let main = r.get("main_compression");
    assert_eq!(
        main.get("value").str(),
        "gzip",
        "compression.type set at creation, {ctx}"
    );
    assert_eq!(
        main.get("source").str(),
        "DYNAMIC_TOPIC_CONFIG",
        "topic override, {ctx}"
    );

    let inc = r.get("incremental_retention");
    assert_eq!(
        inc.get("value").str(),
        "123456",
        "IncrementalAlterConfigs, {ctx}"
    );
    assert_eq!(inc.get("source").str(), "DYNAMIC_TOPIC_CONFIG", "{ctx}");
    assert_eq!(
        r.get("legacy_retention").get("value").str(),
        "654321",
        "AlterConfigs, {ctx}"
    );

    for field in ["bad_create_error", "bad_alter_error"] {
        let err = r.get(field);
        assert!(
            !err.is_null(),
            "{field}: a bad compression.type was accepted, {ctx}"
        );
        assert!(
            err.str().contains(COMPRESSION_ERROR),
            "{field} lacks Kafka's text, {ctx}"
        );
    }
    assert!(
        !r.get("bad_topic_exists").bool(),
        "refused topic was created, {ctx}"
    );

    assert_eq!(
        r.get("partitions_after").i64(),
        3,
        "CreatePartitions, {ctx}"
    );
    assert_eq!(
        r.get("unflushed").i64(),
        0,
        "produce to the new partition, {ctx}"
    );
    let rec = r.get("new_partition_record");
    assert!(
        !rec.is_null(),
        "nothing consumed from the new partition, {ctx}"
    );
    let f = rec.arr();
    assert_eq!(
        (f[0].i64(), f[1].str(), f[2].str()),
        (2, "new", "in-partition-2"),
        "{ctx}"
    );

    assert!(
        r.get("deleted_gone").bool(),
        "deleted topics still in metadata, {ctx}"
    );
}

#[test]
fn confluent_kafka_admin_creates_describes_alters_extends_and_deletes_topics() {
    let broker = Broker::start(&[]);
    let r = py_venv("confluent_admin.py", &[&broker.addr(), "cka"]);
    assert_admin_result("confluent-kafka AdminClient", &r, &broker);
}

#[test]
fn kafka_python_3_admin_creates_describes_alters_extends_and_deletes_topics() {
    let broker = Broker::start(&[]);
    let r = py_venv("kafka_python_admin.py", &[&broker.addr(), "kpa"]);
    assert_eq!(r.get("incremental_result").str(), "OK", "{r:?}");
    assert_eq!(r.get("legacy_result").str(), "OK", "{r:?}");
    assert_admin_result("kafka-python 3 KafkaAdminClient", &r, &broker);
}
