//! Topic administration over the wire: create, delete, list, describe, add partitions, configs.
//!
//! Create/delete/partition changes go to the controller named by Metadata (Kafka
//! forwards them there anyway); describe and list read Metadata from any broker.
//! Each per-topic outcome is returned separately, so a tool can report one failed
//! topic among several; a request that fails as a whole is an `Err`.

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::cluster::{Cluster, SharedConn, TopicMeta};
use super::config::ClientConfig;
use super::conn::ClientError;

/// ConfigResource type for topics in DescribeConfigs/IncrementalAlterConfigs.
const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs config_source: DEFAULT_CONFIG.
const SOURCE_DEFAULT: i8 = 5;
/// Admin requests ask the broker to finish within this many ms.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// A topic to create; `-1` partitions/replication factor mean "broker default".
#[derive(Debug, Clone, PartialEq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// One topic config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// True when the value is the broker's default (Kafka's `ConfigEntry.isDefault`).
    pub is_default: bool,
    pub read_only: bool,
    pub is_sensitive: bool,
}

/// How to change one config in [`Admin::alter_topic_configs`].
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigChange {
    Set(String, String),
    Delete(String),
}

/// An admin client bound to one cluster.
pub struct Admin {
    cluster: Cluster,
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn result(code: i16, message: Option<&StrBytes>, topic: &str) -> Result<(), ClientError> {
    match code {
        0 => Ok(()),
        3 => Err(ClientError::UnknownTopic(topic.to_string())),
        _ => Err(ClientError::kafka(code, message.map(|m| m.as_str()))),
    }
}

impl Admin {
    /// Connects through the bootstrap servers of `config`.
    pub async fn connect(config: &ClientConfig) -> Result<Admin, ClientError> {
        Ok(Admin {
            cluster: Cluster::connect(config).await?,
        })
    }

    /// The underlying cluster view.
    pub fn cluster(&mut self) -> &mut Cluster {
        &mut self.cluster
    }

    async fn controller(&mut self) -> Result<SharedConn, ClientError> {
        self.cluster.controller_conn().await
    }

    /// CreateTopics; one outcome per requested topic, in request order.
    pub async fn create_topics(
        &mut self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_validate_only(validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(TopicName(s(&t.name)))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(s(k))
                                            .with_value(Some(s(v)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let conn = self.controller().await?;
        let resp = conn.lock().await.send(&req).await?;
        Ok(topics
            .iter()
            .map(|t| {
                let r = resp
                    .topics
                    .iter()
                    .find(|r| r.name.0.as_str() == t.name)
                    .map(|r| result(r.error_code, r.error_message.as_ref(), &t.name))
                    .unwrap_or_else(|| Err(ClientError::kafka(-1, Some("no result for topic"))));
                (t.name.clone(), r)
            })
            .collect())
    }

    /// DeleteTopics by name; one outcome per topic.
    pub async fn delete_topics(
        &mut self,
        names: &[String],
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let mut req = DeleteTopicsRequest::default().with_timeout_ms(ADMIN_TIMEOUT_MS);
        let conn = self.controller().await?;
        let mut c = conn.lock().await;
        // v0-5 carry names in topic_names, v6 in topics[].name.
        if c.version_for(20)? >= 6 {
            req.topics = names
                .iter()
                .map(|n| {
                    delete_topics_request::DeleteTopicState::default()
                        .with_name(Some(TopicName(s(n))))
                })
                .collect();
        } else {
            req.topic_names = names.iter().map(|n| TopicName(s(n))).collect();
        }
        let resp = c.send(&req).await?;
        Ok(names
            .iter()
            .map(|n| {
                let r = resp
                    .responses
                    .iter()
                    .find(|r| r.name.as_ref().map(|x| x.0.as_str()) == Some(n.as_str()))
                    .map(|r| result(r.error_code, r.error_message.as_ref(), n))
                    .unwrap_or_else(|| Err(ClientError::kafka(-1, Some("no result for topic"))));
                (n.clone(), r)
            })
            .collect())
    }

    /// All topic names, sorted.
    pub async fn list_topics(&mut self) -> Result<Vec<String>, ClientError> {
        let resp = self.cluster.metadata(None, false).await?;
        let mut names: Vec<String> = resp
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Metadata of the named topics (all when `None`), sorted by name.
    pub async fn describe_topics(
        &mut self,
        names: Option<&[String]>,
    ) -> Result<Vec<TopicMeta>, ClientError> {
        let resp = self.cluster.metadata(names, false).await?;
        let mut out = Vec::new();
        for t in &resp.topics {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            result(t.error_code, None, &name)?;
            if let Some(meta) = self.cluster.topic(&name) {
                out.push(meta.clone());
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// CreatePartitions: grows `topic` to `count` partitions.
    pub async fn create_partitions(&mut self, topic: &str, count: i32) -> Result<(), ClientError> {
        let req = CreatePartitionsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_count(count)
                    .with_assignments(None),
            ]);
        let conn = self.controller().await?;
        let resp = conn.lock().await.send(&req).await?;
        match resp.results.first() {
            Some(r) => result(r.error_code, r.error_message.as_ref(), topic),
            None => Err(ClientError::kafka(-1, Some("no result for topic"))),
        }
    }

    /// DescribeConfigs for one topic, every entry the broker lists.
    pub async fn describe_topic_configs(
        &mut self,
        topic: &str,
    ) -> Result<Vec<ConfigEntry>, ClientError> {
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(s(topic))
                .with_configuration_keys(None),
        ]);
        let conn = self.cluster.any_conn().await?;
        let resp = conn.lock().await.send(&req).await?;
        let Some(r) = resp.results.first() else {
            return Err(ClientError::kafka(-1, Some("no result for topic")));
        };
        result(r.error_code, r.error_message.as_ref(), topic)?;
        Ok(r.configs
            .iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.as_ref().map(|v| v.to_string()),
                is_default: c.config_source == SOURCE_DEFAULT,
                read_only: c.read_only,
                is_sensitive: c.is_sensitive,
            })
            .collect())
    }

    /// IncrementalAlterConfigs for one topic (SET = 0, DELETE = 1).
    pub async fn alter_topic_configs(
        &mut self,
        topic: &str,
        changes: &[ConfigChange],
    ) -> Result<(), ClientError> {
        let configs = changes
            .iter()
            .map(|c| match c {
                ConfigChange::Set(k, v) => AlterableConfig::default()
                    .with_name(s(k))
                    .with_config_operation(0)
                    .with_value(Some(s(v))),
                ConfigChange::Delete(k) => AlterableConfig::default()
                    .with_name(s(k))
                    .with_config_operation(1),
            })
            .collect();
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(s(topic))
                .with_configs(configs),
        ]);
        let conn = self.controller().await?;
        let resp = conn.lock().await.send(&req).await?;
        match resp.responses.first() {
            Some(r) => result(r.error_code, r.error_message.as_ref(), topic),
            None => Err(ClientError::kafka(-1, Some("no result for topic"))),
        }
    }
}
