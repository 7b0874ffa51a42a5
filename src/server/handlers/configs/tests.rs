//! Tests of the configs handlers against a broker on a temporary log directory.

use super::super::metadata::test_support::{broker, encodes};
use super::*;
use crate::protocol::error::ErrorCode;
use describe_configs_request::DescribeConfigsResource;

fn describe_one(
    b: &Arc<Broker>,
    v: i16,
    kind: i8,
    name: &str,
    keys: Option<&[&str]>,
) -> DescribeConfigsResult {
    let res = DescribeConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(sb(name))
        .with_configuration_keys(keys.map(|k| k.iter().map(|x| sb(*x)).collect()));
    let req = DescribeConfigsRequest::default()
        .with_resources(vec![res])
        .with_include_synonyms(true)
        .with_include_documentation(true);
    let resp = describe(b, v, req);
    encodes(v, &resp);
    resp.results.into_iter().next().expect("one result")
}

fn value<'a>(r: &'a DescribeConfigsResult, key: &str) -> Option<(&'a str, i8)> {
    let c = r.configs.iter().find(|c| c.name.as_str() == key)?;
    Some((c.value.as_deref()?, c.config_source))
}

#[test]
fn topics_describe_every_config_with_source_type_and_doc_in_every_version() {
    let b = broker("cfg-describe");
    b.create_topic("t", 1, 1, &[("retention.ms".into(), "5000".into())], false)
        .unwrap();
    for v in 1..=4 {
        let r = describe_one(&b, v, RESOURCE_TOPIC, "t", None);
        assert_eq!((r.error_code, r.configs.len()), (0, 14), "v{v}");
        assert_eq!(value(&r, "retention.ms"), Some(("5000", 1)));
        assert_eq!(value(&r, "compression.type"), Some(("producer", 5)));
        let seg = r
            .configs
            .iter()
            .find(|c| c.name.as_str() == "segment.bytes")
            .unwrap();
        assert_eq!(seg.config_type, if v >= 3 { 3 } else { 0 }, "v{v}");
        assert_eq!(seg.documentation.is_some(), v >= 3, "v{v}");
        assert!(!seg.synonyms.is_empty());
    }
    let only = describe_one(&b, 4, RESOURCE_TOPIC, "t", Some(&["retention.ms", "nope"]));
    assert_eq!(only.configs.len(), 1, "unknown keys are skipped");
    let missing = describe_one(&b, 4, RESOURCE_TOPIC, "none", None);
    assert_eq!(
        missing.error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
}

#[test]
fn the_broker_resource_lists_static_and_default_settings_read_only() {
    let b = broker("cfg-broker");
    let r = describe_one(&b, 4, RESOURCE_BROKER, "7", None);
    assert_eq!(r.error_code, 0);
    assert_eq!(
        value(&r, "broker.id"),
        Some(("7", 5)),
        "BrokerConfig built in code: no explicit keys"
    );
    assert_eq!(value(&r, "log.segment.bytes"), Some(("65536", 5)));
    assert!(r.configs.iter().all(|c| c.read_only));
    let other = describe_one(&b, 4, RESOURCE_BROKER, "3", None);
    assert_eq!(other.error_code, ErrorCode::InvalidRequest.code());
}

fn alter_ops(b: &Arc<Broker>, kind: i8, ops: &[(&str, i8, Option<&str>)]) -> (i16, Option<String>) {
    let configs = ops
        .iter()
        .map(|(k, op, v)| {
            incremental_alter_configs_request::AlterableConfig::default()
                .with_name(sb(*k))
                .with_config_operation(*op)
                .with_value(v.map(sb))
        })
        .collect();
    let res = incremental_alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(sb("t"))
        .with_configs(configs);
    let resp = incremental_alter(
        b,
        1,
        IncrementalAlterConfigsRequest::default().with_resources(vec![res]),
    );
    encodes(1, &resp);
    let r = &resp.responses[0];
    (
        r.error_code,
        r.error_message.as_ref().map(|m| m.to_string()),
    )
}

#[test]
fn incremental_alter_sets_deletes_and_refuses_with_kafkas_message() {
    let b = broker("cfg-incr");
    b.create_topic(
        "t",
        1,
        1,
        &[("compression.type".into(), "gzip".into())],
        false,
    )
    .unwrap();
    assert_eq!(
        alter_ops(&b, RESOURCE_TOPIC, &[("retention.ms", 0, Some("123456"))]),
        (0, None)
    );
    let r = describe_one(&b, 4, RESOURCE_TOPIC, "t", None);
    assert_eq!(value(&r, "retention.ms"), Some(("123456", 1)));
    assert_eq!(
        value(&r, "compression.type"),
        Some(("gzip", 1)),
        "SET keeps other overrides"
    );
    let bad = alter_ops(
        &b,
        RESOURCE_TOPIC,
        &[("compression.type", 0, Some("bogus"))],
    );
    let text = "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer";
    assert_eq!(bad, (40, Some(text.to_string())));
    assert_eq!(
        alter_ops(&b, RESOURCE_TOPIC, &[("compression.type", 1, None)]),
        (0, None)
    );
    let r = describe_one(&b, 4, RESOURCE_TOPIC, "t", None);
    assert_eq!(
        value(&r, "compression.type"),
        Some(("producer", 5)),
        "DELETE goes back to the default"
    );
    assert_eq!(
        alter_ops(&b, RESOURCE_BROKER, &[("num.partitions", 0, Some("3"))]).0,
        42
    );
}

#[test]
fn legacy_alter_replaces_the_overrides_and_honours_validate_only() {
    let b = broker("cfg-legacy");
    b.create_topic(
        "t",
        1,
        1,
        &[("compression.type".into(), "gzip".into())],
        false,
    )
    .unwrap();
    let alter_req = |validate_only| {
        let c = alter_configs_request::AlterableConfig::default()
            .with_name(sb("retention.ms"))
            .with_value(Some(sb("654321")));
        let res = alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(sb("t"))
            .with_configs(vec![c]);
        AlterConfigsRequest::default()
            .with_resources(vec![res])
            .with_validate_only(validate_only)
    };
    let resp = alter(&b, 2, alter_req(true));
    encodes(2, &resp);
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(
        value(
            &describe_one(&b, 4, RESOURCE_TOPIC, "t", None),
            "retention.ms"
        ),
        Some(("-1", 5))
    );
    assert_eq!(alter(&b, 0, alter_req(false)).responses[0].error_code, 0);
    let r = describe_one(&b, 4, RESOURCE_TOPIC, "t", None);
    assert_eq!(value(&r, "retention.ms"), Some(("654321", 1)));
    assert_eq!(
        value(&r, "compression.type"),
        Some(("producer", 5)),
        "legacy alter replaces"
    );
}
