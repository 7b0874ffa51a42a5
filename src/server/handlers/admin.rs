//! Topic admin: CreateTopics (v2–v7), DeleteTopics (v1–v6) and CreatePartitions (v0–v3).
//!
//! Each topic in a request is answered on its own; one refused topic never fails the
//! others. The rules (names, counts, configs, the ring cap) live in the broker; this
//! module checks only what the request's shape decides: repeated names, manual replica
//! assignments (accepted only when every replica list is exactly this broker), and null
//! config values. `validate_only` runs every check and changes nothing. Results carry
//! the error's message (null on success), and from CreateTopics v5 the topic's partition
//! count, replication factor and every config with its source.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::*;

use super::admin_error_reply;
use super::metadata::{UNKNOWN_TOPIC_ID, sb, topic_name, wire_uuid};
use crate::log::topic_config::TopicConfig;
use crate::server::broker::{AdminError, Broker, Created};

/// The code and message of a refused operation, as DeleteTopics carries them.
fn wire_reply(e: &AdminError) -> (i16, String) {
    let (code, message) = admin_error_reply(e);
    (code.code(), message)
}

/// Names that appear more than once in one request (Kafka refuses all their entries).
fn repeated<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut twice = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            twice.insert(n.to_string());
        }
    }
    twice
}

fn duplicate_error(name: &str) -> AdminError {
    AdminError::RepeatedTopic {
        name: name.to_string(),
    }
}

/// Checks a manual assignment (partition index → replica broker ids) and returns the partition
/// count it implies: indexes must be 0..n and every replica list exactly `[me]`.
fn assignment_partitions(me: i32, assignments: &[(i32, Vec<i32>)]) -> Result<i32, AdminError> {
    let mut indexes: Vec<i32> = assignments.iter().map(|(p, _)| *p).collect();
    indexes.sort_unstable();
    if indexes
        .iter()
        .enumerate()
        .any(|(i, p)| i64::from(*p) != i as i64)
    {
        return Err(AdminError::AssignmentGaps);
    }
    check_replicas(me, assignments.iter().map(|(_, r)| r.as_slice()))?;
    i32::try_from(assignments.len()).map_err(|_| AdminError::TooManyAssigned)
}

/// Every replica list must be exactly this broker: it is the only one that can hold a replica.
fn check_replicas<'a>(
    me: i32,
    lists: impl IntoIterator<Item = &'a [i32]>,
) -> Result<(), AdminError> {
    for list in lists {
        if list != [me] {
            return Err(AdminError::ForeignReplicas {
                replicas: list.to_vec(),
                me,
            });
        }
    }
    Ok(())
}

/// Config pairs from a request; a null value is refused, as Kafka does.
fn config_pairs<'a>(
    configs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Vec<(String, String)>, AdminError> {
    configs
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => Ok((k.to_string(), v.to_string())),
            None => Err(AdminError::NullConfigValue { key: k.to_string() }),
        })
        .collect()
}

/// What CreateTopics decided for one topic: (partitions, replication factor, config, id).
type Outcome = (i32, i16, TopicConfig, Option<[u8; 16]>);

fn create_one(
    b: &Arc<Broker>,
    t: &CreatableTopic,
    validate_only: bool,
) -> Result<Outcome, AdminError> {
    let name = t.name.0.as_str();
    let configs = config_pairs(
        t.configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_deref())),
    )?;
    let (partitions, rf) = if t.assignments.is_empty() {
        (t.num_partitions, t.replication_factor)
    } else {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err(AdminError::CountsAndAssignment);
        }
        let a: Vec<(i32, Vec<i32>)> = t
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|id| id.0).collect(),
                )
            })
            .collect();
        (assignment_partitions(b.config.broker_id, &a)?, 1)
    };
    let partitions = if partitions == -1 {
        b.config.num_partitions as i32
    } else {
        partitions
    };
    let rf = if rf == -1 {
        b.config.default_replication_factor as i16
    } else {
        rf
    };
    match b.create_topic(name, partitions, rf, &configs, validate_only)? {
        Created::Topic(topic) => {
            let cfg = topic
                .config
                .lock()
                .map(|c| c.clone())
                .map_err(|_| AdminError::ConfigLock)?;
            Ok((topic.partition_count() as i32, rf, cfg, Some(topic.id)))
        }
        // validate_only: every check passed and nothing was created.
        Created::Validated => Ok((
            partitions,
            rf,
            TopicConfig::with_overrides(b.defaults(), &configs)?,
            None,
        )),
    }
}

