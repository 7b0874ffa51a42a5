//! Idempotent producers: unmodified clients with idempotence on, and the
//! broker's duplicate / sequence / epoch checks on the wire, across a restart.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Broker;
use common::clients::py_venv;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    ProducerId, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use pipit::storage::batch::{CRC32C, build_test_batch};

#[test]
fn idempotent_clients_produce_every_record_exactly_once() {
    let broker = Broker::start(&[]);
    let r = py_venv("idempotent_produce.py", &[&broker.addr(), "idem", "50"]);
    let ctx = format!("{r:?}\n{}", broker.log_tail());
    assert!(r.get("errors").arr().is_empty(), "{ctx}");
    for (client, tag) in [("kafka_python", "kp"), ("confluent", "ck")] {
        let got = r.get(client).strings();
        let want: Vec<String> = (0..50).map(|i| format!("{tag}-{i}")).collect();
        assert_eq!(got, want, "{client}: {ctx}");
    }
}

/// Sends `req` and returns the response body (after a v0 or v1 response header).
fn call<R: Encodable + HeaderVersion>(
    s: &mut TcpStream,
    key: ApiKey,
    v: i16,
    req: &R,
    response_header: i16,
) -> Bytes {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = v;
    h.correlation_id = 1;
    let mut body = BytesMut::new();
    h.encode(&mut body, R::header_version(v)).unwrap();
    req.encode(&mut body, v).unwrap();
    s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    let mut b = Bytes::from(buf);
    ResponseHeader::decode(&mut b, response_header).unwrap();
    b
}

/// A one-record batch of producer `pid`/`epoch` with sequence `seq`.
fn batch(pid: i64, epoch: i16, seq: i32) -> Vec<u8> {
    sized_batch(pid, epoch, seq, 20)
}

