//! The producer: partitions records, batches them per partition, sends Produce to leaders.
//!
//! [`Producer::send`] picks the partition (explicit, or the configured
//! partitioner), appends the record to that partition's open batch and returns a
//! [`DeliveryFuture`] at once. A background sender task sends a batch when it
//! reaches `batch.size`, when `linger.ms` has passed, or on [`Producer::flush`]; all
//! ready batches for one leader go in one Produce request, and each leader has at
//! most one request in flight, so each partition has at most one batch in flight.
//! A retriable failure puts the batch back at the head of its queue (after
//! `retry.backoff.ms` and a metadata refresh), so retries never reorder a partition.
//! With idempotence (`enable.idempotence`, on by default with acks=all when the
//! broker offers InitProducerId) each batch carries the producer id, epoch and a
//! per-partition base sequence assigned once, before its first send; then up to
//! `max.in.flight.requests.per.connection` batches per partition are in flight on
//! a pipelined connection, and the broker's sequence check keeps retries in order.
//! Memory is bounded by `buffer.memory` (send waits), time by `delivery.timeout.ms`.
//! The hot path is per batch, not per record: `send` wakes the sender task only
//! when a batch is opened or fills up (linger is the sender's own timer), and the
//! buffers of finished batches are recycled (at most `accumulator::MAX_FREE_BUFFERS`), so a
//! steady stream touches no fresh memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use event_listener::Event;

use super::accumulator::{
    BatchDone, Inner, Pending, SENDER_TICK, State, assign_sequence, lock, refresh_topic,
};
use super::cluster::Cluster;
use super::compression::Compression;
use super::config::ClientConfig;
use super::conn::ClientError;
use super::partitioner;
use super::records::{BatchBuilder, Record};
use super::sender::sender_loop;

/// Where one record ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub partition: i32,
    /// -1 with acks=0 (the broker does not answer).
    pub offset: i64,
    /// When the broker's acknowledgement arrived.
    pub acked_at: Instant,
}

/// Resolves when the record's batch is acknowledged or has failed for good.
pub struct DeliveryFuture {
    done: Arc<BatchDone>,
    index: i64,
}

/// `future.await` works as well as `future.wait().await`.
impl std::future::IntoFuture for DeliveryFuture {
    type Output = Result<DeliveryReport, ClientError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

impl DeliveryFuture {
    /// The outcome if it is known already; never blocks.
    pub fn try_report(&self) -> Option<Result<DeliveryReport, ClientError>> {
        let r = self.done.result.get()?;
        Some(r.clone().map(|(partition, base, acked_at)| DeliveryReport {
            partition,
            offset: if base < 0 { -1 } else { base + self.index },
            acked_at,
        }))
    }

    /// Waits for the outcome of this record.
    pub async fn wait(self) -> Result<DeliveryReport, ClientError> {
        loop {
            if let Some(r) = self.try_report() {
                return r;
            }
            let listener = self.done.event.listen();
            if self.done.result.get().is_none() {
                listener.await;
            }
        }
    }
}

/// A Kafka producer; cheap to share behind `&`.
pub struct Producer {
    inner: Arc<Inner>,
    sender: Option<smol::Task<()>>,
}

impl Producer {
    /// Connects to the bootstrap servers and starts the sender task.
    pub async fn new(config: ClientConfig) -> Result<Producer, ClientError> {
        let partitioner = match config.partitioner.as_str() {
            "default" => partitioner::default_partitioner(),
            name => partitioner::from_name(name).map_err(ClientError::Config)?,
        };
        config.validate()?;
        let mut cluster = Cluster::connect(&config).await?;
        let producer = if config.idempotence() {
            init_producer_id(&mut cluster).await?
        } else {
            None
        };
        let inner = Arc::new(Inner {
            config,
            cluster: smol::lock::Mutex::new(cluster),
            state: Mutex::new(State {
                producer,
                ..State::default()
            }),
            partitioner,
            pipes: smol::lock::Mutex::new(HashMap::new()),
            wake: Event::new(),
            progress: Event::new(),
        });
        let sender = smol::spawn(sender_loop(inner.clone()));
        Ok(Producer {
            inner,
            sender: Some(sender),
        })
    }

