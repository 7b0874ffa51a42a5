//! Hostile and heavy clients against the real binary: requests built to make
//! the broker allocate far more than they cost to send, idle and slowloris
//! connections, and many connections at once. Each test states the memory
//! bound it holds the broker to (VmHWM from /proc) and checks a well-behaved
//! kcat client still works alongside.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Broker;
use common::clients::kcat_ok;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

const MIB: u64 = 1 << 20;

fn frame<R: Encodable + HeaderVersion>(key: ApiKey, v: i16, corr: i32, req: &R) -> Vec<u8> {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = v;
    h.correlation_id = corr;
    h.client_id = Some(StrBytes::from_static_str("hostile"));
    let mut body = BytesMut::new();
    h.encode(&mut body, R::header_version(v)).unwrap();
    req.encode(&mut body, v).unwrap();
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// `lines` messages of `size` bytes each into `topic` (auto-created) by kcat.
fn kcat_produce(addr: &str, topic: &str, lines: usize, size: usize) {
    let mut input = Vec::with_capacity(lines * (size + 1));
    for i in 0..lines {
        let fill = b'a' + (i % 26) as u8;
        input.extend(std::iter::repeat_n(fill, size));
        input.push(b'\n');
    }
    kcat_ok(
        &["-b", addr, "-P", "-t", topic, "-X", "acks=all"],
        Some(&input),
    );
}

/// How many messages kcat reads from the start of `topic` to its end.
fn kcat_count(addr: &str, topic: &str) -> usize {
    let out = kcat_ok(
        &[
            "-b",
            addr,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-f",
            "%o\n",
        ],
        None,
    );
    out.lines().count()
}

#[test]
fn fetch_listing_one_partition_many_times_with_huge_max_bytes_stays_within_fetch_max_bytes() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    // About 2 MiB of records.
    kcat_produce(&addr, "big", 40, 50_000);
    // The hostile request: one partition listed 60 times, every limit at i32::MAX.
    // Unbounded, that answers 60 x 2 MiB.
    let mut t = FetchTopic::default();
    t.topic = StrBytes::from_static_str("big").into();
    t.partitions = (0..60)
        .map(|_| {
            let mut p = FetchPartition::default();
            p.partition = 0;
            p.fetch_offset = 0;
            p.partition_max_bytes = i32::MAX;
            p
        })
        .collect();
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = i32::MAX;
    req.topics = vec![t];
    let bytes = frame(ApiKey::Fetch, 11, 7, &req);
    assert!(bytes.len() < 2000, "a small request: {} bytes", bytes.len());

    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&bytes).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let size = u64::from(u32::from_be_bytes(size));
    // fetch.max.bytes defaults to 4 MiB; headers and 60 partition entries add little.
    assert!(
        size <= 4 * MIB + 64 * 1024,
        "response of {size} bytes is over fetch.max.bytes"
    );
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body).unwrap();
    let mut b = Bytes::from(body);
    let _header = kafka_protocol::messages::ResponseHeader::decode(&mut b, 0).unwrap();
    let resp = FetchResponse::decode(&mut b, 11).unwrap();
    // The duplicate entries are one partition: answered once, with its data.
    let parts: Vec<_> = resp.responses.iter().flat_map(|t| &t.partitions).collect();
    assert_eq!(parts.len(), 1, "a repeated partition is answered once");
    assert_eq!(parts[0].error_code, 0);
    assert!(
        parts[0]
            .records
            .as_ref()
            .is_some_and(|r| r.len() > 1_000_000)
    );

    // The broker never held more than a stated bound (it starts near 5 MiB).
    let hwm_kib = broker.proc_status_kib("VmHWM").expect("VmHWM");
    eprintln!("broker VmHWM after the hostile fetch: {hwm_kib} KiB (response {size} bytes)");
    assert!(
        hwm_kib < 64 * 1024,
        "broker peak RSS {hwm_kib} KiB is over 64 MiB"
    );
    // A normal consumer still reads everything.
    assert_eq!(kcat_count(&addr, "big"), 40);
}
