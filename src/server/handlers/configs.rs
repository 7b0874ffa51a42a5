//! Configs: DescribeConfigs (v1–v4), AlterConfigs (v0–v2) and IncrementalAlterConfigs (v0–v1).
//!
//! TOPIC resources (type 2) list every topic config with its value, source, type and
//! (on request) synonyms and documentation; they are changed only through
//! `Broker::alter_topic_config`, so a refused change leaves the topic untouched and the
//! client gets INVALID_CONFIG with the config's own message (Kafka's text for
//! `compression.type`). BROKER resources (type 4) list this broker's settings, all
//! read-only: they come from `server.properties`, and altering them is refused.
//! Legacy AlterConfigs replaces a topic's overrides with the given set, except the ring
//! shape keys (`segment.bytes`, `ring.segments`, `index.interval.bytes`), which are fixed
//! once the rings are reserved and so carry over unless given.

mod broker_keys;
mod rules;

use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::*;

use super::admin_error_reply;
use super::metadata::sb;
use crate::log::topic_config::{ConfigSource, TopicConfig, config_def};
use crate::server::broker::{AdminError, Broker};
use crate::server::config::BrokerConfig;
use broker_keys::broker_entries;
use rules::{incremental_overrides, replaced_overrides, topic_config_type, topic_synonyms};

/// Kafka's ConfigResource.Type codes.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

fn wanted(keys: &Option<Vec<kafka_protocol::protocol::StrBytes>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|k| k.iter().any(|x| x.as_str() == name))
}

fn row(
    v: i16,
    req: &DescribeConfigsRequest,
    (name, value, read_only, source): (&str, Option<String>, bool, i8),
    config_type: i8,
    doc: &str,
    synonyms: Vec<(String, String, i8)>,
) -> DescribeConfigsResourceResult {
    let synonyms = if req.include_synonyms {
        synonyms
            .into_iter()
            .map(|(n, val, s)| {
                DescribeConfigsSynonym::default()
                    .with_name(sb(n))
                    .with_value(Some(sb(val)))
                    .with_source(s)
            })
            .collect()
    } else {
        vec![]
    };
    let mut r = DescribeConfigsResourceResult::default()
        .with_name(sb(name))
        .with_value(value.map(sb))
        .with_read_only(read_only)
        .with_config_source(source)
        .with_is_sensitive(false)
        .with_synonyms(synonyms)
        .with_documentation(None);
    if v >= 3 {
        r = r
            .with_config_type(config_type)
            .with_documentation(req.include_documentation.then(|| sb(doc)));
    }
    r
}

fn describe_resource(
    b: &Broker,
    v: i16,
    req: &DescribeConfigsRequest,
    res: &describe_configs_request::DescribeConfigsResource,
) -> Result<Vec<DescribeConfigsResourceResult>, AdminError> {
    let name = res.resource_name.as_str();
    let keys = &res.configuration_keys;
    match res.resource_type {
        RESOURCE_TOPIC => {
            let topic = b.topic(name).ok_or_else(|| AdminError::UnknownTopic {
                name: name.to_string(),
            })?;
            let view = topic
                .config
                .lock()
                .map(|c| c.describe())
                .map_err(|_| AdminError::ConfigLock)?;
            let builtin = BrokerConfig::default().topic_defaults().values;
            Ok(view
                .iter()
                .filter(|e| wanted(keys, e.name))
                .map(|e| {
                    let def = config_def(e.name);
                    let built = def.map(|d| (d.get)(&builtin)).unwrap_or_default();
                    let is_static = def
                        .and_then(|d| d.broker_key)
                        .is_some_and(|k| b.config.explicit_keys.contains(k));
                    let value = (!e.sensitive).then(|| e.value.clone());
                    row(
                        v,
                        req,
                        (e.name, value, e.read_only, e.source.kafka_code()),
                        topic_config_type(e.name),
                        e.doc,
                        topic_synonyms(e, &built, is_static),
                    )
                })
                .collect())
        }
        RESOURCE_BROKER => {
            let me = b.config.broker_id.to_string();
            if name.is_empty() {
                // The cluster-wide dynamic default: pipit has no dynamic broker configs.
                return Ok(vec![]);
            }
            if name != me {
                return Err(AdminError::NotThisBroker {
                    me: b.config.broker_id,
                    name: name.to_string(),
                });
            }
            Ok(broker_entries(&b.config)
                .into_iter()
                .filter(|e| wanted(keys, e.name))
                .map(|e| {
                    let source = if b.config.explicit_keys.contains(e.name) {
                        ConfigSource::StaticBrokerConfig
                    } else {
                        ConfigSource::DefaultConfig
                    };
                    let syn = e
                        .value
                        .clone()
                        .map(|val| vec![(e.name.to_string(), val, source.kafka_code())])
                        .unwrap_or_default();
                    row(
                        v,
                        req,
                        (e.name, e.value, true, source.kafka_code()),
                        e.config_type,
                        e.doc,
                        syn,
                    )
                })
                .collect())
        }
        t => Err(AdminError::UnsupportedResource { resource_type: t }),
    }
}