    /// The idempotent producer id and epoch, if idempotence is in effect.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        lock(&self.inner.state).producer
    }

    /// Number of partitions of `topic`, from metadata (auto-creating like Kafka's producer).
    pub async fn partitions(&self, topic: &str) -> Result<u32, ClientError> {
        if let Some(n) = lock(&self.inner.state).partition_counts.get(topic) {
            return Ok(*n);
        }
        refresh_topic(&self.inner, topic).await?;
        lock(&self.inner.state)
            .partition_counts
            .get(topic)
            .copied()
            .ok_or_else(|| ClientError::UnknownTopic(topic.to_string()))
    }

    /// Queues `record` for `topic` (and `partition`, or the partitioner's choice).
    pub async fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        record: Record,
    ) -> Result<DeliveryFuture, ClientError> {
        let count = self.partitions(topic).await?;
        let partition = match partition {
            Some(p) if p >= 0 && (p as u32) < count => p,
            Some(p) => {
                return Err(ClientError::Config(format!(
                    "partition {p} of topic '{topic}' does not exist (it has {count} partitions)"
                )));
            }
            None => self
                .inner
                .partitioner
                .partition(topic, record.key.as_deref(), count) as i32,
        };
        let size = record.key.as_ref().map_or(0, |k| k.len())
            + record.value.as_ref().map_or(0, |v| v.len())
            + 32;
        let mut deadline = None;
        loop {
            let listener = {
                let mut st = lock(&self.inner.state);
                if st.closed {
                    return Err(ClientError::Config("producer is closed".into()));
                }
                if st.buffered_bytes == 0
                    || st.buffered_bytes + size <= self.inner.config.buffer_memory
                {
                    st.buffered_bytes += size;
                    let (future, wake) =
                        enqueue(&mut st, &self.inner.config, topic, partition, record, size);
                    drop(st);
                    if wake {
                        self.inner.wake.notify(1);
                    }
                    return Ok(future);
                }
                self.inner.progress.listen()
            };
            let deadline = *deadline
                .get_or_insert_with(|| Instant::now() + self.inner.config.delivery_timeout);
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    addr: String::new(),
                    what: "buffer space".into(),
                });
            }
            self.inner.wake.notify(1);
            smol::future::or(listener, async {
                smol::Timer::after(SENDER_TICK).await;
            })
            .await;
        }
    }

    /// Sends everything queued now and waits until it is acknowledged or failed.
    pub async fn flush(&self) -> Result<(), ClientError> {
        lock(&self.inner.state).flushing += 1;
        self.inner.wake.notify(1);
        let deadline =
            Instant::now() + self.inner.config.delivery_timeout + self.inner.config.request_timeout;
        let result = loop {
            let listener = self.inner.progress.listen();
            if lock(&self.inner.state).idle() {
                break Ok(());
            }
            if Instant::now() >= deadline {
                break Err(ClientError::Timeout {
                    addr: String::new(),
                    what: "flush".into(),
                });
            }
            smol::future::or(listener, async {
                smol::Timer::after(SENDER_TICK).await;
            })
            .await;
        };
        let mut st = lock(&self.inner.state);
        st.flushing = st.flushing.saturating_sub(1);
        result
    }

    /// Flushes, then stops the sender task.
    pub async fn close(mut self) -> Result<(), ClientError> {
        let r = self.flush().await;
        lock(&self.inner.state).closed = true;
        self.inner.wake.notify(1);
        if let Some(task) = self.sender.take() {
            task.await;
        }
        r
    }
}

