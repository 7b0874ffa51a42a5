//! The rules of topic configs as Kafka's admin APIs see them: each key's Kafka type, its
//! synonyms (where a value comes from), and how IncrementalAlterConfigs operations and a
//! legacy AlterConfigs replace turn a topic's overrides into new ones. Pure functions over
//! [`TopicConfig`]; the result is validated by building a config from it.

use std::collections::BTreeMap;

use crate::log::topic_config::{
    ConfigEntryView, ConfigSource, TopicConfig, TopicConfigError, config_def,
};
use crate::server::broker::AdminError;

/// Kafka's DescribeConfigs ConfigType codes.
pub(super) const TYPE_BOOLEAN: i8 = 1;
pub(super) const TYPE_STRING: i8 = 2;
pub(super) const TYPE_INT: i8 = 3;
pub(super) const TYPE_LONG: i8 = 5;
pub(super) const TYPE_LIST: i8 = 7;

/// Kafka's IncrementalAlterConfigs operation codes.
pub(super) const OP_SET: i8 = 0;
pub(super) const OP_DELETE: i8 = 1;
pub(super) const OP_APPEND: i8 = 2;
pub(super) const OP_SUBTRACT: i8 = 3;

/// Topic keys fixed once a topic's rings are reserved (see `Broker::alter_topic_config`).
const RING_SHAPE_KEYS: [&str; 3] = ["segment.bytes", "ring.segments", "index.interval.bytes"];

/// The type Kafka reports for a topic key (Kafka's own type where Kafka has the key).
pub(super) fn topic_config_type(name: &str) -> i8 {
    match name {
        "cleanup.policy" => TYPE_LIST,
        "flush.messages" | "flush.ms" | "retention.bytes" | "retention.ms" => TYPE_LONG,
        "index.interval.bytes"
        | "max.message.bytes"
        | "min.insync.replicas"
        | "ring.segments"
        | "segment.bytes" => TYPE_INT,
        _ => TYPE_STRING,
    }
}

/// Synonyms of a topic config, most specific first, as (name, value, source): the topic's own
/// setting, its broker key when `server.properties` sets it (`broker_static`), then the built-in default.
pub(super) fn topic_synonyms(
    e: &ConfigEntryView,
    builtin: &str,
    broker_static: bool,
) -> Vec<(String, String, i8)> {
    let mut out = Vec::new();
    if e.source == ConfigSource::TopicConfig {
        out.push((
            e.name.to_string(),
            e.value.clone(),
            ConfigSource::TopicConfig.kafka_code(),
        ));
    }
    match config_def(e.name).and_then(|d| d.broker_key) {
        Some(k) => {
            if broker_static {
                out.push((
                    k.to_string(),
                    e.default.clone(),
                    ConfigSource::StaticBrokerConfig.kafka_code(),
                ));
            }
            out.push((
                k.to_string(),
                builtin.to_string(),
                ConfigSource::DefaultConfig.kafka_code(),
            ));
        }
        None => out.push((
            e.name.to_string(),
            builtin.to_string(),
            ConfigSource::DefaultConfig.kafka_code(),
        )),
    }
    out
}

/// Legacy AlterConfigs: the given set replaces the overrides; ring shape keys carry over.
pub(super) fn replaced_overrides(
    current: &[(String, String)],
    given: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut out = given;
    for (k, val) in current {
        if RING_SHAPE_KEYS.contains(&k.as_str()) && !out.iter().any(|(g, _)| g == k) {
            out.push((k.clone(), val.clone()));
        }
    }
    out
}

