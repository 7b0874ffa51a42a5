//! Why a topic admin operation was refused, with the data that decided it.
//!
//! The broker (`broker_admin.rs`) and the admin handlers return these; nothing here knows
//! Kafka's codes. The one mapping to a Kafka code and message for the client is
//! `handlers::admin_error_reply`, at the protocol edge.

use crate::log::topic_config::TopicConfigError;

/// A refused topic admin operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No topic by that name.
    UnknownTopic { name: String },
    /// The name breaks Kafka's rules (1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`).
    InvalidName { name: String },
    /// A topic by that name exists already.
    AlreadyExists { name: String },
    /// A new topic's partition count outside 1..=10000.
    InvalidPartitions { got: i32 },
    /// CreatePartitions to a count not above the current one (or above 10000).
    CannotGrow { name: String, have: i32, got: i32 },
    /// A replication factor other than 1 (this is the only broker).
    ReplicationFactor { got: i16 },
    /// The rings would exceed `log.ring.bytes.max` (`how` says where the cap comes from).
    RingCap {
        cap: u64,
        how: String,
        used: u64,
        extra: u64,
    },
    /// The topic metadata could not be written; nothing changed.
    MetadataWrite { error: String },
    /// A partition's directory or ring could not be created; the change was undone.
    PartitionCreate {
        topic: String,
        partition: u32,
        error: String,
    },
    /// A config key or value is refused.
    Config(TopicConfigError),
    /// A null value given for a config key.
    NullConfigValue { key: String },
    /// An AlterConfigs change of a key fixed when the rings were reserved.
    ShapeFixed,
    /// A topic's config lock was poisoned by a panic.
    ConfigLock,
    /// The same topic named more than once in one request.
    RepeatedTopic { name: String },
    /// Both counts and a replica assignment given for one topic.
    CountsAndAssignment,
    /// Assigned partition indexes not numbered 0, 1, 2, ...
    AssignmentGaps,
    /// More assigned partitions than an i32 counts.
    TooManyAssigned,
    /// A replica list that is not exactly this broker.
    ForeignReplicas { replicas: Vec<i32>, me: i32 },
    /// CreatePartitions with a number of replica lists other than the new partitions.
    AssignmentCount { given: usize, new: i64 },
    /// A broker resource named other than this broker.
    NotThisBroker { me: i32, name: String },
    /// Broker configs are static (server.properties).
    StaticBrokerConfigs,
    /// A config resource type other than topic (2) or broker (4).
    UnsupportedResource { resource_type: i8 },
    /// The same config key twice in one IncrementalAlterConfigs resource.
    RepeatedConfig { key: String },
    /// APPEND or SUBTRACT on a key that is not a list.
    NotAList { verb: &'static str, key: String },
    /// An IncrementalAlterConfigs operation other than 0–3.
    UnknownConfigOp { op: i8 },
}

impl From<TopicConfigError> for AdminError {
    fn from(e: TopicConfigError) -> Self {
        AdminError::Config(e)
    }
}
