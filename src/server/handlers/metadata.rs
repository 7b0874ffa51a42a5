//! Metadata (v0–v12): this broker, the controller (itself) and the topics asked for.
//!
//! pipit is a cluster of one here: the only broker is the controller, the leader
//! and the whole ISR of every partition, with leader epoch 0. Which topics to
//! describe follows Kafka's rule (v0: an empty list means all topics; v1+: null
//! means all, empty means none); a named topic that is missing is auto-created
//! when the request (v4+) and `auto.create.topics.enable` allow it. Fields that
//! only exist in newer versions are set only where the encoder writes them, and
//! no tagged field is given a non-default value (librdkafka 2.0.2 mis-skips them).
//! Also holds the small conversions the other handlers share.

use std::sync::Arc;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::admin_error_reply;
use crate::protocol::error::ErrorCode;
use crate::server::broker::{Broker, Topic};

/// Kafka's "authorized operations were not requested" (Integer.MIN_VALUE).
pub(super) const AUTH_OPS_OMITTED: i32 = i32::MIN;
/// Every topic operation allowed, as a bit set of Kafka's AclOperation codes: READ 3, WRITE 4,
/// CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11 (no authorizer).
const TOPIC_OPS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Every cluster operation allowed: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
/// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
pub(super) const CLUSTER_OPS_ALL: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub(super) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(super) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(sb(s))
}

/// This broker's id on the wire.
pub(super) fn self_id(b: &Broker) -> BrokerId {
    BrokerId(b.config.broker_id)
}

/// Which topics a Metadata request asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Selection {
    All,
    /// By name or (v10+) by topic id, in request order, without repeats.
    Some(Vec<Wanted>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Wanted {
    Name(String),
    Id([u8; 16]),
}

/// Kafka's rule: v0 sends a plain array where empty means all; v1+ sends null for all and an empty
/// array for none.
pub(super) fn selection(version: i16, topics: Option<&[MetadataRequestTopic]>) -> Selection {
    let Some(topics) = topics else {
        return Selection::All;
    };
    if version == 0 && topics.is_empty() {
        return Selection::All;
    }
    let mut out: Vec<Wanted> = Vec::new();
    for t in topics {
        let w = match &t.name {
            Some(n) => Wanted::Name(n.0.to_string()),
            None => Wanted::Id(*t.topic_id.as_bytes()),
        };
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Selection::Some(out)
}

pub fn handle(b: &Arc<Broker>, v: i16, r: MetadataRequest) -> MetadataResponse {
    let me = self_id(b);
    // v0–v3 have no allow_auto_topic_creation flag: those clients always auto-create.
    let allow = v < 4 || r.allow_auto_topic_creation;
    let ops = if r.include_topic_authorized_operations {
        TOPIC_OPS_ALL
    } else {
        AUTH_OPS_OMITTED
    };
    let topics = match selection(v, r.topics.as_deref()) {
        Selection::All => b
            .topics()
            .iter()
            .map(|t| describe_topic(me, t, ops))
            .collect(),
        Selection::Some(wanted) => wanted
            .into_iter()
            .map(|w| match w {
                Wanted::Name(name) => match b.get_or_auto_create(&name, allow) {
                    Ok(t) => describe_topic(me, &t, ops),
                    Err(e) => topic_error(Some(name), [0; 16], admin_error_reply(&e).0.code()),
                },
                Wanted::Id(id) => match b.topics().into_iter().find(|t| t.id == id) {
                    Some(t) => describe_topic(me, &t, ops),
                    None => topic_error(None, id, UNKNOWN_TOPIC_ID),
                },
            })
            .collect(),
    };
    let broker = MetadataResponseBroker::default()
        .with_node_id(me)
        .with_host(sb(b.advertised.host.clone()))
        .with_port(i32::from(b.advertised.port))
        .with_rack(None);
    let mut resp = MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(sb(b.cluster_id.clone())))
        .with_controller_id(me)
        .with_topics(topics);
    // The encoder writes cluster_authorized_operations only in v8–v10 and refuses a value elsewhere.
    if (8..=10).contains(&v) && r.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = CLUSTER_OPS_ALL;
    }
    resp
}