pub fn describe(b: &Arc<Broker>, v: i16, r: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let results = r
        .resources
        .iter()
        .map(|res| {
            let out = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            match describe_resource(b, v, &r, res) {
                Ok(configs) => out
                    .with_error_code(0)
                    .with_error_message(None)
                    .with_configs(configs),
                Err(e) => out
                    .with_error_code(admin_error_reply(&e).0.code())
                    .with_error_message(Some(sb(admin_error_reply(&e).1)))
                    .with_configs(vec![]),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// Alters one resource; `build` turns the topic's current config into the new overrides.
fn alter_resource(
    b: &Broker,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    build: impl FnOnce(&TopicConfig) -> Result<Vec<(String, String)>, AdminError>,
) -> Result<(), AdminError> {
    match resource_type {
        RESOURCE_TOPIC => b.alter_topic_config(name, validate_only, |cfg| {
            let overrides = build(cfg)?;
            *cfg = cfg.with_new_overrides(&overrides)?;
            Ok(())
        }),
        RESOURCE_BROKER => Err(AdminError::StaticBrokerConfigs),
        t => Err(AdminError::UnsupportedResource { resource_type: t }),
    }
}

fn split_result(r: Result<(), AdminError>) -> (i16, Option<kafka_protocol::protocol::StrBytes>) {
    match r {
        Ok(()) => (0, None),
        Err(e) => {
            let (code, message) = admin_error_reply(&e);
            (code.code(), Some(sb(message)))
        }
    }
}

pub fn alter(b: &Arc<Broker>, _v: i16, r: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = r
        .resources
        .iter()
        .map(|res| {
            let given: Result<Vec<(String, String)>, AdminError> = res
                .configs
                .iter()
                .map(|c| match &c.value {
                    Some(val) => Ok((c.name.to_string(), val.to_string())),
                    None => Err(AdminError::NullConfigValue {
                        key: c.name.to_string(),
                    }),
                })
                .collect();
            let outcome = given.and_then(|given| {
                alter_resource(
                    b,
                    res.resource_type,
                    res.resource_name.as_str(),
                    r.validate_only,
                    |cfg| Ok(replaced_overrides(&cfg.overrides(), given)),
                )
            });
            let (code, msg) = split_result(outcome);
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

pub fn incremental_alter(
    b: &Arc<Broker>,
    _v: i16,
    r: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = r
        .resources
        .iter()
        .map(|res| {
            let ops: Vec<(String, i8, Option<String>)> = res
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.config_operation,
                        c.value.as_ref().map(|x| x.to_string()),
                    )
                })
                .collect();
            let outcome = alter_resource(
                b,
                res.resource_type,
                res.resource_name.as_str(),
                r.validate_only,
                |cfg| incremental_overrides(cfg, &ops),
            );
            let (code, msg) = split_result(outcome);
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

#[cfg(test)]
mod tests;