/// As [`batch`] with a record body of `body` bytes (pid -1: not idempotent).
fn sized_batch(pid: i64, epoch: i16, seq: i32, body: usize) -> Vec<u8> {
    let mut b = vec![0u8; 61 + body];
    build_test_batch(&mut b, body, 1, 1_700_000_000_000, seq as u8).unwrap();
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = CRC32C.checksum(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn produce(s: &mut TcpStream, records: Vec<u8>) -> (i16, i64) {
    let mut pd = PartitionProduceData::default();
    pd.records = Some(Bytes::from(records));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_static_str("seq").into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    let mut b = call(s, ApiKey::Produce, 7, &req, 0);
    let resp = ProduceResponse::decode(&mut b, 7).unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn duplicates_get_their_original_offset_gaps_and_old_epochs_are_refused() {
    let mut broker = Broker::start(&[]);
    common::clients::kcat_ok(&["-b", &broker.addr(), "-t", "seq", "-P"], Some(b"plain\n"));
    let mut s = connect(&broker.addr());
    let mut b = call(
        &mut s,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default(),
        1,
    );
    let init = InitProducerIdResponse::decode(&mut b, 4).unwrap();
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    assert!(pid >= 0);
    assert_eq!(produce(&mut s, batch(pid, epoch, 0)), (0, 1));
    assert_eq!(produce(&mut s, batch(pid, epoch, 1)), (0, 2));
    // A retry of either batch: not written again, original offset.
    assert_eq!(produce(&mut s, batch(pid, epoch, 0)), (0, 1));
    assert_eq!(produce(&mut s, batch(pid, epoch, 1)), (0, 2));
    // A gap: OUT_OF_ORDER_SEQUENCE_NUMBER.
    assert_eq!(produce(&mut s, batch(pid, epoch, 5)).0, 45);
    // An epoch bump for the same id; the old epoch is then fenced.
    let bumped = init_producer_id(&mut s, 4, pid, epoch);
    assert_eq!(
        (
            bumped.error_code,
            bumped.producer_id.0,
            bumped.producer_epoch
        ),
        (0, pid, epoch + 1)
    );
    assert_eq!(produce(&mut s, batch(pid, epoch + 1, 0)), (0, 3));
    assert_eq!(
        produce(&mut s, batch(pid, epoch, 2)).0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );
    // After a restart the windows and epochs come back.
    drop(s);
    assert!(broker.sigterm_and_wait().success());
    broker.restart();
    let mut s = connect(&broker.addr());
    assert_eq!(
        produce(&mut s, batch(pid, epoch + 1, 0)),
        (0, 3),
        "still a duplicate"
    );
    assert_eq!(produce(&mut s, batch(pid, epoch + 1, 1)), (0, 4));
    assert_eq!(produce(&mut s, batch(pid, epoch, 2)).0, 47, "still fenced");
    // A new id is never one handed out before the restart.
    let again = init_producer_id(&mut s, 4, -1, -1);
    assert!(again.producer_id.0 > pid);
}

/// InitProducerId at `version` naming `pid`/`epoch` (-1/-1: a new producer).
fn init_producer_id(
    s: &mut TcpStream,
    version: i16,
    pid: i64,
    epoch: i16,
) -> InitProducerIdResponse {
    let mut req = InitProducerIdRequest::default();
    req.producer_id = ProducerId(pid);
    req.producer_epoch = epoch;
    let header = if version >= 2 { 1 } else { 0 };
    let mut b = call(s, ApiKey::InitProducerId, version, &req, header);
    InitProducerIdResponse::decode(&mut b, version).unwrap()
}

#[test]
fn init_producer_id_bumps_only_an_id_and_epoch_it_handed_out() {
    let mut broker = Broker::start(&[]);
    let mut s = connect(&broker.addr());
    let init = init_producer_id(&mut s, 4, -1, -1);
    let pid = init.producer_id.0;
    assert_eq!((init.error_code, init.producer_epoch), (0, 0));
    let code = |r: InitProducerIdResponse| (r.error_code, r.producer_id.0, r.producer_epoch);
    // Never handed out, or not its epoch: PRODUCER_FENCED (v4), INVALID_PRODUCER_EPOCH (v3).
    let never = pid + 5000;
    assert_eq!(code(init_producer_id(&mut s, 4, never, 0)), (90, -1, -1));
    assert_eq!(code(init_producer_id(&mut s, 3, never, 0)), (47, -1, -1));
    assert_eq!(code(init_producer_id(&mut s, 4, pid, 3)), (90, -1, -1));
    // Only one of the two: INVALID_REQUEST.
    assert_eq!(code(init_producer_id(&mut s, 4, pid, -1)).0, 42);
    assert_eq!(code(init_producer_id(&mut s, 4, -1, 0)).0, 42);
    // The current epoch is bumped; a repeat of that bump gets the same answer.
    assert_eq!(code(init_producer_id(&mut s, 4, pid, 0)), (0, pid, 1));
    assert_eq!(code(init_producer_id(&mut s, 4, pid, 0)), (0, pid, 1));
    assert_eq!(code(init_producer_id(&mut s, 3, pid, 1)), (0, pid, 2));
    assert_eq!(code(init_producer_id(&mut s, 4, pid, 1)), (0, pid, 2));
    assert_eq!(code(init_producer_id(&mut s, 4, pid, 0)), (90, -1, -1));
    // After a restart the epochs are not known: a fresh id, as Kafka answers
    // when it has no mapping for the id.
    drop(s);
    broker.restart();
    let mut s = connect(&broker.addr());
    let (err, fresh, epoch) = code(init_producer_id(&mut s, 4, pid, 2));
    assert_eq!((err, epoch), (0, 0));
    assert!(fresh > pid);
}

#[test]
fn a_batch_from_a_producer_id_never_handed_out_is_refused_and_not_written() {
    let broker = Broker::start(&[]);
    common::clients::kcat_ok(&["-b", &broker.addr(), "-t", "seq", "-P"], Some(b"plain\n"));
    let mut s = connect(&broker.addr());
    let pid = init_producer_id(&mut s, 4, -1, -1).producer_id.0;
    for seq in [0, 7] {
        assert_eq!(
            produce(&mut s, batch(pid + 5000, 0, seq)),
            (59, -1),
            "UNKNOWN_PRODUCER_ID"
        );
    }
    // A handed-out id this partition has no state for is accepted at any
    // sequence (Kafka >= 2.5, KIP-360); nothing before it was written.
    assert_eq!(produce(&mut s, batch(pid, 0, 5)), (0, 1));
    assert_eq!(produce(&mut s, batch(pid, 0, 6)), (0, 2));
}

/// Producer `pid` writes seq 0; plain batches then fill more than one 64 KiB
/// slot, so the ring rolls and the newest slot holds none of its batches.
/// Returns seq 0's offset and the log end.
fn write_then_roll(addr: &str) -> (i64, (i64, i16), i64) {
    common::clients::kcat_ok(&["-b", addr, "-t", "seq", "-P"], Some(b"plain\n"));
    let mut s = connect(addr);
    let mut b = call(
        &mut s,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default(),
        1,
    );
    let init = InitProducerIdResponse::decode(&mut b, 4).unwrap();
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    let (code, first) = produce(&mut s, batch(pid, epoch, 0));
    assert_eq!(code, 0);
    let mut last = first;
    for _ in 0..100 {
        let (code, o) = produce(&mut s, sized_batch(-1, -1, -1, 1000));
        assert_eq!(code, 0);
        last = o;
    }
    (first, (pid, epoch), last + 1)
}

/// Segments of 64 KiB, so a hundred 1 KB batches roll the ring.
const SMALL_SLOTS: [(&str, &str); 2] = [
    ("log.segment.bytes", "65536"),
    ("message.max.bytes", "32768"),
];

fn retry_is_a_duplicate_after(stop: fn(&mut Broker)) {
    let mut broker = Broker::start(&SMALL_SLOTS);
    let (first, (pid, epoch), end) = write_then_roll(&broker.addr());
    stop(&mut broker);
    broker.restart();
    let mut s = connect(&broker.addr());
    assert_eq!(
        produce(&mut s, batch(pid, epoch, 0)),
        (0, first),
        "the retry is answered with its original offset\n{}",
        broker.log_tail()
    );
    assert_eq!(
        produce(&mut s, batch(pid, epoch, 1)),
        (0, end),
        "the retry was not stored: the next batch gets the old log end"
    );
}

#[test]
fn retry_of_a_batch_in_an_older_slot_is_a_duplicate_after_sigterm_restart() {
    retry_is_a_duplicate_after(|b| assert!(b.sigterm_and_wait().success()));
}

#[test]
fn retry_of_a_batch_in_an_older_slot_is_a_duplicate_after_sigkill_restart() {
    retry_is_a_duplicate_after(Broker::kill9);
}
