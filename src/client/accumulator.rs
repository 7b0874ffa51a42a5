//! The producer's shared state: per-partition queues of open and ready
//! batches, what is in flight, the idempotent producer's sequences, and the
//! metadata the sender routes by. `producer.rs` (the public API) fills it,
//! `sender.rs` (the background task) drains it; both use only this module,
//! so neither imports the other's internals.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_listener::Event;

use super::cluster::Cluster;
use super::config::ClientConfig;
use super::conn::ClientError;
use super::partitioner::Partitioner;
use super::pipeline::Pipe;
use super::records::BatchBuilder;

/// Shared completion slot of one batch.
pub(super) struct BatchDone {
    pub(super) result: OnceLock<Result<(i32, i64, Instant), ClientError>>,
    pub(super) event: Event,
}

impl BatchDone {
    pub(super) fn complete(&self, r: Result<(i32, i64, Instant), ClientError>) {
        let _ = self.result.set(r);
        self.event.notify(usize::MAX);
    }
}

pub(super) struct Pending {
    pub(super) builder: BatchBuilder,
    pub(super) built: Option<Bytes>,
    pub(super) done: Arc<BatchDone>,
    pub(super) created: Instant,
    pub(super) attempts: u32,
    pub(super) not_before: Instant,
    /// Idempotent base sequence, fixed before the first send.
    pub(super) sequence: Option<i32>,
    /// Bytes of `buffer.memory` this batch holds (released when it completes).
    pub(super) accounted: usize,
}

impl Pending {
    /// A batch that starts filling at `now`, not yet sent.
    pub(super) fn open(builder: BatchBuilder, now: Instant) -> Self {
        Pending {
            builder,
            built: None,
            done: Arc::new(BatchDone {
                result: OnceLock::new(),
                event: Event::new(),
            }),
            created: now,
            attempts: 0,
            not_before: now,
            sequence: None,
            accounted: 0,
        }
    }
}

/// Buffers of finished batches kept for new ones (each about `batch.size`).
pub(super) const MAX_FREE_BUFFERS: usize = 4;

#[derive(Default)]
pub(super) struct State {
    pub(super) queues: HashMap<(String, i32), VecDeque<Pending>>,
    /// Batches in flight per partition (at most 1, or max.in.flight when idempotent).
    pub(super) in_flight_partitions: HashMap<(String, i32), usize>,
    /// Requests in flight per broker (same bound).
    pub(super) in_flight_brokers: HashMap<i32, usize>,
    /// Idempotent producer id and epoch, from InitProducerId.
    pub(super) producer: Option<(i64, i16)>,
    /// Next base sequence per partition (idempotent only).
    pub(super) next_sequence: HashMap<(String, i32), i32>,
    pub(super) partition_counts: HashMap<String, u32>,
    pub(super) leaders: HashMap<(String, i32), i32>,
    pub(super) buffered_bytes: usize,
    /// Recycled batch buffers, at most [`MAX_FREE_BUFFERS`].
    pub(super) free_buffers: Vec<Vec<u8>>,
    pub(super) flushing: usize,
    pub(super) closed: bool,
}

impl State {
    pub(super) fn idle(&self) -> bool {
        self.queues.values().all(|q| q.is_empty()) && self.in_flight_brokers.is_empty()
    }
}

pub(super) struct Inner {
    pub(super) config: ClientConfig,
    pub(super) cluster: smol::lock::Mutex<Cluster>,
    pub(super) state: Mutex<State>,
    pub(super) partitioner: Box<dyn Partitioner>,
    /// Pipelined Produce connections per broker (idempotent mode only).
    pub(super) pipes: smol::lock::Mutex<HashMap<i32, Arc<Pipe>>>,
    /// Wakes the sender task.
    pub(super) wake: Event,
    /// Signals progress: buffer space freed, a batch completed.
    pub(super) progress: Event,
}

pub(super) fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Upper bound on one sender wait, so a missed wake-up costs at most this.
pub(super) const SENDER_TICK: Duration = Duration::from_millis(50);

/// Gives `p` its partition's next base sequence, once: a sequence is never
/// changed, so a resent batch is recognised by the broker as a duplicate.
pub(super) fn assign_sequence(
    producer: Option<(i64, i16)>,
    next: &mut HashMap<(String, i32), i32>,
    key: &(String, i32),
    p: &mut Pending,
) {
    let Some((id, epoch)) = producer else { return };
    if p.sequence.is_some() || p.built.is_some() {
        return;
    }
    let seq = next.entry(key.clone()).or_insert(0);
    p.builder.set_producer(id, epoch, *seq);
    p.sequence = Some(*seq);
    *seq = sequence_after(*seq, p.builder.len());
}

/// The sequence after `count` records from `seq`; Kafka wraps at i32::MAX to 0.
pub(super) fn sequence_after(seq: i32, count: usize) -> i32 {
    ((i64::from(seq) + count as i64) % (i64::from(i32::MAX) + 1)) as i32
}

/// Re-reads metadata for `topic` (auto-creating it), retrying while leaders are being elected.
pub(super) async fn refresh_topic(inner: &Inner, topic: &str) -> Result<(), ClientError> {
    let deadline = Instant::now() + inner.config.request_timeout;
    let mut cluster = inner.cluster.lock().await;
    loop {
        let r = cluster.refresh(&[topic.to_string()], true).await;
        let complete = cluster.topic(topic).is_some_and(|t| {
            !t.partitions.is_empty() && t.partitions.iter().all(|p| p.leader >= 0)
        });
        match r {
            Ok(()) if complete => break,
            Err(e) if !e.is_retriable() => return Err(e),
            _ if Instant::now() >= deadline => {
                return Err(ClientError::Timeout {
                    addr: String::new(),
                    what: format!("leaders of topic '{topic}'"),
                });
            }
            _ => {
                smol::Timer::after(inner.config.retry_backoff.max(Duration::from_millis(10))).await
            }
        };
    }
    let Some(meta) = cluster.topic(topic) else {
        return Err(ClientError::UnknownTopic(topic.to_string()));
    };
    let mut st = lock(&inner.state);
    st.partition_counts
        .insert(topic.to_string(), meta.partitions.len() as u32);
    for p in &meta.partitions {
        st.leaders
            .insert((topic.to_string(), p.partition), p.leader);
    }
    Ok(())
}
