//! `make bench` (ignored by `cargo test`): the broker end to end.
//!
//! Produces 500,000 × 1,000-byte records with acks=1 to one partition through
//! librdkafka (confluent-kafka), consumes them back with kcat and with a raw
//! Fetch loop (a client that is not the bottleneck), and measures `dd` into
//! the same directory in the same run. Writes its section of BENCHMARKS.md.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::Broker;
use common::bench::{machine, update_section};
use common::clients::py_venv;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const N: u64 = 500_000;
const SIZE: u64 = 1_000;

fn dd_mbs(dir: &std::path::Path, extra: &[&str]) -> f64 {
    let of = format!("of={}", dir.join("dd.tmp").display());
    let t = Instant::now();
    let out = Command::new("dd")
        .args(["if=/dev/zero", &of, "bs=1M", "count=477", "status=none"])
        .args(extra)
        .output()
        .expect("dd runs");
    assert!(out.status.success());
    let mbs = 477.0 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(dir.join("dd.tmp"));
    mbs
}

/// Reads the whole partition with raw Fetch v11 requests; returns (bytes, seconds).
fn raw_fetch_all(addr: &str, topic: &str, end: i64) -> (u64, f64) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut offset = 0i64;
    let mut total = 0u64;
    let t = Instant::now();
    for corr in 0..100_000 {
        if offset >= end {
            break;
        }
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.fetch_offset = offset;
        p.partition_max_bytes = 16 << 20;
        let mut ft = FetchTopic::default();
        ft.topic = StrBytes::from_static_str("bench").into();
        ft.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = kafka_protocol::messages::BrokerId(-1);
        req.max_wait_ms = 100;
        req.min_bytes = 1;
        req.max_bytes = 64 << 20;
        req.topics = vec![ft];
        let mut h = RequestHeader::default();
        h.request_api_key = 1;
        h.request_api_version = 11;
        h.correlation_id = corr;
        let mut body = BytesMut::new();
        h.encode(&mut body, 1).unwrap();
        req.encode(&mut body, 11).unwrap();
        s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
        s.write_all(&body).unwrap();
        let mut size = [0u8; 4];
        s.read_exact(&mut size).unwrap();
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        s.read_exact(&mut buf).unwrap();
        let mut b = Bytes::from(buf);
        ResponseHeader::decode(&mut b, 0).unwrap();
        let resp = FetchResponse::decode(&mut b, 11).unwrap();
        let records = resp.responses[0].partitions[0].records.clone().unwrap_or_default();
        assert!(!records.is_empty(), "fetch at {offset} returned nothing");
        total += records.len() as u64;
        // Next offset: walk batch headers to the last whole batch.
        let mut at = 0usize;
        while at + 61 <= records.len() {
            let base = i64::from_be_bytes(records[at..at + 8].try_into().unwrap());
            let len = i32::from_be_bytes(records[at + 8..at + 12].try_into().unwrap()) as usize + 12;
            let delta = i32::from_be_bytes(records[at + 23..at + 27].try_into().unwrap()) as i64;
            if at + len > records.len() {
                break;
            }
            offset = base + delta + 1;
            at += len;
        }
    }
    let _ = topic;
    (total, t.elapsed().as_secs_f64())
}

fn kcat_consume(addr: &str) -> (f64, f64) {
    let script = format!(
        "TIMEFORMAT='%R %U %S'; time (kcat -C -b {addr} -t bench -o beginning -e -q -f '%s' > /dev/null)"
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let nums: Vec<f64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(nums.len() >= 3, "kcat timing: {text}");
    let n = nums.len();
    (nums[n - 3], nums[n - 2] + nums[n - 1])
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn produce_and_consume_500k_records_against_dd() {
    let broker = Broker::start(&[
        ("log.segment.bytes", "134217728"),
        ("log.ring.segments", "8"),
    ]);
    let addr = broker.addr();
    let dd_cache = dd_mbs(&broker.data_dir(), &[]);
    let dd_sync = dd_mbs(&broker.data_dir(), &["conv=fdatasync"]);
    let p = py_venv("perf_produce.py", &[&addr, "bench", &N.to_string(), &SIZE.to_string(), "1"]);
    assert_eq!(p.get("records").i64() as u64, N, "all records acked: {p:?}");
    let mb = |x: f64| x;
    let produce_mbs = p.get("mb_per_sec").f64() * 1.048576;
    let (kcat_secs, kcat_cpu) = kcat_consume(&addr);
    let (bytes, raw_secs) = raw_fetch_all(&addr, "bench", N as i64);
    let raw_gbs = bytes as f64 / raw_secs / 1e9;
    let kcat_mbs = (N * SIZE) as f64 / kcat_secs / 1e6;
    let body = format!(
        "## Broker produce and consume (issue 3)\n\n\
         Command: `make bench` (`cargo test --release --test bench_broker -- --ignored`). Machine: {}.\n\
         Workload: {N} records × {SIZE} bytes, one partition, acks=1, `log.durability=fsync` (acked = fdatasync'd),\n\
         ring 8 × 128 MiB. Produce client: confluent-kafka {} (librdkafka), linger.ms=5.\n\n\
         | what | figure |\n|---|---|\n\
         | produce | {:.0} records/s, {produce_mbs:.1} MB/s |\n\
         | produce latency | avg {} ms, p50 {} ms, p95 {} ms, p99 {} ms, p99.9 {} ms, max {} ms |\n\
         | produce client CPU | {:.2} s over {:.2} s wall ({:.0}% of one core: client-bound when near 100%) |\n\
         | `dd bs=1M` to the same directory (page cache) | {dd_cache:.0} MB/s |\n\
         | `dd bs=1M conv=fdatasync` to the same directory | {dd_sync:.0} MB/s |\n\
         | **produce / dd (fdatasync)** (target ≥ 0.7) | **{:.2}** |\n\
         | consume, kcat (librdkafka) to /dev/null | {kcat_mbs:.0} MB/s, client CPU {kcat_cpu:.2} s over {kcat_secs:.2} s |\n\
         | **consume, raw Fetch v11 loop (client not the bottleneck)** (target ≥ 1 GB/s) | **{raw_gbs:.2} GB/s** |\n",
        machine(),
        "2.16.1",
        p.get("records_per_sec").f64(),
        p.get("avg_ms").f64(),
        p.get("p50_ms").f64(),
        p.get("p95_ms").f64(),
        p.get("p99_ms").f64(),
        p.get("p999_ms").f64(),
        p.get("max_ms").f64(),
        p.get("client_cpu_sec").f64(),
        p.get("seconds").f64(),
        100.0 * p.get("client_cpu_sec").f64() / p.get("seconds").f64(),
        mb(produce_mbs) / dd_sync,
    );
    println!("{body}");
    update_section("broker", &body);
}


