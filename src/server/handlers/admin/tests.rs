//! Tests of the admin handlers against a broker on a temporary log directory.

use super::super::metadata::test_support::{broker, encodes};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;

use super::*;
use crate::protocol::error::ErrorCode;

#[test]
fn names_given_twice_are_found() {
    let twice = repeated(["a", "b", "a", "c", "b", "a"]);
    assert_eq!(
        twice.into_iter().collect::<Vec<_>>(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert!(repeated(["a", "b"]).is_empty());
}

#[test]
fn assignments_on_this_broker_give_the_partition_count() {
    let a = vec![(1, vec![3]), (0, vec![3]), (2, vec![3])];
    assert_eq!(assignment_partitions(3, &a), Ok(3));
}

#[test]
fn assignments_naming_other_brokers_or_gaps_are_invalid() {
    let code =
        |a: &[(i32, Vec<i32>)]| assignment_partitions(0, a).map_err(|e| admin_error_reply(&e).0);
    assert_eq!(
        code(&[(0, vec![1])]),
        Err(ErrorCode::InvalidReplicaAssignment)
    );
    assert_eq!(
        code(&[(0, vec![0, 1])]),
        Err(ErrorCode::InvalidReplicaAssignment)
    );
    assert_eq!(
        code(&[(0, vec![])]),
        Err(ErrorCode::InvalidReplicaAssignment)
    );
    assert_eq!(
        code(&[(0, vec![0]), (2, vec![0])]),
        Err(ErrorCode::InvalidReplicaAssignment)
    );
    assert_eq!(
        code(&[(0, vec![0]), (0, vec![0])]),
        Err(ErrorCode::InvalidReplicaAssignment)
    );
    assert_eq!(ErrorCode::InvalidReplicaAssignment.code(), 39);
}

#[test]
fn null_config_values_are_refused() {
    let ok = config_pairs([("retention.ms", Some("5"))]);
    assert_eq!(ok, Ok(vec![("retention.ms".to_string(), "5".to_string())]));
    let err = config_pairs([("retention.ms", Some("5")), ("segment.bytes", None)])
        .map_err(|e| admin_error_reply(&e).0);
    assert_eq!(err, Err(ErrorCode::InvalidConfig));
}

fn creatable(name: &str, partitions: i32, configs: &[(&str, &str)]) -> CreatableTopic {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(sb(*k))
                .with_value(Some(sb(*v)))
        })
        .collect();
    CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(-1)
        .with_configs(configs)
}

fn create(
    b: &Arc<Broker>,
    v: i16,
    validate_only: bool,
    topics: Vec<CreatableTopic>,
) -> CreateTopicsResponse {
    let req = CreateTopicsRequest::default()
        .with_topics(topics)
        .with_validate_only(validate_only);
    let resp = create_topics(b, v, req);
    encodes(v, &resp);
    resp
}

#[test]
fn create_topics_reports_counts_and_configs_from_v5_and_validate_only_creates_nothing() {
    let b = broker("admin-create");
    for v in 2..=7 {
        let resp = create(&b, v, true, vec![creatable(&format!("dry{v}"), 3, &[])]);
        assert_eq!(resp.topics[0].error_code, 0, "v{v}");
        assert!(
            b.topic(&format!("dry{v}")).is_none(),
            "v{v}: validate_only created it"
        );
    }
    let resp = create(
        &b,
        7,
        false,
        vec![creatable("t", -1, &[("compression.type", "gzip")])],
    );
    let r = &resp.topics[0];
    assert_eq!(
        (r.error_code, r.num_partitions, r.replication_factor),
        (0, 1, 1)
    );
    assert_eq!(r.topic_id.as_bytes(), &b.topic("t").unwrap().id);
    let gzip = r
        .configs
        .iter()
        .flatten()
        .find(|c| c.name.as_str() == "compression.type")
        .unwrap();
    assert_eq!(
        (gzip.value.as_deref(), gzip.config_source),
        (Some("gzip"), 1)
    );
    let resp = create(&b, 4, false, vec![creatable("t", 1, &[])]);
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::TopicAlreadyExists.code()
    );
}

