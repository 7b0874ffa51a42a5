//! ListOffsets by timestamp at record granularity, as Kafka answers it: the
//! first record whose timestamp is at or after the one asked, even inside a
//! batch, compressed or not. Batches come from pipit's own batch builder
//! (exact timestamps) and from kcat (librdkafka), and offsets are asked with
//! `kcat -Q`, the call consumers seeking by time make.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Broker;
use common::clients::{kcat_ok, wait_bounded};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use pipit::protocol::records::compression::Compression;
use pipit::protocol::records::{BatchBuilder, Record};

/// Asks `kcat -Q` for the offset of `ts` in partition 0 of `topic`.
fn offset_for(addr: &str, topic: &str, ts: i64) -> i64 {
    let spec = format!("{topic}:0:{ts}");
    let out = kcat_ok(&["-b", addr, "-Q", "-t", &spec], None);
    out.lines()
        .find(|l| l.contains("offset"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|o| o.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no offset in kcat -Q output {out:?}"))
}

/// Creates `topic` through Metadata auto-creation (kcat -L -t).
fn create(addr: &str, topic: &str) {
    kcat_ok(&["-b", addr, "-L", "-t", topic], None);
}

/// Produces one batch (acks=1) over a raw connection; returns the error code.
fn produce_batch(addr: &str, topic: &str, batch: Vec<u8>) -> i16 {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(Bytes::from(batch));
    let mut td = TopicProduceData::default();
    td.name = StrBytes::from_string(topic.to_string()).into();
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 5000;
    req.topic_data = vec![td];
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Produce as i16;
    h.request_api_version = 7;
    h.correlation_id = 1;
    let mut body = BytesMut::new();
    h.encode(&mut body, 1).unwrap();
    req.encode(&mut body, 7).unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    let mut b = Bytes::from(buf);
    let _ = kafka_protocol::messages::ResponseHeader::decode(&mut b, 0).unwrap();
    let resp = ProduceResponse::decode(&mut b, 7).unwrap();
    resp.responses[0].partition_responses[0].error_code
}

/// The codec bits and last offset delta of the first stored batch of partition 0.
fn stored_first_batch(broker: &Broker, topic: &str) -> (u8, i32) {
    let path = broker
        .data_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.len() > 61 && bytes[16] == 2, "no v2 batch stored");
    let delta = i32::from_be_bytes(bytes[23..27].try_into().unwrap());
    (bytes[22] & 0x07, delta)
}

#[test]
fn a_time_inside_one_batch_answers_the_first_record_at_or_after_it_for_every_codec() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    for c in [Compression::None, Compression::Lz4, Compression::Gzip] {
        let topic = format!("own-{c}");
        create(&addr, &topic);
        let mut b = BatchBuilder::new(c);
        for ts in [1000, 2000, 3000, 4000] {
            b.push(Record {
                value: Some(Bytes::from(format!("reading at {ts}").repeat(20))),
                timestamp: ts,
                ..Record::default()
            });
        }
        assert_eq!(produce_batch(&addr, &topic, b.build().unwrap()), 0, "{c}");
        assert_eq!(stored_first_batch(&broker, &topic).1, 3, "{c}: one batch");
        let got: Vec<i64> = [1000, 1500, 2500, 3500, 4000]
            .map(|ts| offset_for(&addr, &topic, ts))
            .to_vec();
        assert_eq!(got, vec![0, 1, 2, 3, 3], "{c}");
        assert_eq!(offset_for(&addr, &topic, 4001), -1, "{c}: nothing that new");
    }
}

#[test]
fn kcat_batches_lz4_and_gzip_are_searched_record_by_record() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    for codec in ["lz4", "gzip", "none"] {
        let topic = format!("kcat-{codec}");
        create(&addr, &topic);
        // One batch (long linger) of four records fed 300 ms apart, so each
        // carries a later CreateTime than the one before (kcat may read the
        // first ones together if it starts slowly: only distinct times count).
        let mut child = Command::new("/usr/bin/kcat")
            .args(["-b", &addr, "-P", "-t", &topic, "-p", "0", "-z", codec])
            .args(["-X", "linger.ms=3000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kcat");
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..4 {
            writeln!(stdin, "{codec} record {i} {}", "x".repeat(300)).unwrap();
            stdin.flush().unwrap();
            thread::sleep(Duration::from_millis(300));
        }
        drop(stdin);
        let status = wait_bounded(&mut child, Duration::from_secs(30)).expect("kcat finished");
        assert!(status.success(), "kcat -P {codec}");
        let (bits, delta) = stored_first_batch(&broker, &topic);
        assert_eq!(delta, 3, "{codec}: kcat sent one batch of four");
        let want_bits = match codec {
            "lz4" => 3,
            "gzip" => 1,
            _ => 0,
        };
        assert_eq!(bits, want_bits, "{codec}: codec bits of the stored batch");
        let stamps = kcat_ok(
            &[
                "-b",
                &addr,
                "-C",
                "-t",
                &topic,
                "-o",
                "beginning",
                "-e",
                "-f",
                "%T\n",
            ],
            None,
        );
        let ts: Vec<i64> = stamps.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(ts.len(), 4, "{codec}: {stamps}");
        let later: Vec<usize> = (1..4).filter(|&k| ts[k] > ts[k - 1]).collect();
        assert!(!later.is_empty(), "{codec}: no distinct times in {ts:?}");
        for k in later {
            let want = k as i64;
            assert_eq!(offset_for(&addr, &topic, ts[k]), want, "{codec}: {ts:?}");
            assert_eq!(offset_for(&addr, &topic, ts[k - 1] + 1), want, "{codec}");
        }
    }
}