/// Kafka's UNKNOWN_TOPIC_ID, for lookups by topic id.
pub(super) const UNKNOWN_TOPIC_ID: i16 = ErrorCode::UnknownTopicId.code();

/// A topic id on the wire (kafka-protocol's Uuid, built without naming the uuid crate).
pub(super) fn wire_uuid<U: TryFrom<Vec<u8>> + Default>(id: [u8; 16]) -> U {
    U::try_from(id.to_vec()).unwrap_or_default()
}

fn describe_topic(me: BrokerId, t: &Topic, ops: i32) -> MetadataResponseTopic {
    let partitions = (0..t.partition_count() as i32)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_error_code(0)
                .with_partition_index(p)
                .with_leader_id(me)
                .with_leader_epoch(0)
                .with_replica_nodes(vec![me])
                .with_isr_nodes(vec![me])
                .with_offline_replicas(vec![])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(topic_name(t.name.clone())))
        .with_topic_id(wire_uuid(t.id))
        .with_is_internal(false)
        .with_partitions(partitions)
        .with_topic_authorized_operations(ops)
}

fn topic_error(name: Option<String>, id: [u8; 16], code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name.map(topic_name))
        .with_topic_id(wire_uuid(id))
        .with_is_internal(false)
        .with_partitions(vec![])
}

/// A broker on a fresh temporary log directory, and response encoding, for handler tests.
#[cfg(test)]
pub(super) mod test_support {
    use std::ops::Deref;
    use std::path::PathBuf;
    use std::sync::Arc;

    use kafka_protocol::protocol::{Encodable, HeaderVersion};

    use crate::protocol::encode_response;
    use crate::server::broker::Broker;
    use crate::server::config::{BrokerConfig, Listener};

    /// A broker whose log directory is removed when the test ends.
    pub struct TestBroker {
        broker: Arc<Broker>,
        dir: PathBuf,
    }

    impl Deref for TestBroker {
        type Target = Arc<Broker>;
        fn deref(&self) -> &Arc<Broker> {
            &self.broker
        }
    }