#[test]
fn validate_only_runs_every_check_answers_none_and_creates_nothing() {
    let b = broker("admin-validate");
    assert!(matches!(
        b.create_topic("dry", 3, 1, &[], true),
        Ok(Created::Validated)
    ));
    let resp = create(&b, 7, true, vec![creatable("dry", 3, &[])]);
    let r = &resp.topics[0];
    assert_eq!((r.error_code, r.num_partitions), (0, 3));
    assert_eq!(
        r.topic_id.as_bytes(),
        &[0u8; 16],
        "no topic id for a topic not created"
    );
    assert!(b.topic("dry").is_none(), "validate_only created the topic");
    assert!(
        (0..3).all(|p| !b.config.log_dir.join(format!("dry-{p}")).exists()),
        "validate_only reserved partition directories"
    );
    // The checks still run: an existing name and a bad config are refused.
    b.create_topic("t", 1, 1, &[], false).unwrap();
    let resp = create(
        &b,
        7,
        true,
        vec![
            creatable("t", 1, &[]),
            creatable("bad", 1, &[("compression.type", "bogus")]),
        ],
    );
    let codes: Vec<i16> = resp.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(
        codes,
        vec![
            ErrorCode::TopicAlreadyExists.code(),
            ErrorCode::InvalidConfig.code()
        ]
    );
}

#[test]
fn create_topics_refuses_bad_configs_repeats_and_foreign_replicas_per_topic() {
    let b = broker("admin-refuse");
    let bad = creatable("bad", 1, &[("compression.type", "bogus")]);
    let twice = || creatable("twice", 1, &[]);
    let a = CreatableReplicaAssignment::default()
        .with_partition_index(0)
        .with_broker_ids(vec![BrokerId(1)]);
    let foreign = creatable("foreign", -1, &[]).with_assignments(vec![a]);
    let mine = CreatableReplicaAssignment::default()
        .with_partition_index(0)
        .with_broker_ids(vec![BrokerId(7)]);
    let manual = creatable("manual", -1, &[]).with_assignments(vec![mine]);
    let resp = create(&b, 5, false, vec![bad, twice(), twice(), foreign, manual]);
    let codes: Vec<i16> = resp.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, vec![40, 42, 42, 39, 0]);
    let msg = resp.topics[0].error_message.as_deref();
    assert_eq!(
        msg,
        Some("String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer")
    );
    assert!(b.topic("bad").is_none() && b.topic("twice").is_none() && b.topic("foreign").is_none());
    assert_eq!(b.topic("manual").map(|t| t.partition_count()), Some(1));
}

#[test]
fn delete_topics_by_name_and_by_id_and_unknown_ones() {
    let b = broker("admin-delete");
    for n in ["a", "c"] {
        b.create_topic(n, 1, 1, &[], false).unwrap();
    }
    let id = b.topic("c").unwrap().id;
    let req =
        DeleteTopicsRequest::default().with_topic_names(vec![topic_name("a"), topic_name("zz")]);
    let resp = smol::block_on(delete_topics(&b, 4, req));
    encodes(4, &resp);
    let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, ErrorCode::UnknownTopicOrPartition.code()]);
    let by_id = |id| {
        DeleteTopicState::default()
            .with_name(None)
            .with_topic_id(wire_uuid(id))
    };
    let req = DeleteTopicsRequest::default().with_topics(vec![by_id(id), by_id([1; 16])]);
    let resp = smol::block_on(delete_topics(&b, 6, req));
    encodes(6, &resp);
    let got: Vec<(Option<&str>, i16)> = resp
        .responses
        .iter()
        .map(|r| (r.name.as_ref().map(|n| n.0.as_str()), r.error_code))
        .collect();
    assert_eq!(got, vec![(Some("c"), 0), (None, UNKNOWN_TOPIC_ID)]);
    assert!(b.topics().is_empty());
}

#[test]
fn create_partitions_grows_to_the_new_total_and_checks_assignments() {
    let b = broker("admin-parts");
    b.create_topic("t", 1, 1, &[], false).unwrap();
    let grow = |count, assignments: Option<Vec<i32>>, validate_only| {
        let a = assignments.map(|ids| {
            ids.into_iter()
                .map(|id| {
                    create_partitions_request::CreatePartitionsAssignment::default()
                        .with_broker_ids(vec![BrokerId(id)])
                })
                .collect()
        });
        let t = create_partitions_request::CreatePartitionsTopic::default()
            .with_name(topic_name("t"))
            .with_count(count)
            .with_assignments(a);
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![t])
            .with_validate_only(validate_only);
        let resp = create_partitions(&b, 3, req);
        encodes(3, &resp);
        resp.results[0].error_code
    };
    assert_eq!(grow(3, None, true), 0);
    assert_eq!(
        b.topic("t").unwrap().partition_count(),
        1,
        "validate_only grew the topic"
    );
    assert_eq!(grow(3, Some(vec![7, 1]), false), 39);
    assert_eq!(
        grow(3, Some(vec![7]), false),
        39,
        "one list for two new partitions"
    );
    assert_eq!(grow(3, Some(vec![7, 7]), false), 0);
    assert_eq!(b.topic("t").unwrap().partition_count(), 3);
    assert_eq!(grow(2, None, false), ErrorCode::InvalidPartitions.code());
}
