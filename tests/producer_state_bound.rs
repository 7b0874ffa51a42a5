//! Hostile clients and producer state: tens of thousands of distinct
//! idempotent producer ids (each handed out by InitProducerId, each writing
//! one batch) must not grow the broker's memory without bound, and a
//! well-behaved idempotent producer writing alongside keeps working, its
//! retries still recognised as duplicates.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Broker;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use pipit::storage::batch::{CRC32C, build_test_batch};

/// Distinct producer ids in the flood (after a warm-up of `WARM_UP`).
const FLOOD: usize = 50_000;
const WARM_UP: usize = 3_000;
/// Requests written before their responses are read.
const PIPELINE: usize = 100;
/// What the flood may add to the broker's RSS. Unbounded, each producer's
/// state costs ~150-200 bytes, so 50,000 of them add 7-10 MB.
const RSS_GROWTH_BOUND_KB: u64 = 3 * 1024;

fn frame<R: Encodable + HeaderVersion>(key: ApiKey, v: i16, corr: i32, req: &R) -> Vec<u8> {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = v;
    h.correlation_id = corr;
    let mut body = BytesMut::new();
    h.encode(&mut body, R::header_version(v)).unwrap();
    req.encode(&mut body, v).unwrap();
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Reads one response body, after a response header of `header_version`.
fn read_response(s: &mut TcpStream, header_version: i16) -> Bytes {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    let mut b = Bytes::from(buf);
    ResponseHeader::decode(&mut b, header_version).unwrap();
    b
}

/// `n` new producer ids, pipelined.
fn init_ids(s: &mut TcpStream, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(PIPELINE) {
        let k = PIPELINE.min(n - chunk * PIPELINE);
        let mut out = Vec::new();
        for i in 0..k {
            out.extend(frame(
                ApiKey::InitProducerId,
                4,
                i as i32,
                &InitProducerIdRequest::default(),
            ));
        }
        s.write_all(&out).unwrap();
        for _ in 0..k {
            let mut b = read_response(s, 1);
            let r = InitProducerIdResponse::decode(&mut b, 4).unwrap();
            assert_eq!(r.error_code, 0);
            ids.push(r.producer_id.0);
        }
    }
    ids
}

/// A one-record batch of `pid`/`epoch` at sequence `seq`.
fn batch(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    let mut b = vec![0u8; 61 + 20];
    build_test_batch(&mut b, 20, 1, 1_700_000_000_000, seq as u8).unwrap();
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = CRC32C.checksum(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn produce_frame(corr: i32, records: Vec<u8>) -> Vec<u8> {
    let mut pd = PartitionProduceData::default();
    pd.records = Some(Bytes::from(records));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_static_str("flood").into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    frame(ApiKey::Produce, 7, corr, &req)
}

/// Error code and base offset of each batch, pipelined.
fn produce_all(s: &mut TcpStream, batches: Vec<Vec<u8>>) -> Vec<(i16, i64)> {
    let mut results = Vec::with_capacity(batches.len());
    let mut it = batches.into_iter().peekable();
    while it.peek().is_some() {
        let mut out = Vec::new();
        let mut k = 0;
        for b in it.by_ref().take(PIPELINE) {
            out.extend(produce_frame(k, b));
            k += 1;
        }
        s.write_all(&out).unwrap();
        for _ in 0..k {
            let mut b = read_response(s, 0);
            let r = ProduceResponse::decode(&mut b, 7).unwrap();
            let p = &r.responses[0].partition_responses[0];
            results.push((p.error_code, p.base_offset));
        }
    }
    results
}

fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

#[test]
fn fifty_thousand_producer_ids_keep_memory_bounded_and_a_real_producer_working() {
    // `replicated`: no fdatasync per request; memory is what this test is about.
    let broker = Broker::start(&[("log.durability", "replicated")]);
    let pid = broker.pid().unwrap();
    common::clients::kcat_ok(
        &["-b", &broker.addr(), "-t", "flood", "-P"],
        Some(b"plain\n"),
    );
    let mut s = TcpStream::connect(broker.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The well-behaved producer.
    let good = init_ids(&mut s, 1)[0];
    let mut seq = 0;
    let mut last = produce_all(&mut s, vec![batch(good, 0, seq)]);
    assert_eq!(last[0].0, 0);
    // Warm-up: fill the state to its cap and every buffer once.
    let ids = init_ids(&mut s, WARM_UP);
    let r = produce_all(&mut s, ids.iter().map(|&p| batch(p, 0, 0)).collect());
    assert!(r.iter().all(|(code, _)| *code == 0));
    let before = vm_rss_kb(pid);
    for round in 0..10 {
        let ids = init_ids(&mut s, FLOOD / 10);
        let r = produce_all(&mut s, ids.iter().map(|&p| batch(p, 0, 0)).collect());
        assert!(r.iter().all(|(code, _)| *code == 0), "round {round}");
        // The real producer writes on, and its retry is still a duplicate.
        seq += 1;
        let next = produce_all(&mut s, vec![batch(good, 0, seq), batch(good, 0, seq)]);
        assert_eq!(next[0].0, 0, "round {round}: {}", broker.log_tail());
        assert_eq!(next[1], next[0], "round {round}: the retry is a duplicate");
        assert!(next[0].1 > last[0].1);
        last = next;
    }
    let after = vm_rss_kb(pid);
    eprintln!(
        "VmRSS: {before} kB after the warm-up, {after} kB after {FLOOD} more producer ids \
         (+{} kB)",
        after.saturating_sub(before)
    );
    assert!(
        after.saturating_sub(before) < RSS_GROWTH_BOUND_KB,
        "RSS grew from {before} kB to {after} kB (bound: +{RSS_GROWTH_BOUND_KB} kB)"
    );
}
