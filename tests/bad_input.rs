//! Hostile and malformed input over raw TCP, while a well-behaved producer keeps
//! going on another connection.
//!
//! Each bad connection must be closed by the broker within a bounded time, with a
//! log line naming the peer address; the broker must keep serving: the background
//! producer (confluent-kafka, acks=all) gets every ack, and a fresh ApiVersions
//! request still gets an answer. Frames are built by hand (tests/common/wire.rs).

mod common;

use common::Broker;
use common::clients::{finish_script, spawn_py_venv};
use common::wire::{self, Cursor, Request, SeededRng};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const MAX_REQUEST: &str = "1048576";
/// How long the broker may take to close a bad connection.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
/// Seed of the random-bytes connection (print it when the test fails).
const RANDOM_SEED: u64 = 0x5eed_b17e;

/// Asserts the broker closes `stream` and logs a line naming its local address.
fn assert_closed_and_logged(broker: &Broker, mut stream: TcpStream, what: &str) {
    let peer = stream.local_addr().expect("local addr").to_string();
    if let Err(e) = wire::wait_closed(&mut stream, CLOSE_WITHIN) {
        panic!(
            "{what}: broker kept the connection from {peer} open: {e}\n{}",
            broker.log_tail()
        );
    }
    // The log line may be written just after the close; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let log = broker.stderr_log();
        let mentions: Vec<&str> = log.lines().filter(|l| l.contains(&peer)).collect();
        // A reason, not only the address: the line has words beyond the peer.
        if mentions
            .iter()
            .any(|l| l.replace(&peer, "").trim().len() > 10)
        {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what}: no log line names peer {peer} with a reason\n{}",
                broker.log_tail()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn api_versions_v0(corr: i32) -> Vec<u8> {
    Request::new(wire::API_VERSIONS, 0, corr, "pipit-it").finish()
}

/// Parses a v0-encoded ApiVersions response; returns (error_code, api key count).
fn parse_api_versions_v0(body: &[u8], corr: i32) -> (i16, i32) {
    let mut c = Cursor::new(body);
    assert_eq!(c.i32(), corr, "correlation id");
    let error = c.i16();
    let count = c.i32();
    assert!((0..1000).contains(&count), "api key count {count}");
    for _ in 0..count {
        let (key, min, max) = (c.i16(), c.i16(), c.i16());
        assert!(
            key >= 0 && min >= 0 && min <= max,
            "range {key}: {min}..{max}"
        );
    }
    // v0 has no throttle time and no tagged fields: nothing may follow.
    assert_eq!(c.remaining(), 0, "bytes after a v0 ApiVersions body");
    (error, count)
}

#[test]
fn bad_connections_are_closed_and_logged_while_a_producer_keeps_going() {
    let broker = Broker::start(&[("socket.request.max.bytes", MAX_REQUEST)]);
    let addr = broker.addr();
    let producer = spawn_py_venv("confluent_background_producer.py", &[&addr, "steady", "6"]);
    thread::sleep(Duration::from_millis(1500)); // let it connect and start producing

    // 1. A truncated frame (announces 100 bytes, sends 10), then our side closes.
    let mut s = wire::connect(&addr);
    let frame = api_versions_v0(1);
    let mut partial = 100i32.to_be_bytes().to_vec();
    partial.extend_from_slice(&frame[4..]);
    partial.truncate(14);
    wire::write_lossy(&mut s, &partial);
    let _ = s.shutdown(Shutdown::Write);
    assert_closed_and_logged(&broker, s, "truncated frame");

    // 2. An unknown API key.
    let mut s = wire::connect(&addr);
    wire::write_lossy(&mut s, &Request::new(9999, 0, 2, "pipit-it").finish());
    assert_closed_and_logged(&broker, s, "unknown api key 9999");

    // 3. A frame announcing 2 MiB, over socket.request.max.bytes = 1 MiB.
    let mut s = wire::connect(&addr);
    let mut big = (2i32 << 20).to_be_bytes().to_vec();
    big.extend_from_slice(&frame[4..]);
    wire::write_lossy(&mut s, &big);
    assert_closed_and_logged(&broker, s, "oversized frame");

    // 4. Metadata v1 whose topics array claims 0x7fffffff entries: a 19-byte body.
    let mut s = wire::connect(&addr);
    let absurd = Request::new(wire::API_METADATA, 1, 4, "pipit")
        .i32(0x7fff_ffff)
        .finish();
    assert_eq!(absurd.len() - 4, 19, "the documented 19-byte request");
    wire::write_lossy(&mut s, &absurd);
    assert_closed_and_logged(&broker, s, "absurd array count");

    // 5. 64 KiB of seeded random bytes.
    let mut s = wire::connect(&addr);
    wire::write_lossy(&mut s, &SeededRng::new(RANDOM_SEED).bytes(64 << 10));
    assert_closed_and_logged(&broker, s, &format!("random bytes (seed {RANDOM_SEED:#x})"));

    // 6. A well-framed Metadata v1 header followed by 64 KiB of seeded random body,
    //    so the random bytes reach the request decoder rather than the size check.
    let mut s = wire::connect(&addr);
    let body = SeededRng::new(RANDOM_SEED + 1).bytes(64 << 10);
    let frame = Request::new(wire::API_METADATA, 1, 5, "pipit-it")
        .raw(&body)
        .finish();
    wire::write_lossy(&mut s, &frame);
    assert_closed_and_logged(
        &broker,
        s,
        &format!("random Metadata body (seed {:#x})", RANDOM_SEED + 1),
    );

    // The broker still answers a well-formed request on a fresh connection.
    let mut s = wire::connect(&addr);
    wire::write_lossy(&mut s, &api_versions_v0(6));
    let body = wire::read_frame(&mut s).expect("ApiVersions response after the abuse");
    assert_eq!(
        parse_api_versions_v0(&body, 6).0,
        0,
        "ApiVersions v0 error code"
    );

    let r = finish_script(producer, Duration::from_secs(60));
    let ctx = format!("{r:?}\n{}", broker.log_tail());
    assert!(
        r.get("sent").i64() > 50,
        "background producer barely produced: {ctx}"
    );
    assert!(r.get("errors").arr().is_empty(), "producer errors: {ctx}");
    assert_eq!(r.get("unflushed").i64(), 0, "{ctx}");
    assert_eq!(
        r.get("acked").i64(),
        r.get("sent").i64(),
        "every record acked: {ctx}"
    );
}

#[test]
fn api_versions_at_an_unsupported_version_gets_a_v0_error_response() {
    let broker = Broker::start(&[]);
    let mut s = wire::connect(&broker.addr());
    // v9 does not exist; sent the way a newer client sends v3+ (header v2, v3 body).
    let req = Request::new_flexible(wire::API_VERSIONS, 9, 7, "pipit-it")
        .compact_string("pipit-it")
        .compact_string("0.0.0")
        .u8(0)
        .finish();
    wire::write_lossy(&mut s, &req);
    let body = wire::read_frame(&mut s).expect("ApiVersions v9 response");
    let (error, count) = parse_api_versions_v0(&body, 7);
    assert_eq!(error, wire::UNSUPPORTED_VERSION, "error code");
    assert!(
        count > 0,
        "the v0 error response still lists the supported APIs"
    );
    // The connection stays usable: the client retries at a version we support.
    wire::write_lossy(&mut s, &api_versions_v0(8));
    let body = wire::read_frame(&mut s).expect("ApiVersions v0 after the v9 error");
    assert_eq!(parse_api_versions_v0(&body, 8).0, 0);
}

#[test]
fn produce_v2_is_refused_with_unsupported_version() {
    let broker = Broker::start(&[]);
    let mut s = wire::connect(&broker.addr());
    // Produce v2: acks, timeout, [topic [partition, message set bytes]].
    let req = Request::new(wire::API_PRODUCE, 2, 11, "pipit-it")
        .i16(1)
        .i32(5000)
        .i32(1)
        .string("old-client")
        .i32(1)
        .i32(0)
        .bytes(&[])
        .finish();
    wire::write_lossy(&mut s, &req);
    let body = wire::read_frame(&mut s).expect("Produce v2 response");
    // Produce v2 response: [topic [partition, error, base offset, log append time]], throttle.
    let mut c = Cursor::new(&body);
    assert_eq!(c.i32(), 11, "correlation id");
    assert_eq!(c.i32(), 1, "one topic in the response");
    assert_eq!(c.string(), "old-client");
    assert_eq!(c.i32(), 1, "one partition in the response");
    assert_eq!(c.i32(), 0, "partition index");
    assert_eq!(c.i16(), wire::UNSUPPORTED_VERSION, "partition error code");
}

/// max.connections: a connection over the limit is closed at once with a
/// logged reason; once one closes, a new one is served again.
#[test]
fn connections_over_max_connections_are_closed_and_the_slot_comes_back() {
    let broker = Broker::start(&[("max.connections", "2")]);
    let addr = broker.addr();
    let mut held = Vec::new();
    for corr in 0..2 {
        let mut s = wire::connect(&addr);
        wire::write_lossy(&mut s, &api_versions_v0(corr));
        assert_eq!(
            parse_api_versions_v0(&wire::read_frame(&mut s).expect("served"), corr).0,
            0
        );
        held.push(s);
    }
    let mut third = wire::connect(&addr);
    wire::wait_closed(&mut third, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("the third connection stayed open: {e}"));
    assert!(
        broker.stderr_log().contains("max.connections (2) reached"),
        "{}",
        broker.log_tail()
    );
    // Free one slot; a new connection is served (the broker notices the close
    // asynchronously, so try a few times).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = wire::connect(&addr);
        wire::write_lossy(&mut s, &api_versions_v0(9));
        if let Ok(frame) = wire::read_frame(&mut s) {
            assert_eq!(parse_api_versions_v0(&frame, 9).0, 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no slot came back: {}",
            broker.log_tail()
        );
        thread::sleep(Duration::from_millis(50));
    }
}
