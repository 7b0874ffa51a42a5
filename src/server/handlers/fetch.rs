//! Fetch v4–v12: long poll honouring `max_wait_ms` and `min_bytes` (woken only
//! by the requested partitions' own change events, or shutdown), whole
//! stored batches starting with the one that contains the fetch offset,
//! served as stored (no re-encoding), and only below the high watermark.
//! Fetch sessions (KIP-227) are not kept: `session_id` 0 tells clients to
//! send full requests.
//!
//! Memory bound: a response carries at most `min(request max_bytes,
//! fetch.max.bytes)` record bytes, except that the first partition with data
//! always gets one whole batch (KIP-74), which `message.max.bytes` bounds.
//! A partition listed more than once is read once and answered once, with
//! its last entry's offset and `partition_max_bytes`, at the position of its
//! first entry: what Kafka's request-to-map conversion (a `LinkedHashMap`
//! keyed by topic-partition, as its fetch sessions keep) does.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_listener::EventListener;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use crate::protocol::error::{ErrorCode, NONE};
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

fn empty_partition(index: i32, error_code: i16) -> PartitionData {
    let mut p = PartitionData::default();
    p.partition_index = index;
    p.error_code = error_code;
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
        if total >= max_total as usize {
            // Over budget: the rest are answered empty (no read, no copy).
            let mut p = empty_partition(w.partition, NONE);
            if let Some(h) = broker
                .topic(&w.topic)
                .and_then(|t| t.partition(w.partition).ok())
            {
                p.high_watermark = h.high_watermark();
                p.last_stable_offset = h.high_watermark();
                p.log_start_offset = h.log_start();
            } else {
                any_error = true;
                p.error_code = ErrorCode::UnknownTopicOrPartition.code();
            }
            push(&mut resp, &w.topic, p);
            continue;
        }
        let handle = broker
            .topic(&w.topic)
            .map_or(Err(ErrorCode::UnknownTopicOrPartition), |t| {
                t.partition(w.partition)
            });
        let data = match handle {
            Err(code) => {
                any_error = true;
                empty_partition(w.partition, code.code())
            }
            Ok(h) => {
                // KIP-74: the first partition gets at least one whole batch
                // (a read returns one even when it is larger than the limit).
                let room = max_total.saturating_sub(total as u32);
                let limit = if total == 0 {
                    w.max_bytes.max(1).min(max_total)
                } else {
                    w.max_bytes.min(room)
                };
                if limit == 0 {
                    let mut p = empty_partition(w.partition, NONE);
                    p.high_watermark = h.high_watermark();
                    p.last_stable_offset = h.high_watermark();
                    p.log_start_offset = h.log_start();
                    p
                } else {
                    match h.read(w.offset, limit).await {
                        Ok(r) => {
                            total += r.records.len();
                            let mut p = empty_partition(w.partition, NONE);
                            p.high_watermark = r.high_watermark;
                            p.last_stable_offset = r.high_watermark;
                            p.log_start_offset = r.log_start;
                            p.records = Some(Bytes::from(r.records));
                            p
                        }
                        Err(code) => {
                            any_error = true;
                            let mut p = empty_partition(w.partition, code.code());
                            p.high_watermark = h.high_watermark();
                            p.last_stable_offset = h.high_watermark();
                            p.log_start_offset = h.log_start();
                            p
                        }
                    }
                }
            }
        };
        push(&mut resp, &w.topic, data);
    }
    (resp, total, any_error)
}

/// Adds a partition's answer under its topic (consecutive entries of one
/// topic share a topic entry, as requested).
fn push(resp: &mut FetchResponse, topic: &str, data: PartitionData) {
    let same = resp
        .responses
        .last()
        .is_some_and(|t| t.topic.0.as_str() == topic);
    if !same {
        let mut t = FetchableTopicResponse::default();
        t.topic = kafka_protocol::protocol::StrBytes::from_string(topic.to_string()).into();
        resp.responses.push(t);
    }
    if let Some(t) = resp.responses.last_mut() {
        t.partitions.push(data);
    }
}

