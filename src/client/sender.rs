//! The producer's sender task: picks ready batches, sends one Produce per leader, settles results.
//!
//! Owns the rules that keep a partition ordered: a batch is taken only from the head
//! of its partition queue. Without idempotence, only when no batch of that partition
//! and no request to its leader is in flight; a retriable failure puts the batch
//! back at the head. With idempotence, up to `max.in.flight` batches per partition
//! and requests per leader, written in order on one pipelined connection; failed
//! batches go back in sequence order and a resent batch waits until nothing of its
//! partition is in flight, so a retry never overtakes or splits the sequence.
//! Success, final failure and retry all notify the producer's `progress` event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::accumulator::{
    Inner, MAX_FREE_BUFFERS, Pending, SENDER_TICK, State, assign_sequence, lock, refresh_topic,
};
use super::conn::ClientError;
use super::pipeline::Pipe;

/// Kafka error codes the idempotent producer treats specially.
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = ResponseError::OutOfOrderSequenceNumber.code();
const DUPLICATE_SEQUENCE_NUMBER: i16 = ResponseError::DuplicateSequenceNumber.code();

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
    let limit = if st.producer.is_some() {
        inner.config.max_in_flight
    } else {
        1
    };
    let mut expired_bytes = 0usize;
    let keys: Vec<(String, i32)> = st
        .queues
        .iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        let partition_in_flight = st.in_flight_partitions.get(&key).copied().unwrap_or(0);
        if partition_in_flight >= limit {
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
        if st.in_flight_brokers.get(&leader).copied().unwrap_or(0) >= limit {
            continue;
        }
        let Some(q) = st.queues.get_mut(&key) else {
            continue;
        };
        let Some(head) = q.front() else { continue };
        if head.attempts > 0 && partition_in_flight > 0 {
            continue; // a resend waits for the batches still out (see module doc)
        }
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
        if let Some(mut p) = q.pop_front() {
            assign_sequence(st.producer, &mut st.next_sequence, &key, &mut p);
            out.entry(leader).or_default().push((key, p));
        }
    }
    st.buffered_bytes = st.buffered_bytes.saturating_sub(expired_bytes);
    for (broker, batches) in &out {
        *st.in_flight_brokers.entry(*broker).or_default() += 1;
        for (k, _) in batches {
            *st.in_flight_partitions.entry(k.clone()).or_default() += 1;
        }
    }
    (out, next)
}

