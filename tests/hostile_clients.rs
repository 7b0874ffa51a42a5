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
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ProduceRequest, RequestHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use pipit::protocol::records::compression::Compression;
use pipit::protocol::records::{BatchBuilder, Record};

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

/// Frame bytes of a Fetch for partition 0 of `topic` at `offset`.
fn fetch_frame(corr: i32, topic: &str, offset: i64, max_wait_ms: i32) -> Vec<u8> {
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
    req.max_bytes = 1 << 20;
    req.topics = vec![t];
    frame(ApiKey::Fetch, 11, corr, &req)
}

/// Reads one response frame; returns its correlation id.
fn read_correlation(s: &mut TcpStream) -> i32 {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).unwrap();
    i32::from_be_bytes(body[0..4].try_into().unwrap())
}

/// `kcat -Q` for the latest offset of partition 0.
fn latest_offset(addr: &str, topic: &str) -> i64 {
    let spec = format!("{topic}:0:-1");
    let out = kcat_ok(&["-b", addr, "-Q", "-t", &spec], None);
    out.lines()
        .find(|l| l.contains("offset"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|o| o.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {out:?}"))
}

#[test]
fn idle_connections_and_stalled_frames_are_closed_but_a_long_poll_is_not() {
    let broker = Broker::start(&[("connections.max.idle.ms", "1000")]);
    let addr = broker.addr();
    let within = Duration::from_secs(10);
    // Connected, never sends anything.
    let mut idle = common::wire::connect(&addr);
    // Slowloris: a size prefix and part of the frame, then nothing.
    let mut stalled = common::wire::connect(&addr);
    stalled.write_all(&[0, 0, 0, 100, 0, 3, 0, 1]).unwrap();
    // Half a size prefix.
    let mut half = common::wire::connect(&addr);
    half.write_all(&[0, 0]).unwrap();
    for (what, s) in [
        ("idle", &mut idle),
        ("stalled frame", &mut stalled),
        ("half size prefix", &mut half),
    ] {
        if let Err(e) = common::wire::wait_closed(s, within) {
            panic!("{what} connection: {e}\n{}", broker.log_tail());
        }
    }
    // A long poll longer than the idle bound is work in flight, not idleness.
    kcat_ok(&["-b", &addr, "-L", "-t", "quiet"], None);
    let mut poll = common::wire::connect(&addr);
    poll.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    poll.write_all(&fetch_frame(42, "quiet", 0, 2500)).unwrap();
    assert_eq!(read_correlation(&mut poll), 42, "the long poll is answered");
    // Then it is idle like any other.
    common::wire::wait_closed(&mut poll, within).expect("idle after the long poll");
}

#[test]
fn a_connection_runs_at_most_eight_requests_at_once() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    kcat_ok(&["-b", &addr, "-L", "-t", "slow"], None);
    kcat_ok(&["-b", &addr, "-L", "-t", "other"], None);
    // Eight long polls on an empty topic fill the connection's slots...
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for corr in 1..=8 {
        s.write_all(&fetch_frame(corr, "slow", 0, 20_000)).unwrap();
    }
    // ...so a ninth request behind them is not read, let alone run.
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    let mut b = BatchBuilder::new(Compression::None);
    b.push(Record {
        value: Some(Bytes::from_static(b"ninth")),
        timestamp: common::now_ms(),
        ..Record::default()
    });
    pd.records = Some(Bytes::from(b.build().unwrap()));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_static_str("other").into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    s.write_all(&frame(ApiKey::Produce, 7, 9, &req)).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        latest_offset(&addr, "other"),
        0,
        "the ninth request ran while eight were in flight"
    );
    // Data for the long polls ends them; then the ninth runs, answered in order.
    kcat_ok(&["-b", &addr, "-P", "-t", "slow"], Some(b"wake\n"));
    let order: Vec<i32> = (0..9).map(|_| read_correlation(&mut s)).collect();
    assert_eq!(order, (1..=9).collect::<Vec<_>>());
    assert_eq!(latest_offset(&addr, "other"), 1);
}

/// Raises this process's open-file limit to `want` (the broker inherits it).
fn ensure_nofile(want: u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if soft >= want {
        return;
    }
    let pid = std::process::id().to_string();
    let arg = format!("--nofile={want}:{want}");
    let ok = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &arg])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "open-file limit {soft} is below {want} and prlimit could not raise it"
    );
}

#[test]
fn a_thousand_connections_sending_large_frames_stay_within_the_request_budget() {
    const CONNS: usize = 1000;
    const FRAME: usize = 512 * 1024;
    ensure_nofile(4096);
    let broker = Broker::start(&[
        ("max.connections", "1100"),
        ("socket.request.max.bytes", "524288"),
    ]);
    let addr = broker.addr();
    kcat_ok(&["-b", &addr, "-L", "-t", "steady"], None);
    let mut conns: Vec<(TcpStream, usize)> = (0..CONNS)
        .map(|_| {
            let s = TcpStream::connect(&addr).expect("connect");
            s.set_nonblocking(true).unwrap();
            (s, 0)
        })
        .collect();
    // Each sends one maximal frame of garbage (API key -1), all interleaved in
    // 64 KiB steps so every frame is half-read at once unless bounded.
    let mut frame = (FRAME as i32 - 4).to_be_bytes().to_vec();
    frame.resize(FRAME, 0xff);
    let hostile = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while std::time::Instant::now() < deadline && conns.iter().any(|(_, at)| *at < FRAME) {
            for (s, at) in conns.iter_mut().filter(|(_, at)| *at < FRAME) {
                let end = (*at + 64 * 1024).min(FRAME);
                match s.write(&frame[*at..end]) {
                    Ok(n) => *at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => *at = FRAME, // closed by the broker
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        conns.iter().filter(|(_, at)| *at >= FRAME).count()
    });
    // A well-behaved producer and consumer alongside.
    kcat_produce(&addr, "steady", 20, 100);
    assert_eq!(kcat_count(&addr, "steady"), 20);
    let done = hostile.join().unwrap();
    assert_eq!(done, CONNS, "every hostile frame was sent or refused");
    let hwm_kib = broker.proc_status_kib("VmHWM").expect("VmHWM");
    eprintln!("broker VmHWM with {CONNS} connections sending {FRAME}-byte frames: {hwm_kib} KiB");
    // queued.max.request.bytes defaults to 64 MiB; the rest is the broker itself.
    assert!(
        hwm_kib < 112 * 1024,
        "broker peak RSS {hwm_kib} KiB is over 112 MiB"
    );
    assert!(latest_offset(&addr, "steady") == 20);
}
