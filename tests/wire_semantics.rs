//! Produce and Fetch semantics on the wire, with frames encoded by the
//! kafka-protocol crate (the client direction) against the real binary:
//! CRC failures, oversized batches, long polls, out-of-range offsets and
//! pipelined requests answered in order.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::Broker;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, ProduceRequest,
    ProduceResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use pipit::storage::batch::build_test_batch;

fn send<R: Encodable + HeaderVersion>(s: &mut TcpStream, key: ApiKey, v: i16, corr: i32, req: &R) {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = v;
    h.correlation_id = corr;
    h.client_id = Some(StrBytes::from_static_str("wire-test"));
    let mut body = BytesMut::new();
    h.encode(&mut body, R::header_version(v)).unwrap();
    req.encode(&mut body, v).unwrap();
    s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
}

/// Reads one response frame; returns its correlation id and body.
fn recv(s: &mut TcpStream, header_version: i16) -> (i32, Bytes) {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    let mut b = Bytes::from(buf);
    let h = ResponseHeader::decode(&mut b, header_version).unwrap();
    (h.correlation_id, b)
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn batch(body: usize) -> Vec<u8> {
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, 1, 1_700_000_000_000, 7).unwrap();
    b
}

fn produce(s: &mut TcpStream, topic: &str, records: Vec<u8>) -> (i16, i64) {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(Bytes::from(records));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_string(topic.to_string()).into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    send(s, ApiKey::Produce, 7, 1, &req);
    let (_, mut b) = recv(s, 0);
    let resp = ProduceResponse::decode(&mut b, 7).unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = StrBytes::from_string(topic.to_string()).into();
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 4 << 20;
    req.topics = vec![t];
    req
}

fn fetch(s: &mut TcpStream, topic: &str, offset: i64, max_wait_ms: i32) -> (i16, usize, i64) {
    send(
        s,
        ApiKey::Fetch,
        11,
        2,
        &fetch_req(topic, offset, max_wait_ms),
    );
    let (_, mut b) = recv(s, 0);
    let resp = FetchResponse::decode(&mut b, 11).unwrap();
    let p = &resp.responses[0].partitions[0];
    let n = p.records.as_ref().map(|r| r.len()).unwrap_or(0);
    (p.error_code, n, p.high_watermark)
}

#[test]
fn produce_checks_crc_and_size_and_fetch_serves_stored_bytes() {
    let broker = Broker::start(&[("message.max.bytes", "4096")]);
    let mut s = connect(&broker.addr());
    // Metadata auto-creates the topic.
    let mut m = MetadataRequest::default();
    m.topics = None;
    m.allow_auto_topic_creation = true;
    let mut mt = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    mt.name = Some(StrBytes::from_static_str("w").into());
    m.topics = Some(vec![mt]);
    send(&mut s, ApiKey::Metadata, 9, 0, &m);
    let _ = recv(&mut s, 1);

    let good = batch(100);
    assert_eq!(produce(&mut s, "w", good.clone()), (0, 0));
    let mut corrupt = batch(100);
    corrupt[100] ^= 0xff;
    assert_eq!(produce(&mut s, "w", corrupt).0, 2, "CORRUPT_MESSAGE");
    assert_eq!(produce(&mut s, "w", batch(5000)).0, 10, "MESSAGE_TOO_LARGE");
    assert_eq!(
        produce(&mut s, "unknown-topic", batch(10)).0,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    // Only the good batch was written, and it comes back byte for byte
    // except for the stamped offset and leader epoch.
    send(&mut s, ApiKey::Fetch, 11, 3, &fetch_req("w", 0, 0));
    let (_, mut b) = recv(&mut s, 0);
    let resp = FetchResponse::decode(&mut b, 11).unwrap();
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 1);
    let got = p.records.clone().unwrap();
    assert_eq!(got.len(), good.len());
    assert_eq!(&got[16..], &good[16..]);
    // Past the log end: OFFSET_OUT_OF_RANGE.
    assert_eq!(fetch(&mut s, "w", 1000, 0).0, 1);
}

