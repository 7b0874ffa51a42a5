//! Thin request handlers: each turns one decoded request into its response
//! using the broker's API. No business rules live here beyond mapping
//! between Kafka's messages and the broker; errors become Kafka codes here.
//! Handlers that may touch files (create a topic and fallocate its rings,
//! write metadata or the producer-id counter, auto-create from Metadata) run
//! on a file-I/O worker ([`super::rt::io`]), never on an executor thread.

use std::sync::Arc;

use bytes::BytesMut;

use super::broker::{AdminError, Broker};
use super::rt;
use crate::protocol::error::ErrorCode;
use crate::protocol::response::EncodeError;
use crate::protocol::{Request, RequestHeaderInfo, api_versions_response, encode_response};

pub mod admin;
pub mod cluster;
pub mod configs;
pub mod coordinator;
pub mod fetch;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
pub mod producer_id;

/// The one place a refused admin operation becomes a Kafka code and a message for the client.
pub fn admin_error_reply(e: &AdminError) -> (ErrorCode, String) {
    use AdminError::*;
    match e {
        UnknownTopic { name } => (
            ErrorCode::UnknownTopicOrPartition,
            format!("unknown topic '{name}'"),
        ),
        InvalidName { name } => (
            ErrorCode::InvalidTopicException,
            format!("invalid topic name '{name}': use 1 to 249 of a-z A-Z 0-9 . _ - (not . or ..)"),
        ),
        AlreadyExists { name } => (
            ErrorCode::TopicAlreadyExists,
            format!("topic '{name}' already exists"),
        ),
        InvalidPartitions { got } => (
            ErrorCode::InvalidPartitions,
            format!("partitions must be between 1 and 10000, got {got}"),
        ),
        CannotGrow { name, have, got } => (
            ErrorCode::InvalidPartitions,
            format!(
                "topic '{name}' has {have} partitions; the new count must be larger (and at most 10000), got {got}"
            ),
        ),
        ReplicationFactor { got } => (
            ErrorCode::InvalidReplicationFactor,
            format!("replication factor {got} is larger than the 1 available broker"),
        ),
        RingCap {
            cap,
            how,
            used,
            extra,
        } => (
            ErrorCode::PolicyViolation,
            format!(
                "log.ring.bytes.max is {cap} bytes ({how}): {used} are reserved and this needs {extra} more"
            ),
        ),
        MetadataWrite { error } => (
            ErrorCode::KafkaStorageError,
            format!("writing topic metadata: {error}"),
        ),
        PartitionCreate {
            topic,
            partition,
            error,
        } => (
            ErrorCode::KafkaStorageError,
            format!("partition {topic}-{partition} could not be created: {error}"),
        ),
        Config(e) => (ErrorCode::InvalidConfig, e.to_string()),
        NullConfigValue { key } => (
            ErrorCode::InvalidConfig,
            format!("null value for config '{key}'"),
        ),
        ShapeFixed => (
            ErrorCode::InvalidConfig,
            "segment.bytes, ring.segments and index.interval.bytes are fixed when a topic's rings are reserved; create a new topic to change them".into(),
        ),
        ConfigLock => (ErrorCode::UnknownServerError, "config lock".into()),
        RepeatedTopic { name } => (
            ErrorCode::InvalidRequest,
            format!("topic '{name}' appears more than once in the request"),
        ),
        CountsAndAssignment => (
            ErrorCode::InvalidRequest,
            "give either num_partitions/replication_factor or a replica assignment, not both".into(),
        ),
        AssignmentGaps => (
            ErrorCode::InvalidReplicaAssignment,
            "assigned partitions must be numbered 0, 1, 2, ... without gaps or repeats".into(),
        ),
        TooManyAssigned => (
            ErrorCode::InvalidReplicaAssignment,
            "too many partitions".into(),
        ),
        ForeignReplicas { replicas, me } => (
            ErrorCode::InvalidReplicaAssignment,
            format!("replica list {replicas:?} is not [{me}]: broker {me} is the only broker"),
        ),
        AssignmentCount { given, new } => (
            ErrorCode::InvalidReplicaAssignment,
            format!("{given} replica lists given for {new} new partitions"),
        ),
        NotThisBroker { me, name } => (
            ErrorCode::InvalidRequest,
            format!("this is broker {me}, not '{name}'"),
        ),
        StaticBrokerConfigs => (
            ErrorCode::InvalidRequest,
            "broker configs are static in server.properties".into(),
        ),
        UnsupportedResource { resource_type } => (
            ErrorCode::InvalidRequest,
            format!("resource type {resource_type} is not supported (2 = topic, 4 = broker)"),
        ),
        RepeatedConfig { key } => (
            ErrorCode::InvalidRequest,
            format!("config '{key}' appears more than once"),
        ),
        NotAList { verb, key } => (
            ErrorCode::InvalidConfig,
            format!("Config value {verb} is not allowed for config key: {key}"),
        ),
        UnknownConfigOp { op } => (
            ErrorCode::InvalidRequest,
            format!("unknown config operation {op}"),
        ),
    }
}

