//! The consumer: manual assignment, offsets resolved with ListOffsets, records via Fetch.
//!
//! No consumer groups: [`Consumer::assign`] takes the exact partitions and where to
//! start ([`OffsetSpec`]). [`Consumer::poll`] sends one Fetch per partition leader
//! (concurrently), waits at most `timeout` (the broker long-polls up to
//! `fetch.max.wait.ms`), decodes the batches and advances each position past the
//! records it returns. Records before the position (a batch is returned whole) are
//! dropped. OFFSET_OUT_OF_RANGE resets the position to the log start or end, as
//! Kafka's `auto.offset.reset` would; leader changes trigger a metadata refresh.

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Cluster;
use super::config::ClientConfig;
use super::conn::{ClientError, with_timeout};
use super::records::{ConsumerRecord, decode_batches};

/// Kafka's OFFSET_OUT_OF_RANGE error code.
const OFFSET_OUT_OF_RANGE: i16 = ResponseError::OffsetOutOfRange.code();
/// Cap on one batch's decompressed size (decompression-bomb guard).
const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// Where to start reading a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    At(i64),
    /// The first offset whose timestamp is at or after this (ms since epoch).
    Timestamp(i64),
}

/// A record with the partition it came from.
pub type Polled = (String, i32, ConsumerRecord);

/// A consumer of explicitly assigned partitions.
pub struct Consumer {
    cluster: Cluster,
    config: ClientConfig,
    /// (topic, partition) → next offset to fetch, in assignment order.
    positions: Vec<((String, i32), i64)>,
    high_watermarks: HashMap<(String, i32), i64>,
}

fn name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

impl Consumer {
    /// Connects through the bootstrap servers.
    pub async fn new(config: ClientConfig) -> Result<Consumer, ClientError> {
        let cluster = Cluster::connect(&config).await?;
        Ok(Consumer {
            cluster,
            config,
            positions: Vec::new(),
            high_watermarks: HashMap::new(),
        })
    }

    /// Partition ids of `topic`; `UnknownTopic` if the broker has no such topic.
    pub async fn partitions_for(&mut self, topic: &str) -> Result<Vec<i32>, ClientError> {
        self.cluster.refresh(&[topic.to_string()], false).await?;
        let meta = self
            .cluster
            .topic(topic)
            .ok_or_else(|| ClientError::UnknownTopic(topic.to_string()))?;
        Ok(meta.partitions.iter().map(|p| p.partition).collect())
    }

    /// Replaces the assignment; resolves each start offset.
    pub async fn assign(&mut self, list: &[(String, i32, OffsetSpec)]) -> Result<(), ClientError> {
        let mut topics: Vec<String> = list.iter().map(|(t, _, _)| t.clone()).collect();
        topics.dedup();
        self.cluster.refresh(&topics, false).await?;
        self.positions.clear();
        for (topic, partition, spec) in list {
            let offset = match spec {
                OffsetSpec::At(o) => *o,
                OffsetSpec::Earliest => self.list_offset(topic, *partition, -2).await?,
                OffsetSpec::Latest => self.list_offset(topic, *partition, -1).await?,
                OffsetSpec::Timestamp(ts) => self.list_offset(topic, *partition, *ts).await?,
            };
            self.positions.push(((topic.clone(), *partition), offset));
        }
        Ok(())
    }