#[test]
fn fetch_long_polls_until_max_wait_or_new_data() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    let mut s = connect(&addr);
    assert_eq!(
        produce(&mut s, "lp", batch(10)),
        (3, -1),
        "not created by produce"
    );
    let mut m = MetadataRequest::default();
    let mut mt = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    mt.name = Some(StrBytes::from_static_str("lp").into());
    m.topics = Some(vec![mt]);
    m.allow_auto_topic_creation = true;
    send(&mut s, ApiKey::Metadata, 9, 0, &m);
    let _ = recv(&mut s, 1);
    // Nothing there: the broker holds the fetch for max_wait_ms.
    let t = Instant::now();
    let (code, n, _) = fetch(&mut s, "lp", 0, 600);
    assert_eq!((code, n), (0, 0));
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "returned after {:?}",
        t.elapsed()
    );
    // A produce during a long poll ends it with the new data.
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut p = connect(&addr);
        produce(&mut p, "lp", batch(10))
    });
    let t = Instant::now();
    let (code, n, hw) = fetch(&mut s, "lp", 0, 15_000);
    assert_eq!(producer.join().unwrap(), (0, 0));
    assert_eq!((code, hw), (0, 1));
    assert!(n > 0);
    assert!(
        t.elapsed() < Duration::from_secs(14),
        "woken by the produce"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let broker = Broker::start(&[]);
    let mut s = connect(&broker.addr());
    // A slow request (a long poll on an empty topic) first, fast ones after it.
    let mut m = MetadataRequest::default();
    let mut mt = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    mt.name = Some(StrBytes::from_static_str("pipe").into());
    m.topics = Some(vec![mt]);
    m.allow_auto_topic_creation = true;
    send(&mut s, ApiKey::Metadata, 9, 100, &m);
    let _ = recv(&mut s, 1);
    send(&mut s, ApiKey::Fetch, 11, 1, &fetch_req("pipe", 0, 300));
    for corr in 2..6 {
        send(
            &mut s,
            ApiKey::Metadata,
            9,
            corr,
            &MetadataRequest::default(),
        );
    }
    let order: Vec<i32> = (0..5)
        .map(|i| recv(&mut s, if i == 0 { 0 } else { 1 }).0)
        .collect();
    assert_eq!(order, vec![1, 2, 3, 4, 5]);
}

/// Produces `records` to partition 0 with `acks`; returns (error code, base offset, message).
fn produce_acks(s: &mut TcpStream, topic: &str, records: Vec<u8>, acks: i16) -> (i16, i64, String) {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(Bytes::from(records));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_string(topic.to_string()).into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    send(s, ApiKey::Produce, 8, 1, &req);
    let (_, mut b) = recv(s, 0);
    let resp = ProduceResponse::decode(&mut b, 8).unwrap();
    let p = &resp.responses[0].partition_responses[0];
    let msg = p
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    (p.error_code, p.base_offset, msg)
}

fn auto_create(s: &mut TcpStream, topic: &str) {
    let mut m = MetadataRequest::default();
    let mut mt = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default();
    mt.name = Some(StrBytes::from_string(topic.to_string()).into());
    m.topics = Some(vec![mt]);
    m.allow_auto_topic_creation = true;
    send(s, ApiKey::Metadata, 9, 0, &m);
    let _ = recv(s, 1);
}

#[test]
fn acks_all_below_min_insync_replicas_gets_not_enough_replicas_and_writes_nothing() {
    // Broker default min.insync.replicas=2, and a topic that sets it itself.
    let broker = Broker::start(&[("min.insync.replicas", "2")]);
    let addr = broker.addr();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_pipit"))
        .args(["topics", "--bootstrap-server", &addr, "--create"])
        .args(["--topic", "own", "--config", "min.insync.replicas=3"])
        .output()
        .expect("run pipit topics");
    assert!(status.status.success(), "{status:?}");
    let mut s = connect(&addr);
    auto_create(&mut s, "isr");
    for topic in ["isr", "own"] {
        let (code, offset, msg) = produce_acks(&mut s, topic, batch(10), -1);
        assert_eq!(
            (code, offset),
            (19, -1),
            "{topic}: NOT_ENOUGH_REPLICAS: {msg}"
        );
        assert!(msg.contains("min.insync.replicas"), "{topic}: {msg}");
        // acks=1 does not look at min.insync.replicas.
        assert_eq!(produce_acks(&mut s, topic, batch(10), 1).0, 0, "{topic}");
        // Only the acks=1 batch was written.
        assert_eq!(fetch(&mut s, topic, 0, 0).2, 1, "{topic}: high watermark");
    }
}

#[test]
fn a_full_ring_under_reject_new_says_what_frees_it_without_naming_delete_records() {
    let broker = Broker::start(&[
        ("ring.full.policy", "reject_new"),
        ("log.segment.bytes", "65536"),
        ("log.ring.segments", "2"),
        ("message.max.bytes", "32768"),
    ]);
    let mut s = connect(&broker.addr());
    auto_create(&mut s, "full");
    let mut refused = None;
    for _ in 0..200 {
        let (code, _, msg) = produce_acks(&mut s, "full", batch(8000), 1);
        if code != 0 {
            refused = Some((code, msg));
            break;
        }
    }
    let (code, msg) = refused.expect("the ring filled up");
    assert_eq!(code, 56, "KAFKA_STORAGE_ERROR: {msg}");
    assert!(msg.contains("reject_new"), "{msg}");
    assert!(
        !msg.contains("DeleteRecords"),
        "DeleteRecords is not served: {msg}"
    );
}
