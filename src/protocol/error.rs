//! Kafka error codes pipit answers with, mapped at the protocol edge only.
//!
//! Codes and retriability follow Kafka's `org.apache.kafka.common.protocol.Errors`; the
//! numeric values are wire format and must never change.

/// A Kafka error code; `code()` is the i16 written on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not retriable: an error the server could not classify.
    UnknownServerError,
    /// No error.
    None,
    /// Not retriable: the requested offset is outside the log's range.
    OffsetOutOfRange,
    /// Retriable: a batch failed its CRC or size checks.
    CorruptMessage,
    /// Retriable: the topic or partition does not exist on this broker.
    UnknownTopicOrPartition,
    /// Not retriable: the fetch size is invalid.
    InvalidFetchSize,
    /// Retriable: the partition has no leader right now (e.g. during election).
    LeaderNotAvailable,
    /// Retriable: this broker is not the leader (or follower) of the partition.
    NotLeaderOrFollower,
    /// Retriable: the request timed out.
    RequestTimedOut,
    /// Not retriable: a message is larger than the topic allows.
    MessageTooLarge,
    /// Retriable: the server disconnected before the response was received.
    NetworkException,
    /// Retriable: the group coordinator is not available.
    CoordinatorNotAvailable,
    /// Retriable: this broker is not the group's coordinator.
    NotCoordinator,
    /// Not retriable: the topic name is invalid.
    InvalidTopicException,
    /// Not retriable: the record batch is larger than the segment can hold.
    RecordListTooLarge,
    /// Retriable: fewer in-sync replicas than min.insync.replicas.
    NotEnoughReplicas,
    /// Retriable: written, but fewer in-sync replicas than required afterwards.
    NotEnoughReplicasAfterAppend,
    /// Not retriable: acks is not -1, 0 or 1.
    InvalidRequiredAcks,
    /// Not retriable: a timestamp is out of the acceptable range.
    InvalidTimestamp,
    /// Not retriable: the API version is not supported.
    UnsupportedVersion,
    /// Not retriable: the topic already exists.
    TopicAlreadyExists,
    /// Not retriable: the number of partitions is invalid.
    InvalidPartitions,
    /// Not retriable: the replication factor is invalid.
    InvalidReplicationFactor,
    /// Not retriable: a manual replica assignment names brokers that cannot hold it.
    InvalidReplicaAssignment,
    /// Not retriable: a configuration value is invalid.
    InvalidConfig,
    /// Not retriable: the transactional id may not be used (pipit has no transactions).
    TransactionalIdAuthorizationFailed,
    /// Not retriable: the request is malformed or inconsistent.
    InvalidRequest,
    /// Not retriable: the request breaks a broker policy.
    PolicyViolation,
    /// Not retriable: the producer's sequence number is out of order.
    OutOfOrderSequenceNumber,
    /// Not retriable: the batch is a duplicate of one already written.
    DuplicateSequenceNumber,
    /// Retriable: a disk error on the broker.
    KafkaStorageError,
    /// Not retriable: the topic's compression type is not supported.
    UnsupportedCompressionType,
    /// Retriable: a quota was exceeded; retry after the throttle time.
    ThrottlingQuotaExceeded,
    /// Not retriable: the cluster has no such broker.
    BrokerNotAvailable,
    /// Not retriable: the broker has no state for this producer id.
    UnknownProducerId,
    /// Not retriable: the producer's epoch is older than the current one.
    InvalidProducerEpoch,
    /// Not retriable: another producer instance took over this id, or the
    /// id/epoch to bump is not the current one (InitProducerId v4+).
    ProducerFenced,
}

impl ErrorCode {
    /// The code on the wire.
    pub const fn code(self) -> i16 {
        use ErrorCode::*;
        match self {
            UnknownServerError => -1,
            None => 0,
            OffsetOutOfRange => 1,
            CorruptMessage => 2,
            UnknownTopicOrPartition => 3,
            InvalidFetchSize => 4,
            LeaderNotAvailable => 5,
            NotLeaderOrFollower => 6,
            RequestTimedOut => 7,
            BrokerNotAvailable => 8,
            MessageTooLarge => 10,
            NetworkException => 13,
            CoordinatorNotAvailable => 15,
            NotCoordinator => 16,
            InvalidTopicException => 17,
            RecordListTooLarge => 18,
            NotEnoughReplicas => 19,
            NotEnoughReplicasAfterAppend => 20,
            InvalidRequiredAcks => 21,
            InvalidTimestamp => 32,
            UnsupportedVersion => 35,
            TopicAlreadyExists => 36,
            InvalidPartitions => 37,
            InvalidReplicationFactor => 38,
            InvalidReplicaAssignment => 39,
            TransactionalIdAuthorizationFailed => 53,
            InvalidConfig => 40,
            InvalidRequest => 42,
            PolicyViolation => 44,
            OutOfOrderSequenceNumber => 45,
            DuplicateSequenceNumber => 46,
            InvalidProducerEpoch => 47,
            KafkaStorageError => 56,
            UnknownProducerId => 59,
            UnsupportedCompressionType => 76,
            ThrottlingQuotaExceeded => 89,
            ProducerFenced => 90,
        }
    }

    /// Whether a client may retry the same request (Kafka's RetriableException).
    pub const fn is_retriable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            CorruptMessage
                | UnknownTopicOrPartition
                | LeaderNotAvailable
                | NotLeaderOrFollower
                | RequestTimedOut
                | NetworkException
                | CoordinatorNotAvailable
                | NotCoordinator
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | KafkaStorageError
                | ThrottlingQuotaExceeded
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode::*;

    #[test]
    fn wire_codes_match_kafka() {
        let pairs = [
            (UnknownServerError, -1),
            (None, 0),
            (OffsetOutOfRange, 1),
            (UnknownTopicOrPartition, 3),
            (NotLeaderOrFollower, 6),
            (MessageTooLarge, 10),
            (UnsupportedVersion, 35),
            (TopicAlreadyExists, 36),
            (InvalidReplicaAssignment, 39),
            (TransactionalIdAuthorizationFailed, 53),
            (InvalidConfig, 40),
            (InvalidRequest, 42),
            (KafkaStorageError, 56),
            (UnsupportedCompressionType, 76),
            (ThrottlingQuotaExceeded, 89),
            (ProducerFenced, 90),
        ];
        for (e, c) in pairs {
            assert_eq!(e.code(), c, "{e:?}");
        }
    }

    #[test]
    fn retriability_matches_kafka() {
        assert!(NotLeaderOrFollower.is_retriable());
        assert!(NotEnoughReplicas.is_retriable());
        assert!(!UnsupportedVersion.is_retriable());
        assert!(!TopicAlreadyExists.is_retriable());
    }
}