/// What to send back for one request: a frame, or nothing (acks=0).
pub type Reply = Result<Option<BytesMut>, EncodeError>;

/// Runs the handler for `req` and encodes its response.
pub async fn dispatch(broker: &Arc<Broker>, h: &RequestHeaderInfo, req: Request) -> Reply {
    let v = h.api_version;
    let id = h.correlation_id;
    let frame = match req {
        Request::ApiVersions(_) => encode_response(id, v, &api_versions_response(v))?,
        Request::Metadata(r) => {
            encode_response(id, v, &on_io(broker, v, r, metadata::handle).await)?
        }
        Request::Produce(r) => match produce::handle(broker, v, r).await {
            Some(resp) => encode_response(id, v, &resp)?,
            None => return Ok(None),
        },
        Request::Fetch(r) => encode_response(id, v, &fetch::handle(broker, v, r).await)?,
        Request::ListOffsets(r) => {
            encode_response(id, v, &list_offsets::handle(broker, v, r).await)?
        }
        Request::CreateTopics(r) => {
            encode_response(id, v, &on_io(broker, v, r, admin::create_topics).await)?
        }
        Request::DeleteTopics(r) => {
            encode_response(id, v, &admin::delete_topics(broker, v, r).await)?
        }
        Request::CreatePartitions(r) => {
            encode_response(id, v, &on_io(broker, v, r, admin::create_partitions).await)?
        }
        Request::DescribeConfigs(r) => encode_response(id, v, &configs::describe(broker, v, r))?,
        Request::AlterConfigs(r) => {
            encode_response(id, v, &on_io(broker, v, r, configs::alter).await)?
        }
        Request::IncrementalAlterConfigs(r) => encode_response(
            id,
            v,
            &on_io(broker, v, r, configs::incremental_alter).await,
        )?,
        Request::FindCoordinator(r) => encode_response(id, v, &coordinator::find(broker, v, r))?,
        Request::DescribeCluster(r) => encode_response(id, v, &cluster::describe(broker, v, r))?,
        Request::InitProducerId(r) => {
            encode_response(id, v, &on_io(broker, v, r, producer_id::init).await)?
        }
    };
    Ok(Some(frame))
}

/// Runs a handler that may do file I/O on a file-I/O worker.
async fn on_io<Req: Send + 'static, Resp: Send + 'static>(
    broker: &Arc<Broker>,
    v: i16,
    req: Req,
    handler: fn(&Arc<Broker>, i16, Req) -> Resp,
) -> Resp {
    let b = broker.clone();
    rt::io(move || handler(&b, v, req)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::topic_config::TopicConfigError;

    #[test]
    fn refused_admin_operations_get_kafkas_codes_at_the_edge() {
        let name = || "t".to_string();
        let cases = [
            (AdminError::UnknownTopic { name: name() }, 3),
            (AdminError::InvalidName { name: name() }, 17),
            (AdminError::AlreadyExists { name: name() }, 36),
            (AdminError::InvalidPartitions { got: 0 }, 37),
            (AdminError::ReplicationFactor { got: 3 }, 38),
            (AdminError::AssignmentGaps, 39),
            (
                AdminError::Config(TopicConfigError::UnknownKey { key: name() }),
                40,
            ),
            (AdminError::RepeatedTopic { name: name() }, 42),
            (
                AdminError::RingCap {
                    cap: 1,
                    how: String::new(),
                    used: 1,
                    extra: 1,
                },
                44,
            ),
            (AdminError::MetadataWrite { error: name() }, 56),
        ];
        for (e, code) in cases {
            assert_eq!(admin_error_reply(&e).0.code(), code, "{e:?}");
        }
    }
}
