//! The producer's sender task: picks ready batches, sends one Produce per leader, settles results.
//!
//! Owns the rules that keep a partition ordered: a batch is taken only from the head
//! of its partition queue, only when no batch of that partition and no request to
//! its leader is in flight; a retriable failure puts the batch back at the head.
//! Success, final failure and retry all notify the producer's `progress` event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::conn::ClientError;
use super::producer::{Inner, MAX_FREE_BUFFERS, Pending, SENDER_TICK, State, lock, refresh_topic};

type Ready = Vec<((String, i32), Pending)>;

/// Takes the sendable head batches, grouped by leader; returns them and the next linger deadline.
fn take_ready(
    inner: &Inner,
    st: &mut State,
    now: Instant,
) -> (HashMap<i32, Ready>, Option<Instant>) {
    let mut out: HashMap<i32, Ready> = HashMap::new();
    let mut next: Option<Instant> = None;
    let hurry = st.flushing > 0 || st.closed;
    let mut expired_bytes = 0usize;
    let keys: Vec<(String, i32)> = st
        .queues
        .iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        if st.in_flight_partitions.contains(&key) {
            continue;
        }
        let leader = st.leaders.get(&key).copied().unwrap_or(-1);
        let Some(q) = st.queues.get_mut(&key) else {
            continue;
        };
        if leader < 0 {
            // No leader known: fail batches that have waited past the delivery timeout.
            while q
                .front()
                .is_some_and(|p| now.duration_since(p.created) >= inner.config.delivery_timeout)
            {
                if let Some(p) = q.pop_front() {
                    expired_bytes += p.accounted;
                    p.done.complete(Err(ClientError::Timeout {
                        addr: String::new(),
                        what: format!("a leader for {}-{}", key.0, key.1),
                    }));
                }
            }
            continue;
        }
        if st.in_flight_brokers.contains(&leader) {
            continue;
        }
        let Some(q) = st.queues.get_mut(&key) else {
            continue;
        };
        let Some(head) = q.front() else { continue };
        let due = head.created + inner.config.linger;
        let ready = head.not_before <= now
            && (hurry
                || head.built.is_some() // sealed full (or a retry)
                || q.len() > 1
                || head.builder.estimated_size() >= inner.config.batch_size
                || due <= now);
        if !ready {
            let at = if head.not_before > now {
                head.not_before
            } else {
                due
            };
            next = Some(next.map_or(at, |n| n.min(at)));
            continue;
        }
        if let Some(p) = q.pop_front() {
            out.entry(leader).or_default().push((key, p));
        }
    }
    st.buffered_bytes = st.buffered_bytes.saturating_sub(expired_bytes);
    for (broker, batches) in &out {
        st.in_flight_brokers.insert(*broker);
        for (k, _) in batches {
            st.in_flight_partitions.insert(k.clone());
        }
    }
    (out, next)
}

pub(super) async fn sender_loop(inner: Arc<Inner>) {
    loop {
        let listener = inner.wake.listen();
        let now = Instant::now();
        let (ready, next) = {
            let mut st = lock(&inner.state);
            if st.closed && st.idle() {
                return;
            }
            take_ready(&inner, &mut st, now)
        };
        for (broker, batches) in ready {
            smol::spawn(send_to_broker(inner.clone(), broker, batches)).detach();
        }
        let wait = next.map_or(SENDER_TICK, |n| {
            n.saturating_duration_since(Instant::now()).min(SENDER_TICK)
        });
        smol::future::or(listener, async {
            smol::Timer::after(wait).await;
        })
        .await;
    }
}