/// Applies IncrementalAlterConfigs operations (key, op, value) to a topic's overrides and returns
/// the new overrides; the caller validates them by building a config from them.
pub(super) fn incremental_overrides(
    current: &TopicConfig,
    ops: &[(String, i8, Option<String>)],
) -> Result<Vec<(String, String)>, AdminError> {
    let mut map: BTreeMap<String, String> = current.overrides().into_iter().collect();
    for (i, (key, op, value)) in ops.iter().enumerate() {
        if ops[..i].iter().any(|(k, _, _)| k == key) {
            return Err(AdminError::RepeatedConfig { key: key.clone() });
        }
        if config_def(key).is_none() {
            return Err(TopicConfigError::UnknownKey { key: key.clone() }.into());
        }
        let value = || {
            value
                .clone()
                .ok_or_else(|| AdminError::NullConfigValue { key: key.clone() })
        };
        match *op {
            OP_SET => {
                map.insert(key.clone(), value()?);
            }
            OP_DELETE => {
                map.remove(key);
            }
            OP_APPEND | OP_SUBTRACT => {
                let verb = if *op == OP_APPEND {
                    "append"
                } else {
                    "subtract"
                };
                if topic_config_type(key) != TYPE_LIST {
                    return Err(AdminError::NotAList {
                        verb,
                        key: key.clone(),
                    });
                }
                let now = match map.get(key) {
                    Some(v) => v.clone(),
                    None => current
                        .describe()
                        .into_iter()
                        .find(|e| e.name == key)
                        .map(|e| e.value)
                        .unwrap_or_default(),
                };
                let mut items: Vec<String> = split_list(&now);
                for item in split_list(&value()?) {
                    if *op == OP_APPEND && !items.contains(&item) {
                        items.push(item);
                    } else if *op == OP_SUBTRACT {
                        items.retain(|x| *x != item);
                    }
                }
                map.insert(key.clone(), items.join(","));
            }
            other => {
                return Err(AdminError::UnknownConfigOp { op: other });
            }
        }
    }
    Ok(map.into_iter().collect())
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::topic_config::TOPIC_CONFIGS;
    use crate::protocol::error::ErrorCode;
    use crate::server::config::BrokerConfig;
    use crate::server::handlers::admin_error_reply;

    fn topic() -> TopicConfig {
        TopicConfig::from_broker(&BrokerConfig::default().topic_defaults())
    }

    fn op(k: &str, o: i8, v: Option<&str>) -> (String, i8, Option<String>) {
        (k.to_string(), o, v.map(String::from))
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_topic_key_has_kafkas_type() {
        let types: Vec<(&str, i8)> = TOPIC_CONFIGS
            .iter()
            .map(|d| (d.name, topic_config_type(d.name)))
            .collect();
        let want = [
            ("cleanup.policy", TYPE_LIST),
            ("compression.type", TYPE_STRING),
            ("durability", TYPE_STRING),
            ("flush.messages", TYPE_LONG),
            ("flush.ms", TYPE_LONG),
            ("index.interval.bytes", TYPE_INT),
            ("max.message.bytes", TYPE_INT),
            ("message.timestamp.type", TYPE_STRING),
            ("min.insync.replicas", TYPE_INT),
            ("retention.bytes", TYPE_LONG),
            ("retention.ms", TYPE_LONG),
            ("ring.full.policy", TYPE_STRING),
            ("ring.segments", TYPE_INT),
            ("segment.bytes", TYPE_INT),
        ];
        assert_eq!(types, want);
    }

    #[test]
    fn config_sources_are_kafkas_codes() {
        assert_eq!(ConfigSource::TopicConfig.kafka_code(), 1); // DYNAMIC_TOPIC_CONFIG
        assert_eq!(ConfigSource::StaticBrokerConfig.kafka_code(), 4);
        assert_eq!(ConfigSource::DefaultConfig.kafka_code(), 5);
    }

    #[test]
    fn synonyms_run_from_topic_to_server_properties_to_default() {
        let mut d = BrokerConfig::default().topic_defaults();
        d.values.retention_ms = Some(1000);
        d.static_keys.insert("log.retention.ms".into());
        let mut t = TopicConfig::from_broker(&d);
        t.set("retention.ms", "5").unwrap();
        let e = t
            .describe()
            .into_iter()
            .find(|e| e.name == "retention.ms")
            .unwrap();
        let got = topic_synonyms(&e, "-1", true);
        let want = vec![
            ("retention.ms".to_string(), "5".to_string(), 1),
            ("log.retention.ms".into(), "1000".into(), 4),
            ("log.retention.ms".into(), "-1".into(), 5),
        ];
        assert_eq!(got, want);
        let plain = topic()
            .describe()
            .into_iter()
            .find(|e| e.name == "retention.ms")
            .unwrap();
        assert_eq!(
            topic_synonyms(&plain, "-1", false),
            vec![("log.retention.ms".into(), "-1".into(), 5)]
        );
    }

    #[test]
    fn incremental_set_and_delete_edit_only_the_named_keys() {
        let mut t = topic();
        t.set_all(&pairs(&[
            ("retention.ms", "10"),
            ("compression.type", "gzip"),
        ]))
        .unwrap();
        let ops = [
            op("retention.ms", OP_DELETE, None),
            op("max.message.bytes", OP_SET, Some("2048")),
        ];
        let got = incremental_overrides(&t, &ops).unwrap();
        assert_eq!(
            got,
            pairs(&[("compression.type", "gzip"), ("max.message.bytes", "2048")])
        );
    }

    #[test]
    fn incremental_append_is_refused_on_non_list_keys_and_works_on_lists() {
        let t = topic();
        let e = incremental_overrides(&t, &[op("retention.ms", OP_APPEND, Some("5"))]).unwrap_err();
        let reply = admin_error_reply(&e);
        assert_eq!(
            (reply.0, reply.1.as_str()),
            (
                ErrorCode::InvalidConfig,
                "Config value append is not allowed for config key: retention.ms"
            )
        );
        let e =
            incremental_overrides(&t, &[op("segment.bytes", OP_SUBTRACT, Some("5"))]).unwrap_err();
        assert_eq!(admin_error_reply(&e).0, ErrorCode::InvalidConfig);
        let same =
            incremental_overrides(&t, &[op("cleanup.policy", OP_APPEND, Some("delete"))]).unwrap();
        assert_eq!(same, pairs(&[("cleanup.policy", "delete")]));
        let more =
            incremental_overrides(&t, &[op("cleanup.policy", OP_APPEND, Some("compact"))]).unwrap();
        assert_eq!(more, pairs(&[("cleanup.policy", "delete,compact")]));
    }

    #[test]
    fn incremental_refuses_unknown_keys_repeats_nulls_and_bad_ops() {
        let t = topic();
        let code = |ops: &[(String, i8, Option<String>)]| {
            incremental_overrides(&t, ops).map_err(|e| admin_error_reply(&e).0)
        };
        assert_eq!(
            code(&[op("segment.ms", OP_SET, Some("1"))]),
            Err(ErrorCode::InvalidConfig)
        );
        assert_eq!(
            code(&[op("retention.ms", OP_SET, None)]),
            Err(ErrorCode::InvalidConfig)
        );
        assert_eq!(
            code(&[op("retention.ms", 9, Some("1"))]),
            Err(ErrorCode::InvalidRequest)
        );
        let twice = [
            op("retention.ms", OP_SET, Some("1")),
            op("retention.ms", OP_DELETE, None),
        ];
        assert_eq!(code(&twice), Err(ErrorCode::InvalidRequest));
    }

    #[test]
    fn a_bad_compression_type_gives_kafkas_message() {
        let t = topic();
        let o =
            incremental_overrides(&t, &[op("compression.type", OP_SET, Some("bogus"))]).unwrap();
        let e: AdminError =
            TopicConfig::with_overrides(&BrokerConfig::default().topic_defaults(), &o)
                .unwrap_err()
                .into();
        assert_eq!(admin_error_reply(&e).0, ErrorCode::InvalidConfig);
        assert_eq!(
            admin_error_reply(&e).1,
            "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
        );
    }

    #[test]
    fn legacy_replace_drops_overrides_but_keeps_the_ring_shape() {
        let current = pairs(&[("retention.ms", "10"), ("segment.bytes", "1048576")]);
        let got = replaced_overrides(&current, pairs(&[("compression.type", "lz4")]));
        assert_eq!(
            got,
            pairs(&[("compression.type", "lz4"), ("segment.bytes", "1048576")])
        );
        let given = replaced_overrides(&current, pairs(&[("segment.bytes", "2097152")]));
        assert_eq!(given, pairs(&[("segment.bytes", "2097152")]));
    }
}
