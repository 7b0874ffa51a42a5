//! Kafka error codes pipit answers with, mapped at the protocol edge only.
//!
//! There is one code table in the crate: kafka-protocol's `ResponseError`, generated from
//! Kafka's `org.apache.kafka.common.protocol.Errors` (its `code()` is the i16 on the wire,
//! `is_retriable()` Kafka's RetriableException). `ErrorCode` is that type under the name
//! the handlers use; "no error" is not a variant there, so success is [`NONE`] on the wire
//! and `None` where a code is optional ([`wire`]). The numbers are wire format and must
//! never change: the test below pins every code pipit answers with.

pub use kafka_protocol::ResponseError as ErrorCode;

/// The wire code for success (kafka-protocol's table starts at the errors).
pub const NONE: i16 = 0;

/// The wire code of an optional error: [`NONE`] when there is none.
pub const fn wire(error: Option<ErrorCode>) -> i16 {
    match error {
        Some(e) => e.code(),
        None => NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode::*;
    use super::{NONE, wire};

    /// Every code pipit's broker answers with, and Kafka's number for it.
    #[test]
    fn every_code_pipit_answers_with_has_kafkas_number() {
        let pairs = [
            (UnknownServerError, -1),
            (OffsetOutOfRange, 1),
            (CorruptMessage, 2),
            (UnknownTopicOrPartition, 3),
            (NotLeaderOrFollower, 6),
            (MessageTooLarge, 10),
            (CoordinatorNotAvailable, 15),
            (InvalidTopicException, 17),
            (NotEnoughReplicas, 19),
            (InvalidRequiredAcks, 21),
            (UnsupportedVersion, 35),
            (TopicAlreadyExists, 36),
            (InvalidPartitions, 37),
            (InvalidReplicationFactor, 38),
            (InvalidReplicaAssignment, 39),
            (InvalidConfig, 40),
            (InvalidRequest, 42),
            (PolicyViolation, 44),
            (OutOfOrderSequenceNumber, 45),
            (DuplicateSequenceNumber, 46),
            (InvalidProducerEpoch, 47),
            (TransactionalIdAuthorizationFailed, 53),
            (KafkaStorageError, 56),
            (UnknownProducerId, 59),
            (UnsupportedCompressionType, 76),
            (ThrottlingQuotaExceeded, 89),
            (ProducerFenced, 90),
            (UnknownTopicId, 100),
        ];
        for (e, c) in pairs {
            assert_eq!(e.code(), c, "{e:?}");
        }
        assert_eq!((NONE, wire(None)), (0, 0));
        assert_eq!(wire(Some(KafkaStorageError)), 56);
    }

    #[test]
    fn retriability_matches_kafka() {
        for e in [
            CorruptMessage,
            UnknownTopicOrPartition,
            NotLeaderOrFollower,
            CoordinatorNotAvailable,
            NotEnoughReplicas,
            KafkaStorageError,
            UnknownTopicId,
        ] {
            assert!(e.is_retriable(), "{e:?}");
        }
        for e in [
            UnknownServerError,
            OffsetOutOfRange,
            MessageTooLarge,
            UnsupportedVersion,
            TopicAlreadyExists,
            InvalidConfig,
            ProducerFenced,
        ] {
            assert!(!e.is_retriable(), "{e:?}");
        }
    }
}