/// The request's partitions, each once: a repeated topic-partition keeps
/// its first position and takes its last entry's offset and max bytes.
fn distinct_wants(req: &FetchRequest) -> Vec<Want> {
    let mut wants: Vec<Want> = Vec::new();
    let mut seen: HashMap<(&str, i32), usize> = HashMap::new();
    for t in &req.topics {
        for p in &t.partitions {
            let want = Want {
                topic: t.topic.0.to_string(),
                partition: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as u32,
            };
            match seen.entry((t.topic.0.as_str(), p.partition)) {
                Entry::Occupied(at) => {
                    if let Some(w) = wants.get_mut(*at.get()) {
                        *w = want;
                    }
                }
                Entry::Vacant(v) => {
                    v.insert(wants.len());
                    wants.push(want);
                }
            }
        }
    }
    wants
}

pub async fn handle(broker: &Arc<Broker>, _version: i16, req: FetchRequest) -> FetchResponse {
    let (req_max_bytes, min_bytes, max_wait_ms) = (req.max_bytes, req.min_bytes, req.max_wait_ms);
    let wants = distinct_wants(&req);
    drop(req);
    let cap = broker.config.fetch_max_bytes;
    let max_total = if req_max_bytes <= 0 {
        cap
    } else {
        (req_max_bytes as u32).min(cap)
    };
    let min_bytes = min_bytes.max(0) as usize;
    let wait = Duration::from_millis(max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    loop {
        // Listen before reading, so an append between the read and the wait
        // still wakes us.
        let listeners = listen(broker, &wants);
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
        let shutdown = broker.shutdown_listener();
        if broker.is_shutting_down() {
            return resp;
        }
        wait_for_data(listeners, shutdown, deadline).await;
    }
}

/// Why a long poll's wait ended.
#[derive(Debug, PartialEq, Eq)]
enum Woken {
    /// A wanted partition's high watermark or log start moved.
    Data,
    /// The broker began shutting down.
    Shutdown,
    /// `max_wait_ms` passed.
    Deadline,
}

/// Listeners on the wanted partitions' own change events (each fires when its
/// partition's high watermark or log start moves); taken before the read they
/// guard. Appends to other partitions never wake the poll.
fn listen(broker: &Broker, wants: &[Want]) -> Vec<EventListener> {
    wants
        .iter()
        .filter_map(|w| broker.topic(&w.topic)?.partition(w.partition).ok())
        .map(|h| h.shared.changed.listen())
        .collect()
}

/// Waits until one of `listeners` fires, `shutdown` fires or `deadline` passes.
async fn wait_for_data(
    mut listeners: Vec<EventListener>,
    shutdown: EventListener,
    deadline: Instant,
) -> Woken {
    let any = std::future::poll_fn(|cx| {
        for l in listeners.iter_mut() {
            if Pin::new(l).poll(cx).is_ready() {
                return Poll::Ready(Woken::Data);
            }
        }
        Poll::Pending
    });
    let shutdown = async {
        shutdown.await;
        Woken::Shutdown
    };
    let timer = async {
        smol::Timer::at(deadline).await;
        Woken::Deadline
    };
    smol::future::or(any, smol::future::or(shutdown, timer)).await
}

#[cfg(test)]
mod tests {
    use super::super::metadata::test_support::broker;
    use super::*;
    use crate::storage::batch::build_test_batch;

    fn batch() -> Bytes {
        let mut b = vec![0u8; 1061];
        build_test_batch(&mut b, 1000, 1, 5, 1).unwrap();
        Bytes::from(b)
    }

    fn want(topic: &str) -> Want {
        Want {
            topic: topic.into(),
            partition: 0,
            offset: 0,
            max_bytes: 1 << 20,
        }
    }

    #[test]
    fn a_long_poll_wakes_for_its_own_partition_and_not_for_another() {
        let b = broker("fetch-wake");
        b.create_topic("a", 1, 1, &[], false).unwrap();
        b.create_topic("b", 1, 1, &[], false).unwrap();
        let a = b.topic("a").unwrap().partition(0).unwrap();
        let other = b.topic("b").unwrap().partition(0).unwrap();
        smol::block_on(async {
            // The safety net only: the test never waits for it unless the wake-up is lost.
            let deadline = Instant::now() + Duration::from_secs(60);
            let listeners = listen(&b, &[want("a")]);
            let mut wait = Box::pin(wait_for_data(listeners, b.shutdown_listener(), deadline));
            let seen = other.shared.changed.listen();
            other.append(batch(), true).await.unwrap();
            seen.await;
            smol::future::yield_now().await;
            assert_eq!(
                smol::future::poll_once(&mut wait).await,
                None,
                "an append to another partition woke the poll"
            );
            a.append(batch(), true).await.unwrap();
            assert_eq!(wait.await, Woken::Data);
        });
    }
}
