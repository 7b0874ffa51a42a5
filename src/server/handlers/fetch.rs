//! Fetch v4–v12: long poll honouring `max_wait_ms` and `min_bytes`, whole
//! stored batches starting with the one that contains the fetch offset,
//! served as stored (no re-encoding), and only below the high watermark.
//! Fetch sessions (KIP-227) are not kept: `session_id` 0 tells clients to
//! send full requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use crate::protocol::error::ErrorCode;
use crate::server::broker::Broker;

/// Longest long poll pipit honours, whatever the client asks (Kafka has no
/// cap, but a stuck poll should not outlive a client's request timeout).
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

struct Want {
    topic: String,
    partition: i32,
    offset: i64,
    max_bytes: u32,
}

fn empty_partition(index: i32, code: ErrorCode) -> PartitionData {
    let mut p = PartitionData::default();
    p.partition_index = index;
    p.error_code = code.code();
    p.high_watermark = -1;
    p.last_stable_offset = -1;
    p.log_start_offset = -1;
    p.aborted_transactions = Some(Vec::new());
    p.preferred_read_replica = BrokerId(-1);
    p.records = Some(Bytes::new());
    p
}

/// One pass over every requested partition; returns the response and the
/// bytes of records in it.
async fn read_all(
    broker: &Arc<Broker>,
    wants: &[Want],
    max_total: u32,
) -> (FetchResponse, usize, bool) {
    let mut resp = FetchResponse::default();
    let mut total = 0usize;
    let mut any_error = false;
    for w in wants {
        let idx = match resp.responses.last() {
            Some(t) if t.topic.0.as_str() == w.topic => resp.responses.len() - 1,
            _ => {
                let mut t = FetchableTopicResponse::default();
                t.topic = kafka_protocol::protocol::StrBytes::from_string(w.topic.clone()).into();
                resp.responses.push(t);
                resp.responses.len() - 1
            }
        };
        let handle = broker
            .topic(&w.topic)
            .map_or(Err(ErrorCode::UnknownTopicOrPartition), |t| {
                t.partition(w.partition)
            });
        let data = match handle {
            Err(code) => {
                any_error = true;
                empty_partition(w.partition, code)
            }
            Ok(h) => {
                // KIP-74: the first partition gets at least one whole batch.
                let room = max_total.saturating_sub(total as u32);
                let limit = if total == 0 {
                    w.max_bytes.max(1)
                } else {
                    w.max_bytes.min(room)
                };
                if limit == 0 {
                    let mut p = empty_partition(w.partition, ErrorCode::None);
                    p.high_watermark = h.high_watermark();
                    p.last_stable_offset = h.high_watermark();
                    p.log_start_offset = h.log_start();
                    p
                } else {
                    match h.read(w.offset, limit).await {
                        Ok(r) => {
                            total += r.records.len();
                            let mut p = empty_partition(w.partition, ErrorCode::None);
                            p.high_watermark = r.high_watermark;
                            p.last_stable_offset = r.high_watermark;
                            p.log_start_offset = r.log_start;
                            p.records = Some(Bytes::from(r.records));
                            p
                        }
                        Err(code) => {
                            any_error = true;
                            let mut p = empty_partition(w.partition, code);
                            p.high_watermark = h.high_watermark();
                            p.last_stable_offset = h.high_watermark();
                            p.log_start_offset = h.log_start();
                            p
                        }
                    }
                }
            }
        };
        if let Some(t) = resp.responses.get_mut(idx) {
            t.partitions.push(data);
        }
    }
    (resp, total, any_error)
}

pub async fn handle(broker: &Arc<Broker>, _version: i16, req: FetchRequest) -> FetchResponse {
    let wants: Vec<Want> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| Want {
                topic: t.topic.0.to_string(),
                partition: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as u32,
            })
        })
        .collect();
    let max_total = if req.max_bytes <= 0 {
        i32::MAX as u32
    } else {
        req.max_bytes as u32
    };
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    loop {
        // Listen before reading, so an append between the read and the wait
        // still wakes us.
        let listener = broker.data_changed.listen();
        let (resp, total, any_error) = read_all(broker, &wants, max_total).await;
        let now = Instant::now();
        if total >= min_bytes
            || any_error
            || now >= deadline
            || wants.is_empty()
            || broker.is_shutting_down()
        {
            return resp;
        }
        smol::future::or(
            async {
                listener.await;
            },
            async {
                smol::Timer::at(deadline).await;
            },
        )
        .await;
    }
}
