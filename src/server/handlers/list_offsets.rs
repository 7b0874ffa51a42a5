//! ListOffsets (v1–v7): an offset per partition for a timestamp or a special position.
//!
//! The special timestamps are turned into an [`OffsetSpec`] first: EARLIEST (-2) and
//! EARLIEST_LOCAL (-4) give the log start offset; LATEST (-1) and LATEST_TIERED (-5) give
//! the high watermark (pipit has no tiered storage, so local and tiered are the same);
//! MAX_TIMESTAMP (-3) gives the offset of the last committed record, since pipit keeps
//! producers' CreateTime and does not track the maximum timestamp separately (timestamp
//! -1). A timestamp ≥ 0 gives the first committed offset whose batch has a timestamp at or
//! after it, answered with the requested timestamp (the record's own is at least that), or
//! -1/-1 when no record is that new. pipit has no transactions, so READ_COMMITTED and
//! READ_UNCOMMITTED see the same high watermark. Leader epoch is 0 (v4+), the only epoch.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::*;

use crate::protocol::error::ErrorCode;
use crate::server::broker::Broker;
use crate::server::partition_task::PartitionHandle;

/// What a ListOffsets partition entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OffsetSpec {
    Earliest,
    Latest,
    MaxTimestamp,
    At(i64),
    /// A negative timestamp Kafka does not define (or a newer spec pipit does not serve).
    Unknown,
}

impl OffsetSpec {
    /// Kafka's ListOffsetsRequest constants.
    fn from_wire(ts: i64) -> OffsetSpec {
        match ts {
            -1 | -5 => OffsetSpec::Latest,
            -2 | -4 => OffsetSpec::Earliest,
            -3 => OffsetSpec::MaxTimestamp,
            t if t >= 0 => OffsetSpec::At(t),
            _ => OffsetSpec::Unknown,
        }
    }
}

/// (offset, timestamp) for a spec over a log with the given bounds; `At` is answered by the
/// partition owner, so it only maps the owner's answer.
fn resolve(
    spec: OffsetSpec,
    log_start: i64,
    high_watermark: i64,
    found: Option<i64>,
) -> (i64, i64) {
    match spec {
        OffsetSpec::Earliest => (log_start, -1),
        OffsetSpec::Latest => (high_watermark, -1),
        OffsetSpec::MaxTimestamp if high_watermark > log_start => (high_watermark - 1, -1),
        OffsetSpec::MaxTimestamp | OffsetSpec::Unknown => (-1, -1),
        OffsetSpec::At(ts) => found.map_or((-1, -1), |o| (o, ts)),
    }
}

async fn lookup(h: &PartitionHandle, ts: i64) -> Result<(i64, i64), ErrorCode> {
    let spec = OffsetSpec::from_wire(ts);
    let found = match spec {
        OffsetSpec::At(t) => h.offset_for_time(t).await?,
        _ => None,
    };
    Ok(resolve(spec, h.log_start(), h.high_watermark(), found))
}

pub async fn handle(b: &Arc<Broker>, v: i16, r: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(r.topics.len());
    for t in &r.topics {
        let topic = b.topic(t.name.0.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let handle = topic
                .as_ref()
                .map_or(Err(ErrorCode::UnknownTopicOrPartition), |topic| {
                    topic.partition(p.partition_index)
                });
            let outcome = match handle {
                Ok(h) => lookup(&h, p.timestamp).await,
                Err(code) => Err(code),
            };
            let res =
                ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
            let res = match outcome {
                Ok((offset, timestamp)) => res
                    .with_error_code(0)
                    .with_offset(offset)
                    .with_timestamp(timestamp)
                    // The encoder refuses a leader epoch other than -1 before v4.
                    .with_leader_epoch(if v >= 4 { 0 } else { -1 }),
                Err(code) => res
                    .with_error_code(code.code())
                    .with_offset(-1)
                    .with_timestamp(-1)
                    .with_leader_epoch(-1),
            };
            partitions.push(res);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::OffsetSpec::*;
    use super::*;
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn kafkas_special_timestamps_map_to_specs() {
        let got: Vec<OffsetSpec> = [-1, -2, -3, -4, -5, -6, 0, 42]
            .map(OffsetSpec::from_wire)
            .to_vec();
        assert_eq!(
            got,
            vec![
                Latest,
                Earliest,
                MaxTimestamp,
                Earliest,
                Latest,
                Unknown,
                At(0),
                At(42)
            ]
        );
    }

    #[test]
    fn earliest_and_latest_are_log_start_and_high_watermark_without_timestamp() {
        assert_eq!(resolve(Earliest, 10, 25, None), (10, -1));
        assert_eq!(resolve(Latest, 10, 25, None), (25, -1));
    }

    #[test]
    fn max_timestamp_is_the_last_record_or_nothing_on_an_empty_log() {
        assert_eq!(resolve(MaxTimestamp, 10, 25, None), (24, -1));
        assert_eq!(resolve(MaxTimestamp, 7, 7, None), (-1, -1));
    }

    #[test]
    fn a_time_lookup_answers_the_found_offset_with_the_asked_timestamp_or_nothing() {
        assert_eq!(
            resolve(At(1_700_000_000_000), 0, 9, Some(4)),
            (4, 1_700_000_000_000)
        );
        assert_eq!(resolve(At(1_700_000_000_000), 0, 9, None), (-1, -1));
        assert_eq!(resolve(Unknown, 0, 9, None), (-1, -1));
    }

    #[test]
    fn an_empty_partition_answers_every_version_and_unknown_ones_are_refused() {
        use super::super::metadata::test_support::{broker, encodes};
        use kafka_protocol::messages::list_offsets_request::{
            ListOffsetsPartition, ListOffsetsTopic,
        };
        let b = broker("lo-empty");
        b.create_topic("t", 1, 1, &[], false).unwrap();
        let part = |p: i32, ts: i64| {
            ListOffsetsPartition::default()
                .with_partition_index(p)
                .with_timestamp(ts)
        };
        let parts = vec![part(0, -2), part(0, -1), part(0, 1_000), part(5, -1)];
        let topics = vec![
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(parts),
            ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("nope")))
                .with_partitions(vec![part(0, -1)]),
        ];
        for v in 1..=7 {
            let req = ListOffsetsRequest::default().with_topics(topics.clone());
            let resp = smol::block_on(handle(&b, v, req));
            encodes(v, &resp);
            let got: Vec<(i16, i64, i32)> = resp
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (p.error_code, p.offset, p.leader_epoch))
                })
                .collect();
            let epoch = if v >= 4 { 0 } else { -1 };
            assert_eq!(
                got,
                vec![
                    (0, 0, epoch),
                    (0, 0, epoch),
                    (0, -1, epoch),
                    (3, -1, -1),
                    (3, -1, -1)
                ],
                "v{v}"
            );
        }
    }
}
