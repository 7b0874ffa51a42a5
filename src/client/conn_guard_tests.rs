//! Tests of the client's response guard: hostile responses become `BadResponse` errors
//! (never an allocation sized by the broker), and every response a real encoder writes
//! for the APIs the client sends passes the guard at every version the client may use.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, CreatePartitionsResponse, CreateTopicsResponse,
    DeleteTopicsResponse, DescribeConfigsResponse, FetchResponse, IncrementalAlterConfigsResponse,
    InitProducerIdResponse, ListOffsetsResponse, MetadataResponse, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::*;

/// The 12-byte frame a hostile broker sent the fuzzer (`fuzz/regressions/response/`):
/// its first 4 bytes name the API and version (Metadata v0), then correlation id 65535 and
/// a body whose brokers array claims 16.7 million entries (about 1.6 GB of
/// `Vec::with_capacity` in kafka-protocol 0.18).
const HOSTILE_METADATA_V0: [u8; 12] = [0, 3, 0, 0, 0, 0, 0xff, 0xff, 0, 0xff, 0, 0];

#[test]
fn a_hostile_12_byte_metadata_response_is_refused_before_decoding() {
    let raw = HOSTILE_METADATA_V0[4..].to_vec();
    let body = response_body("b:9092", raw, 0xffff, 0).expect("header");
    let err = decode_body::<MetadataResponse>("b:9092", 3, body, 0).expect_err("refused");
    match &err {
        ClientError::BadResponse {
            addr,
            api_key: 3,
            api_version: 0,
            reason: GuardError::ArrayTooLong { count, .. },
        } => {
            assert_eq!(addr, "b:9092");
            assert_eq!(*count, 0x00ff_0000);
        }
        other => panic!("expected BadResponse for Metadata v0, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("Metadata") && text.contains("v0") && text.contains("array"),
        "{text}"
    );
    assert!(!err.is_retriable(), "a hostile response is not retried");
}

#[test]
fn a_produce_response_claiming_more_topics_than_bytes_is_refused() {
    // Produce v5: responses array count 0x00050005 in a 4-byte body.
    let body = Bytes::from_static(&[0x00, 0x05, 0x00, 0x05]);
    let err = decode_body::<ProduceResponse>("b", 0, body, 5).expect_err("refused");
    assert!(
        matches!(
            err,
            ClientError::BadResponse {
                api_key: 0,
                api_version: 5,
                reason: GuardError::ArrayTooLong { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

fn encoded<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).expect("encode");
    buf.freeze()
}

/// Every version of `key` the client may use: kafka-protocol's range capped at `our_max`.
fn client_versions(key: i16) -> std::ops::RangeInclusive<i16> {
    let range = ApiKey::try_from(key).expect("known key").valid_versions();
    range.min..=our_max(key).min(range.max)
}

fn passes<M: Encodable + Decodable>(key: i16, m: &M) {
    for v in client_versions(key) {
        let body = encoded(m, v);
        if let Err(e) = decode_body::<M>("b", key, body, v) {
            panic!("{key} v{v} refused: {e}");
        }
    }
}

#[test]
fn every_response_the_client_reads_passes_the_guard_at_every_version_it_uses() {
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    let partition = MetadataResponsePartition::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(1))
        .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
        .with_isr_nodes(vec![BrokerId(1)]);
    let metadata = MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("pi"))
                .with_port(9092),
        ])
        .with_topics(vec![
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![partition]),
        ]);
    passes(3, &metadata);
    passes(0, &ProduceResponse::default());
    passes(1, &FetchResponse::default());
    passes(2, &ListOffsetsResponse::default());
    passes(18, &ApiVersionsResponse::default());
    passes(19, &CreateTopicsResponse::default());
    passes(20, &DeleteTopicsResponse::default());
    passes(22, &InitProducerIdResponse::default());
    passes(32, &DescribeConfigsResponse::default());
    passes(37, &CreatePartitionsResponse::default());
    passes(44, &IncrementalAlterConfigsResponse::default());
}
