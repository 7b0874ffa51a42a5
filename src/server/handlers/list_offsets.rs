//! ListOffsets (v1–v7): an offset per partition for a timestamp or a special position.
//!
//! The special timestamps are turned into an [`OffsetSpec`] first: EARLIEST (-2) and
//! EARLIEST_LOCAL (-4) give the log start offset; LATEST (-1) and LATEST_TIERED (-5) give
//! the high watermark (pipit has no tiered storage, so local and tiered are the same);
//! MAX_TIMESTAMP (-3) gives the offset of the last committed record, since pipit keeps
//! producers' CreateTime and does not track the maximum timestamp separately (timestamp
//! -1). A timestamp ≥ 0 gives, as Kafka does, the first committed record whose timestamp
//! is at or after it, with that record's timestamp, or -1/-1 when no record is that new:
//! the partition's time index finds the first batch whose max timestamp is new enough,
//! that batch is read through the partition handle, and its records (decompressed if
//! need be, at most `protocol::records::BROKER_DECOMPRESSED_MAX`) are searched in offset order. pipit has no transactions, so READ_COMMITTED and
//! READ_UNCOMMITTED see the same high watermark. Leader epoch is 0 (v4+), the only epoch.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::*;

use crate::protocol::error::ErrorCode;
use crate::protocol::records::{
    BROKER_DECOMPRESSED_MAX as DECOMPRESSED_MAX, TimeSearch, first_record_at_or_after,
};
use crate::server::broker::Broker;
use crate::server::partition_task::PartitionHandle;

/// Bytes of batches read per step of a time search, and steps at most: the
/// index points at the batch that holds the time, so one step almost always
/// answers; the bound keeps a damaged index from turning into a scan.
const SEARCH_READ_BYTES: u32 = 256 << 10;
const SEARCH_STEPS: usize = 64;

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
    found: Option<(i64, i64)>,
) -> (i64, i64) {
    match spec {
        OffsetSpec::Earliest => (log_start, -1),
        OffsetSpec::Latest => (high_watermark, -1),
        OffsetSpec::MaxTimestamp if high_watermark > log_start => (high_watermark - 1, -1),
        OffsetSpec::MaxTimestamp | OffsetSpec::Unknown => (-1, -1),
        OffsetSpec::At(_) => found.unwrap_or((-1, -1)),
    }
}

/// The first committed record with timestamp ≥ `ts`: (offset, its timestamp).
async fn record_at_or_after(h: &PartitionHandle, ts: i64) -> Result<Option<(i64, i64)>, ErrorCode> {
    let Some(batch_offset) = h.offset_for_time(ts).await? else {
        return Ok(None);
    };
    let mut offset = batch_offset;
    for _ in 0..SEARCH_STEPS {
        let read = match h.read(offset, SEARCH_READ_BYTES).await {
            Ok(r) => r,
            Err(ErrorCode::OffsetOutOfRange) => return Ok(None),
            Err(code) => return Err(code),
        };
        if read.records.is_empty() {
            return Ok(None);
        }
        match first_record_at_or_after(&read.records, offset, ts, DECOMPRESSED_MAX) {
            Ok(TimeSearch::Found { offset, timestamp }) => return Ok(Some((offset, timestamp))),
            Ok(TimeSearch::NotHere { next_offset }) if next_offset > offset => offset = next_offset,
            Ok(TimeSearch::NotHere { .. }) => return Ok(None),
            Err(e) => {
                // Stored batches passed their CRC on the way in; a batch whose
                // records cannot be read is answered at batch granularity.
                log::warn!("ListOffsets by time: {e}; answering the batch's base offset");
                return Ok(Some((batch_offset, ts)));
            }
        }
    }
    Ok(Some((batch_offset, ts)))
}

async fn lookup(h: &PartitionHandle, ts: i64) -> Result<(i64, i64), ErrorCode> {
    let spec = OffsetSpec::from_wire(ts);
    let found = match spec {
        OffsetSpec::At(t) => record_at_or_after(h, t).await?,
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
    fn a_time_lookup_answers_the_found_record_with_its_own_timestamp_or_nothing() {
        assert_eq!(
            resolve(At(1_700_000_000_000), 0, 9, Some((4, 1_700_000_000_042))),
            (4, 1_700_000_000_042)
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
