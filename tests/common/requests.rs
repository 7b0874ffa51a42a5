//! One Kafka request at a time over a plain socket, encoded and decoded by the
//! kafka-protocol crate, for tests that need an exact error code per partition
//! (clients retry or hide those). Every read has a timeout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// A connection to a broker.
pub struct Conn {
    s: TcpStream,
    corr: i32,
}

fn name(s: &str) -> TopicName {
    StrBytes::from_string(s.to_string()).into()
}

impl Conn {
    pub fn new(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s, corr: 0 }
    }

    fn call<Q, R>(&mut self, key: ApiKey, v: i16, req: &Q) -> R
    where
        Q: Encodable + HeaderVersion,
        R: Decodable + HeaderVersion,
    {
        self.corr += 1;
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = v;
        h.correlation_id = self.corr;
        h.client_id = Some(StrBytes::from_static_str("pipit-it"));
        let mut body = BytesMut::new();
        h.encode(&mut body, Q::header_version(v)).unwrap();
        req.encode(&mut body, v).unwrap();
        self.s
            .write_all(&(body.len() as i32).to_be_bytes())
            .unwrap();
        self.s.write_all(&body).unwrap();
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).expect("response size");
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut buf).expect("response body");
        let mut b = Bytes::from(buf);
        let rh = ResponseHeader::decode(&mut b, R::header_version(v)).unwrap();
        assert_eq!(rh.correlation_id, self.corr);
        R::decode(&mut b, v).unwrap()
    }

    /// CreateTopics of one topic: (error code, error message).
    pub fn create_topic(&mut self, topic: &str, partitions: i32) -> (i16, String) {
        let mut t = CreatableTopic::default();
        t.name = name(topic);
        t.num_partitions = partitions;
        t.replication_factor = 1;
        let mut req = CreateTopicsRequest::default();
        req.topics = vec![t];
        req.timeout_ms = 10_000;
        let r: CreateTopicsResponse = self.call(ApiKey::CreateTopics, 4, &req);
        let t = &r.topics[0];
        let msg = t.error_message.as_ref().map(|m| m.to_string());
        (t.error_code, msg.unwrap_or_default())
    }

    /// CreatePartitions to `count` in total: (error code, error message).
    pub fn create_partitions(&mut self, topic: &str, count: i32) -> (i16, String) {
        let mut t = CreatePartitionsTopic::default();
        t.name = name(topic);
        t.count = count;
        t.assignments = None;
        let mut req = CreatePartitionsRequest::default();
        req.topics = vec![t];
        req.timeout_ms = 10_000;
        let r: CreatePartitionsResponse = self.call(ApiKey::CreatePartitions, 1, &req);
        let t = &r.results[0];
        let msg = t.error_message.as_ref().map(|m| m.to_string());
        (t.error_code, msg.unwrap_or_default())
    }

    /// The topic's partition count in Metadata (`None`: unknown topic; never auto-creates).
    pub fn partition_count(&mut self, topic: &str) -> Option<usize> {
        let mut t = MetadataRequestTopic::default();
        t.name = Some(name(topic));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        req.allow_auto_topic_creation = false;
        let r: MetadataResponse = self.call(ApiKey::Metadata, 4, &req);
        let t = &r.topics[0];
        (t.error_code == 0).then_some(t.partitions.len())
    }

    /// Produce (acks=-1) of `records` to one partition: (error code, base offset).
    pub fn produce(&mut self, topic: &str, partition: i32, records: Vec<u8>) -> (i16, i64) {
        let mut pd = PartitionProduceData::default();
        pd.index = partition;
        pd.records = Some(Bytes::from(records));
        let mut td = TopicProduceData::default();
        td.name = name(topic);
        td.partition_data = vec![pd];
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 10_000;
        req.topic_data = vec![td];
        let r: ProduceResponse = self.call(ApiKey::Produce, 7, &req);
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }

    /// Fetch from `offset` of one partition: (error code, stored bytes, high watermark).
    pub fn fetch(&mut self, topic: &str, partition: i32, offset: i64) -> (i16, Vec<u8>, i64) {
        let mut p = FetchPartition::default();
        p.partition = partition;
        p.fetch_offset = offset;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = name(topic);
        t.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 0;
        req.min_bytes = 0;
        req.max_bytes = 4 << 20;
        req.topics = vec![t];
        let r: FetchResponse = self.call(ApiKey::Fetch, 11, &req);
        let p = &r.responses[0].partitions[0];
        let records = p.records.as_ref().map(|r| r.to_vec()).unwrap_or_default();
        (p.error_code, records, p.high_watermark)
    }

    /// ListOffsets at `timestamp` (-1 latest, -2 earliest): (error code, offset).
    pub fn list_offset(&mut self, topic: &str, partition: i32, timestamp: i64) -> (i16, i64) {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition;
        p.timestamp = timestamp;
        let mut t = ListOffsetsTopic::default();
        t.name = name(topic);
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        let r: ListOffsetsResponse = self.call(ApiKey::ListOffsets, 2, &req);
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    }
}