pub(super) async fn sender_loop(inner: Arc<Inner>) {
    loop {
        let listener = inner.wake.listen();
        let now = Instant::now();
        let (ready, next, pipelined) = {
            let mut st = lock(&inner.state);
            if st.closed && st.idle() {
                return;
            }
            let (ready, next) = take_ready(&inner, &mut st, now);
            (ready, next, st.producer.is_some())
        };
        let more = pipelined && !ready.is_empty();
        for (broker, batches) in ready {
            if pipelined {
                write_pipelined(&inner, broker, batches).await;
            } else {
                smol::spawn(send_to_broker(inner.clone(), broker, batches)).detach();
            }
        }
        if more {
            continue; // more batches of the same partitions may be sendable now
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

/// Finishes unsealed batches; a batch that cannot be encoded fails here.
fn finish_all(batches: &mut Ready) {
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
}

async fn send_to_broker(inner: Arc<Inner>, broker: i32, mut batches: Ready) {
    let now = Instant::now();
    finish_all(&mut batches);
    let result = produce(&inner, broker, &batches).await;
    settle(inner, broker, batches, result, now, false).await;
}

/// Idempotent mode: writes one request on the broker's pipe now (so requests leave
/// in the order their sequences were taken), then awaits the answer in a task.
async fn write_pipelined(inner: &Arc<Inner>, broker: i32, mut batches: Ready) {
    let now = Instant::now();
    finish_all(&mut batches);
    let req = request(inner, &batches);
    let written = match pipe(inner, broker).await {
        Ok(pipe) => pipe.write(&req).await.map(|t| (pipe, t)),
        Err(e) => Err(e),
    };
    drop(req); // its batch clones: a finished batch's buffer is recycled when unshared
    let inner = inner.clone();
    smol::spawn(async move {
        let result = match written {
            Ok((pipe, ticket)) => match pipe.response(ticket).await {
                Ok(resp) => Ok(results(&resp, &batches, "")),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        settle(inner, broker, batches, result, now, true).await;
    })
    .detach();
}

/// The broker's pipe, opened (or reopened after an error) on demand.
async fn pipe(inner: &Inner, broker: i32) -> Result<Arc<Pipe>, ClientError> {
    let mut pipes = inner.pipes.lock().await;
    if let Some(p) = pipes.get(&broker).filter(|p| !p.is_broken()) {
        return Ok(p.clone());
    }
    let addr = inner.cluster.lock().await.brokers().get(&broker).cloned();
    let addr = addr.ok_or_else(|| ClientError::Io {
        addr: format!("broker {broker}"),
        message: "not in the metadata".into(),
    })?;
    let p = Arc::new(
        Pipe::connect(&addr, &inner.config.client_id, inner.config.request_timeout).await?,
    );
    pipes.insert(broker, p.clone());
    Ok(p)
}

/// Completes, fails or requeues each batch of one request.
async fn settle(
    inner: Arc<Inner>,
    broker: i32,
    batches: Ready,
    result: Result<Vec<Result<i64, ClientError>>, ClientError>,
    now: Instant,
    idempotent: bool,
) {
    let mut outcome: Vec<Result<(i64, Instant), ClientError>> = Vec::new();
    let mut bytes_done = 0usize;
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
                // With idempotence, a gap means an earlier batch is being resent.
                let gap = idempotent
                    && matches!(e, ClientError::Kafka { code, .. } if code == OUT_OF_ORDER_SEQUENCE_NUMBER);
                if (e.is_retriable() || gap) && p.attempts <= inner.config.retries && !expired {
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
        if idempotent {
            let mut pipes = inner.pipes.lock().await;
            if pipes.get(&broker).is_some_and(|p| p.is_broken()) {
                pipes.remove(&broker);
            }
        }
        for t in &refresh {
            // A failed refresh is retried by the next failed attempt.
            let _ = refresh_topic(&inner, t).await;
        }
    }
    {
        let mut st = lock(&inner.state);
        release(&mut st.in_flight_brokers, &broker);
        for key in &keys {
            release(&mut st.in_flight_partitions, key);
        }
        for (key, p) in requeue {
            requeue_in_order(st.queues.entry(key).or_default(), p);
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

fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// Whether sequence `a` comes after `b`. Sequences wrap from i32::MAX to 0, so
/// "after" is circular: `a` is after `b` when it is less than half the space
/// (2^30) ahead; batches in flight are at most a few thousand records apart.
fn seq_after(a: i32, b: i32) -> bool {
    let d = (a as i64 - b as i64).rem_euclid(1 << 31);
    d != 0 && d < (1 << 30)
}

/// Puts a failed batch back before every batch with a later (or no) sequence, so
/// resends go out in sequence order; without sequences this is the queue's head.
fn requeue_in_order(q: &mut std::collections::VecDeque<Pending>, p: Pending) {
    let at = q
        .iter()
        .position(|x| match (x.sequence, p.sequence) {
            (Some(a), Some(b)) => seq_after(a, b),
            _ => true,
        })
        .unwrap_or(q.len());
    q.insert(at, p);
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
    let req = request(inner, batches);
    let conn = inner.cluster.lock().await.conn(broker).await?;
    let mut c = conn.lock().await;
    let Some(resp) = c.send_produce(&req).await? else {
        return Ok(batches.iter().map(|_| Ok(-1)).collect()); // acks=0
    };
    Ok(results(&resp, batches, c.addr()))
}

/// One Produce request carrying `batches`.
fn request(inner: &Inner, batches: &Ready) -> ProduceRequest {
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
    ProduceRequest::default()
        .with_acks(inner.config.acks)
        .with_timeout_ms(
            inner
                .config
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
        )
        .with_topic_data(topics)
}

/// Per batch, its base offset or error; a duplicate (an idempotent resend the
/// broker already has) counts as success.
fn results(resp: &ProduceResponse, batches: &Ready, addr: &str) -> Vec<Result<i64, ClientError>> {
    batches
        .iter()
        .map(|((topic, partition), _)| {
            let r = resp
                .responses
                .iter()
                .filter(|t| t.name.0.as_str() == topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == *partition);
            match r {
                Some(p) if p.error_code == 0 || p.error_code == DUPLICATE_SEQUENCE_NUMBER => {
                    Ok(p.base_offset)
                }
                Some(p) => Err(ClientError::kafka(
                    p.error_code,
                    p.error_message.as_ref().map(|m| m.as_str()),
                )),
                None => Err(ClientError::Protocol {
                    addr: addr.to_string(),
                    message: format!("no produce result for {topic}-{partition}"),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::accumulator::Pending;
    use super::requeue_in_order;

    fn with_seq(seq: Option<i32>) -> Pending {
        let mut p = super::super::producer::tests::pending(1);
        p.sequence = seq;
        p
    }

    /// Batches k+1.. that failed after k come back in any order; they must be
    /// resent by sequence, ahead of batches that have none yet.
    #[test]
    fn failed_batches_are_requeued_in_sequence_order() {
        let mut q = std::collections::VecDeque::new();
        q.push_back(with_seq(None));
        for s in [20, 0, 10] {
            requeue_in_order(&mut q, with_seq(Some(s)));
        }
        let order: Vec<Option<i32>> = q.iter().map(|p| p.sequence).collect();
        assert_eq!(order, vec![Some(0), Some(10), Some(20), None]);
        // Across the wrap from i32::MAX to 0, order is circular.
        let mut q = std::collections::VecDeque::new();
        for s in [3, i32::MAX - 5, 0] {
            requeue_in_order(&mut q, with_seq(Some(s)));
        }
        let order: Vec<Option<i32>> = q.iter().map(|p| p.sequence).collect();
        assert_eq!(order, vec![Some(i32::MAX - 5), Some(0), Some(3)]);
        // Without idempotence a failed batch goes back to the head.
        let mut q = std::collections::VecDeque::new();
        q.push_back(with_seq(None));
        let mut retry = with_seq(None);
        retry.attempts = 1;
        requeue_in_order(&mut q, retry);
        assert_eq!(q.front().map(|p| p.attempts), Some(1));
    }

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