fn enqueue(
    st: &mut State,
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    record: Record,
    accounted: usize,
) -> (DeliveryFuture, bool) {
    let State {
        queues,
        free_buffers,
        producer,
        next_sequence,
        ..
    } = st;
    let queue = queues.entry((topic.to_string(), partition)).or_default();
    let size = record.key.as_ref().map_or(0, |k| k.len())
        + record.value.as_ref().map_or(0, |v| v.len())
        + record
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 10)
            .sum::<usize>()
        + 24;
    // A record larger than batch.size still gets a batch of its own.
    let fits = |p: &Pending| {
        p.built.is_none()
            && (p.builder.is_empty() || p.builder.estimated_size() + size <= config.batch_size)
    };
    // The sender needs to hear of a new batch (to arm its linger timer) and of a
    // full one (sendable now); the records in between it learns of by itself.
    let mut wake = false;
    if !queue.back().is_some_and(fits) {
        if let Some(full) = queue.back_mut() {
            assign_sequence(
                *producer,
                next_sequence,
                &(topic.to_string(), partition),
                full,
            );
            seal(full);
        }
        let now = Instant::now();
        wake = true;
        let buffer = free_buffers.pop().unwrap_or_default();
        queue.push_back(Pending::open(
            BatchBuilder::with_buffer(config.compression, buffer),
            now,
        ));
    }
    let Some(batch) = queue.back_mut() else {
        unreachable!("a batch was just pushed")
    };
    let index = batch.builder.len() as i64;
    batch.builder.push(record);
    batch.accounted += accounted;
    if batch.builder.estimated_size() >= config.batch_size {
        assign_sequence(
            *producer,
            next_sequence,
            &(topic.to_string(), partition),
            batch,
        );
        seal(batch);
        wake = true;
    }
    (
        DeliveryFuture {
            done: batch.done.clone(),
            index,
        },
        wake,
    )
}

/// Finishes a full uncompressed batch here, on the sending thread, so the sender
/// task's path from one acknowledgement to the next request is shorter; it only
/// fills in the header and CRC. Compressed batches are left to the sender task (a
/// codec must not run under the state lock); so is a batch whose build fails.
fn seal(p: &mut Pending) {
    if p.built.is_none() && p.builder.compression() == Compression::None {
        if let Ok(b) = p.builder.finish() {
            p.built = Some(Bytes::from(b));
        }
    }
}

/// InitProducerId: the producer id and epoch, or `None` when the broker does not
/// offer the API (idempotence is then off, as in Kafka's clients).
async fn init_producer_id(cluster: &mut Cluster) -> Result<Option<(i64, i16)>, ClientError> {
    use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
    let conn = cluster.any_conn().await?;
    let mut c = conn.lock().await;
    if c.version_for(22).is_err() {
        return Ok(None);
    }
    let req = InitProducerIdRequest::default()
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp = c.send(&req).await?;
    if resp.error_code != 0 {
        return Err(ClientError::kafka(resp.error_code, Some("InitProducerId")));
    }
    Ok(Some((resp.producer_id.0, resp.producer_epoch)))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::client::accumulator::sequence_after;

    pub(in crate::client) fn pending(records: usize) -> Pending {
        let mut builder = BatchBuilder::new(Compression::None);
        for _ in 0..records {
            builder.push(Record::default());
        }
        Pending::open(builder, Instant::now())
    }

    #[test]
    fn sequences_advance_by_record_count_per_partition_and_are_assigned_once() {
        let mut next = HashMap::new();
        let (a, b) = (("t".to_string(), 0), ("t".to_string(), 1));
        let mut p1 = pending(3);
        let mut p2 = pending(2);
        let mut q1 = pending(4);
        assign_sequence(Some((7, 1)), &mut next, &a, &mut p1);
        assign_sequence(Some((7, 1)), &mut next, &a, &mut p2);
        assign_sequence(Some((7, 1)), &mut next, &b, &mut q1);
        assert_eq!(
            (p1.sequence, p2.sequence, q1.sequence),
            (Some(0), Some(3), Some(0))
        );
        // A resend keeps its sequence and takes no new one.
        assign_sequence(Some((7, 1)), &mut next, &a, &mut p1);
        assert_eq!((p1.sequence, next.get(&a)), (Some(0), Some(&5)));
        let built = p1.builder.finish().expect("finish");
        assert_eq!(&built[43..57], &[0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0, 0, 0]);
        // Without a producer id nothing is stamped.
        let mut plain = pending(1);
        assign_sequence(None, &mut next, &a, &mut plain);
        assert_eq!(plain.sequence, None);
    }

    #[test]
    fn sequences_wrap_at_i32_max_like_kafka() {
        assert_eq!(sequence_after(0, 5), 5);
        assert_eq!(sequence_after(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(sequence_after(i32::MAX, 1), 0);
        assert_eq!(sequence_after(i32::MAX - 1, 3), 1);
    }
}