    impl Drop for TestBroker {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Broker id 7 (not 0, so a missing id shows) with small rings: 2 x 64 KiB per partition.
    pub fn broker(name: &str) -> TestBroker {
        let dir =
            std::env::temp_dir().join(format!("pipit-handlers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = BrokerConfig {
            broker_id: 7,
            log_dir: dir.clone(),
            log_segment_bytes: 64 * 1024,
            log_ring_segments: 2,
            message_max_bytes: 32 * 1024,
            ..BrokerConfig::default()
        };
        let at = Listener {
            host: "127.0.0.1".into(),
            port: 19092,
        };
        let broker = Broker::open(config, at).unwrap_or_else(|e| panic!("open broker: {e}"));
        TestBroker { broker, dir }
    }

    /// Encodes `r` as version `v`, panicking with the encoder's reason.
    pub fn encodes<R: Encodable + HeaderVersion>(v: i16, r: &R) {
        if let Err(e) = encode_response(1, v, r) {
            panic!("v{v} does not encode: {e:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;

    fn named(names: &[&str]) -> Vec<MetadataRequestTopic> {
        names
            .iter()
            .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(*n))))
            .collect()
    }

    #[test]
    fn v0_empty_list_means_all_topics() {
        assert_eq!(selection(0, Some(&[])), Selection::All);
    }

    #[test]
    fn v1_and_later_null_means_all_and_empty_means_none() {
        for v in [1, 4, 9, 12] {
            assert_eq!(selection(v, None), Selection::All, "v{v}");
            assert_eq!(selection(v, Some(&[])), Selection::Some(vec![]), "v{v}");
        }
    }

    #[test]
    fn named_topics_keep_request_order_without_repeats() {
        let req = named(&["b", "a", "b"]);
        let want = vec![Wanted::Name("b".into()), Wanted::Name("a".into())];
        assert_eq!(selection(0, Some(&req)), Selection::Some(want.clone()));
        assert_eq!(selection(12, Some(&req)), Selection::Some(want));
    }

    #[test]
    fn a_nameless_v10_entry_is_a_lookup_by_id() {
        let id = [7u8; 16];
        let t = MetadataRequestTopic::default()
            .with_name(None)
            .with_topic_id(wire_uuid(id));
        assert_eq!(
            selection(10, Some(&[t])),
            Selection::Some(vec![Wanted::Id(id)])
        );
    }

    #[test]
    fn topic_ids_round_trip_through_the_wire_uuid() {
        let id: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let u: kafka_protocol::messages::metadata_response::MetadataResponseTopic =
            MetadataResponseTopic::default().with_topic_id(wire_uuid(id));
        assert_eq!(u.topic_id.as_bytes(), &id);
    }

    #[test]
    fn operation_bit_sets_match_kafka_acl_codes() {
        // Sums of 1 << AclOperation code for the operations listed beside the constants.
        assert_eq!(TOPIC_OPS_ALL, 3576);
        assert_eq!(CLUSTER_OPS_ALL, 8096);
    }

    fn ask(names: Option<&[&str]>, allow: bool) -> MetadataRequest {
        MetadataRequest::default()
            .with_topics(names.map(named))
            .with_allow_auto_topic_creation(allow)
    }

    #[test]
    fn every_version_lists_this_broker_as_controller_leader_and_isr() {
        let b = test_support::broker("md-all");
        b.create_topic("t", 2, 1, &[], false).unwrap();
        for v in 0..=12 {
            let req = if v == 0 {
                ask(Some(&[]), false)
            } else {
                ask(None, false)
            };
            let resp = handle(&b, v, req);
            test_support::encodes(v, &resp);
            assert_eq!(resp.controller_id, BrokerId(7), "v{v}");
            assert_eq!(resp.brokers.len(), 1);
            assert_eq!(
                (resp.brokers[0].node_id, resp.brokers[0].port),
                (BrokerId(7), 19092)
            );
            assert_eq!(resp.cluster_id.as_deref(), Some(b.cluster_id.as_str()));
            assert_eq!(resp.topics.len(), 1, "v{v}");
            let t = &resp.topics[0];
            assert_eq!(t.name.as_ref().map(|n| n.0.as_str()), Some("t"));
            assert_eq!(t.topic_id.as_bytes(), &b.topic("t").unwrap().id);
            let p: Vec<_> = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.leader_id, p.isr_nodes.clone()))
                .collect();
            assert_eq!(
                p,
                vec![
                    (0, BrokerId(7), vec![BrokerId(7)]),
                    (1, BrokerId(7), vec![BrokerId(7)])
                ]
            );
        }
    }

    #[test]
    fn missing_topics_auto_create_only_when_allowed() {
        let b = test_support::broker("md-auto");
        let resp = handle(&b, 4, ask(Some(&["no"]), false));
        assert_eq!(
            resp.topics[0].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        assert!(b.topic("no").is_none());
        // v1–v3 have no flag: they always auto-create.
        let resp = handle(&b, 1, ask(Some(&["old"]), false));
        assert_eq!(
            (resp.topics[0].error_code, resp.topics[0].partitions.len()),
            (0, 1)
        );
        let resp = handle(&b, 9, ask(Some(&["new"]), true));
        assert_eq!(resp.topics[0].error_code, 0);
        assert!(b.topic("new").is_some());
        let resp = handle(&b, 9, ask(Some(&["bad name!"]), true));
        assert_eq!(
            resp.topics[0].error_code,
            ErrorCode::InvalidTopicException.code()
        );
        test_support::encodes(9, &resp);
        let resp = handle(&b, 1, ask(Some(&[]), true));
        assert!(resp.topics.is_empty(), "v1 empty list means none");
    }

    #[test]
    fn an_unknown_topic_id_is_unknown_topic_id() {
        let b = test_support::broker("md-id");
        let t = MetadataRequestTopic::default()
            .with_name(None)
            .with_topic_id(wire_uuid([9; 16]));
        let resp = handle(
            &b,
            12,
            MetadataRequest::default().with_topics(Some(vec![t])),
        );
        assert_eq!(resp.topics[0].error_code, UNKNOWN_TOPIC_ID);
        test_support::encodes(12, &resp);
    }
}