pub fn create_topics(b: &Arc<Broker>, v: i16, r: CreateTopicsRequest) -> CreateTopicsResponse {
    let twice = repeated(r.topics.iter().map(|t| t.name.0.as_str()));
    let topics = r
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let outcome = if twice.contains(&name) {
                Err(duplicate_error(&name))
            } else {
                create_one(b, t, r.validate_only)
            };
            let res = CreatableTopicResult::default()
                .with_name(topic_name(name))
                .with_topic_config_error_code(0);
            match outcome {
                Ok((partitions, rf, cfg, id)) => {
                    let res = res.with_error_code(0).with_error_message(None);
                    if v < 5 {
                        return res.with_configs(Some(vec![]));
                    }
                    let configs = cfg
                        .describe()
                        .into_iter()
                        .map(|e| {
                            CreatableTopicConfigs::default()
                                .with_name(sb(e.name))
                                .with_value((!e.sensitive).then(|| sb(e.value)))
                                .with_read_only(e.read_only)
                                .with_config_source(e.source.kafka_code())
                                .with_is_sensitive(e.sensitive)
                        })
                        .collect();
                    let res = res
                        .with_num_partitions(partitions)
                        .with_replication_factor(rf)
                        .with_configs(Some(configs));
                    match id {
                        Some(id) if v >= 7 => res.with_topic_id(wire_uuid(id)),
                        _ => res,
                    }
                }
                Err(e) => {
                    let (code, message) = admin_error_reply(&e);
                    res.with_error_code(code.code())
                        .with_error_message(Some(sb(message)))
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                        .with_configs(Some(vec![]))
                }
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

pub async fn delete_topics(
    b: &Arc<Broker>,
    v: i16,
    r: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // v0–v5 list names; v6 lists (name or topic id) states.
    let mut wanted: Vec<(Option<String>, [u8; 16])> = r
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), [0; 16]))
        .collect();
    wanted.extend(r.topics.iter().map(|t| {
        (
            t.name.as_ref().map(|n| n.0.to_string()),
            *t.topic_id.as_bytes(),
        )
    }));
    let twice = repeated(wanted.iter().filter_map(|(n, _)| n.as_deref()));
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let (name, id, outcome) = match name {
            Some(n) if twice.contains(&n) => {
                let e = duplicate_error(&n);
                (Some(n), id, Err(wire_reply(&e)))
            }
            Some(n) => {
                let id = b.topic(&n).map_or(id, |t| t.id);
                let res = b.delete_topic(&n).await.map_err(|e| wire_reply(&e));
                (Some(n), id, res)
            }
            None => match b.topics().into_iter().find(|t| t.id == id) {
                Some(t) => {
                    let res = b.delete_topic(&t.name).await.map_err(|e| wire_reply(&e));
                    (Some(t.name.clone()), id, res)
                }
                None => (
                    None,
                    id,
                    Err((UNKNOWN_TOPIC_ID, "unknown topic id".to_string())),
                ),
            },
        };
        let mut res = DeletableTopicResult::default().with_name(name.map(topic_name));
        if v >= 6 {
            res = res.with_topic_id(wire_uuid(id));
        }
        res = match outcome {
            Ok(()) => res.with_error_code(0).with_error_message(None),
            Err((code, msg)) => res.with_error_code(code).with_error_message(Some(sb(msg))),
        };
        responses.push(res);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

pub fn create_partitions(
    b: &Arc<Broker>,
    _v: i16,
    r: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let twice = repeated(r.topics.iter().map(|t| t.name.0.as_str()));
    let results = r
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let outcome = if twice.contains(&name) {
                Err(duplicate_error(&name))
            } else {
                check_new_assignments(b, &name, t.count, t.assignments.as_deref())
                    .and_then(|()| b.create_partitions(&name, t.count, r.validate_only))
            };
            let res = CreatePartitionsTopicResult::default().with_name(topic_name(name));
            match outcome {
                Ok(()) => res.with_error_code(0).with_error_message(None),
                Err(e) => {
                    let (code, message) = admin_error_reply(&e);
                    res.with_error_code(code.code())
                        .with_error_message(Some(sb(message)))
                }
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

/// CreatePartitions assignments: null, or one list per new partition, each exactly this broker.
fn check_new_assignments(
    b: &Broker,
    name: &str,
    count: i32,
    assignments: Option<&[create_partitions_request::CreatePartitionsAssignment]>,
) -> Result<(), AdminError> {
    let Some(a) = assignments else { return Ok(()) };
    let have = b.topic(name).map_or(0, |t| t.partition_count() as i64);
    if a.len() as i64 != i64::from(count) - have {
        return Err(AdminError::AssignmentCount {
            given: a.len(),
            new: i64::from(count) - have,
        });
    }
    let lists: Vec<Vec<i32>> = a
        .iter()
        .map(|x| x.broker_ids.iter().map(|id| id.0).collect())
        .collect();
    check_replicas(b.config.broker_id, lists.iter().map(Vec::as_slice))
}

#[cfg(test)]
mod tests;