async fn send_to_broker(inner: Arc<Inner>, broker: i32, mut batches: Ready) {
    let now = Instant::now();
    let mut outcome: Vec<Result<(i64, Instant), ClientError>> = Vec::new();
    let mut bytes_done = 0usize;
    for (_, p) in batches.iter_mut() {
        if p.built.is_none() {
            match p.builder.finish() {
                Ok(b) => p.built = Some(Bytes::from(b)),
                Err(e) => p.done.complete(Err(ClientError::Config(format!(
                    "cannot encode batch: {e}"
                )))),
            }
        }
    }
    batches.retain(|(_, p)| p.built.is_some());
    let result = produce(&inner, broker, &batches).await;
    let acked_at = Instant::now();
    match result {
        Ok(per_partition) => {
            outcome.extend(per_partition.into_iter().map(|r| r.map(|o| (o, acked_at))))
        }
        Err(e) => outcome.extend(batches.iter().map(|_| Err(e.clone()))),
    }
    let keys: Vec<(String, i32)> = batches.iter().map(|(k, _)| k.clone()).collect();
    let mut refresh: Vec<String> = Vec::new();
    let mut requeue = Vec::new();
    let mut recycled: Vec<Vec<u8>> = Vec::new();
    for ((key, mut p), r) in batches.into_iter().zip(outcome) {
        match r {
            Ok((offset, at)) => {
                bytes_done += p.accounted;
                p.done.complete(Ok((key.1, offset, at)));
                recycled.extend(reusable(&inner, p));
            }
            Err(e) => {
                p.attempts += 1;
                let expired = now.duration_since(p.created) >= inner.config.delivery_timeout;
                if e.is_retriable() && p.attempts <= inner.config.retries && !expired {
                    p.not_before = Instant::now() + inner.config.retry_backoff;
                    if !refresh.contains(&key.0) {
                        refresh.push(key.0.clone());
                    }
                    requeue.push((key, p));
                } else {
                    bytes_done += p.accounted;
                    p.done.complete(Err(e));
                    recycled.extend(reusable(&inner, p));
                }
            }
        }
    }
    if !refresh.is_empty() {
        inner.cluster.lock().await.drop_conn(broker);
        for t in &refresh {
            // A failed refresh is retried by the next failed attempt.
            let _ = refresh_topic(&inner, t).await;
        }
    }
    {
        let mut st = lock(&inner.state);
        st.in_flight_brokers.remove(&broker);
        for key in &keys {
            st.in_flight_partitions.remove(key);
        }
        for (key, p) in requeue {
            st.queues.entry(key).or_default().push_front(p);
        }
        st.buffered_bytes = st.buffered_bytes.saturating_sub(bytes_done);
        for b in recycled {
            if st.free_buffers.len() < MAX_FREE_BUFFERS {
                st.free_buffers.push(b);
            }
        }
    }
    inner.wake.notify(1);
    inner.progress.notify(usize::MAX);
}

/// The allocation of a finished batch, if it is worth keeping for a new one:
/// no other owner left (the request was dropped) and not far above `batch.size`.
fn reusable(inner: &Inner, mut p: Pending) -> Option<Vec<u8>> {
    let built = p.built.take()?;
    let buf = Vec::from(built.try_into_mut().ok()?);
    (buf.capacity() <= 2 * inner.config.batch_size + 4096).then_some(buf)
}

/// One Produce request to `broker`; per batch the base offset or the error.
async fn produce(
    inner: &Inner,
    broker: i32,
    batches: &Ready,
) -> Result<Vec<Result<i64, ClientError>>, ClientError> {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for ((topic, partition), p) in batches {
        let data = PartitionProduceData::default()
            .with_index(*partition)
            .with_records(p.built.clone());
        match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partition_data(vec![data]),
            ),
        }
    }
    let req = ProduceRequest::default()
        .with_acks(inner.config.acks)
        .with_timeout_ms(
            inner
                .config
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
        )
        .with_topic_data(topics);
    let conn = inner.cluster.lock().await.conn(broker).await?;
    let mut c = conn.lock().await;
    let Some(resp) = c.send_produce(&req).await? else {
        return Ok(batches.iter().map(|_| Ok(-1)).collect()); // acks=0
    };
    Ok(batches
        .iter()
        .map(|((topic, partition), _)| {
            let r = resp
                .responses
                .iter()
                .filter(|t| t.name.0.as_str() == topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == *partition);
            match r {
                Some(p) if p.error_code == 0 => Ok(p.base_offset),
                Some(p) => Err(ClientError::kafka(
                    p.error_code,
                    p.error_message.as_ref().map(|m| m.as_str()),
                )),
                None => Err(ClientError::Protocol {
                    addr: c.addr().to_string(),
                    message: format!("no produce result for {topic}-{partition}"),
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    /// `reusable` relies on this: a finished batch's `Bytes`, once the request
    /// holding a clone is gone, gives back the very allocation it was built in.
    #[test]
    fn a_sent_batch_returns_its_allocation_for_reuse() {
        let mut v = Vec::with_capacity(1 << 20);
        v.extend_from_slice(&[7; 1000]);
        let ptr = v.as_ptr();
        let built = Bytes::from(v);
        let in_request = built.clone();
        let built = built
            .try_into_mut()
            .expect_err("shared while the request lives");
        drop(in_request);
        let back = Vec::from(built.try_into_mut().expect("unique after the request"));
        assert_eq!((back.as_ptr(), back.capacity()), (ptr, 1 << 20));
    }
}