    /// The next offset to be fetched for `topic`/`partition`.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.positions
            .iter()
            .find(|((t, p), _)| t == topic && *p == partition)
            .map(|(_, o)| *o)
    }

    /// The high watermark the last fetch reported for `topic`/`partition`.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.high_watermarks
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// ListOffsets for one partition: -2 earliest, -1 latest, else a timestamp.
    /// A timestamp past the last record resolves to the log end (-1 from the broker).
    pub async fn list_offset(
        &mut self,
        topic: &str,
        partition: i32,
        timestamp: i64,
    ) -> Result<i64, ClientError> {
        let leader = self.leader(topic, partition)?;
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![
                        ListOffsetsPartition::default()
                            .with_partition_index(partition)
                            .with_timestamp(timestamp)
                            .with_current_leader_epoch(-1),
                    ]),
            ]);
        let conn = self.cluster.conn(leader).await?;
        let resp = conn.lock().await.send(&req).await?;
        let p = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| ClientError::kafka(-1, Some("no ListOffsets result")))?;
        if p.error_code != 0 {
            return Err(ClientError::kafka(
                p.error_code,
                Some(&format!("{topic}-{partition}")),
            ));
        }
        if p.offset < 0 && timestamp >= 0 {
            return Box::pin(self.list_offset(topic, partition, -1)).await;
        }
        Ok(p.offset)
    }

    fn leader(&self, topic: &str, partition: i32) -> Result<i32, ClientError> {
        if self.cluster.topic(topic).is_none() {
            return Err(ClientError::UnknownTopic(topic.to_string()));
        }
        self.cluster.leader(topic, partition).ok_or_else(|| {
            ClientError::Config(format!(
                "partition {partition} of topic '{topic}' does not exist or has no leader"
            ))
        })
    }

    /// Fetches from every assigned partition; returns what arrived within `timeout`.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<Polled>, ClientError> {
        let mut by_leader: HashMap<i32, Vec<(String, i32, i64)>> = HashMap::new();
        for ((t, p), o) in &self.positions {
            let leader = self.leader(t, *p)?;
            by_leader
                .entry(leader)
                .or_default()
                .push((t.clone(), *p, *o));
        }
        let max_wait = self.config.fetch_max_wait.min(timeout);
        let mut tasks = Vec::new();
        for (leader, parts) in by_leader {
            let conn = self.cluster.conn(leader).await?;
            let req = self.fetch_request(&parts, max_wait);
            let limit = timeout + self.config.request_timeout;
            tasks.push((
                leader,
                smol::spawn(async move {
                    let addr = conn.lock().await.addr().to_string();
                    with_timeout(&addr, "fetch", limit, async {
                        conn.lock().await.send(&req).await
                    })
                    .await
                }),
            ));
        }
        let mut out = Vec::new();
        let mut refresh = false;
        for (leader, task) in tasks {
            let resp = match task.await {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    self.cluster.drop_conn(leader);
                    refresh = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if resp.error_code != 0 {
                return Err(ClientError::kafka(resp.error_code, Some("fetch")));
            }
            for t in resp.responses {
                let topic = t.topic.0.to_string();
                for p in t.partitions {
                    let key = (topic.clone(), p.partition_index);
                    match p.error_code {
                        0 => {}
                        OFFSET_OUT_OF_RANGE => {
                            let reset = self.list_offset(&topic, p.partition_index, -2).await?;
                            self.set_position(&key, reset);
                            continue;
                        }
                        code => {
                            let e = ClientError::kafka(
                                code,
                                Some(&format!("{topic}-{}", p.partition_index)),
                            );
                            if e.is_retriable() {
                                refresh = true;
                                continue;
                            }
                            return Err(e);
                        }
                    }
                    self.high_watermarks.insert(key.clone(), p.high_watermark);
                    let Some(bytes) = p.records else { continue };
                    let position = self.position(&topic, p.partition_index).unwrap_or(0);
                    let records = decode_batches(&bytes, MAX_DECOMPRESSED).map_err(|e| {
                        ClientError::kafka(-1, Some(&format!("{topic}-{}: {e}", p.partition_index)))
                    })?;
                    let mut next = position;
                    for r in records {
                        if r.offset >= next {
                            next = r.offset + 1;
                            out.push((topic.clone(), p.partition_index, r));
                        }
                    }
                    // Past whole batches with no records too (a gap the broker cannot serve,
                    // a batch compaction emptied), as Kafka's consumers do.
                    next = next.max(end_of_batches(&bytes).unwrap_or(next));
                    self.set_position(&key, next);
                }
            }
        }
        if refresh {
            let mut topics: Vec<String> =
                self.positions.iter().map(|((t, _), _)| t.clone()).collect();
            topics.dedup();
            self.cluster.refresh(&topics, false).await?;
            smol::Timer::after(self.config.retry_backoff).await;
        }
        Ok(out)
    }

    fn set_position(&mut self, key: &(String, i32), offset: i64) {
        if let Some(slot) = self.positions.iter_mut().find(|(k, _)| k == key) {
            slot.1 = offset;
        }
    }

    fn fetch_request(&self, parts: &[(String, i32, i64)], max_wait: Duration) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (t, p, o) in parts {
            let fp = FetchPartition::default()
                .with_partition(*p)
                .with_fetch_offset(*o)
                .with_current_leader_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(self.config.max_partition_fetch_bytes);
            match topics.iter_mut().find(|x| x.topic.0.as_str() == t) {
                Some(x) => x.partitions.push(fp),
                None => topics.push(
                    FetchTopic::default()
                        .with_topic(name(t))
                        .with_partitions(vec![fp]),
                ),
            }
        }
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait.as_millis().min(i32::MAX as u128) as i32)
            .with_min_bytes(self.config.fetch_min_bytes)
            .with_max_bytes(self.config.fetch_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics)
    }
}

/// The offset after the last whole v2 batch in `bytes` (its base offset plus
/// lastOffsetDelta plus 1), if any whole batch is there.
fn end_of_batches(mut bytes: &[u8]) -> Option<i64> {
    const HEADER: usize = 61;
    let mut end = None;
    while let Some(h) = bytes.get(..HEADER) {
        let base = i64::from_be_bytes(h.get(0..8)?.try_into().ok()?);
        let len = i32::from_be_bytes(h.get(8..12)?.try_into().ok()?);
        let total = usize::try_from(len).ok()?.checked_add(12)?;
        let delta = i32::from_be_bytes(h.get(23..27)?.try_into().ok()?);
        if total < HEADER || bytes.len() < total || h.get(16) != Some(&2) {
            break;
        }
        end = Some(base.saturating_add(i64::from(delta)).saturating_add(1));
        bytes = bytes.get(total..)?;
    }
    end
}
