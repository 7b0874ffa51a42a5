//! One owner task per partition, fed by a bounded channel.
//!
//! The task owns the [`Partition`] (and so its files); handlers send it
//! commands and await replies. It commits in groups: it takes every command
//! already queued, then syncs once if the flush policy says so, then answers
//! every producer that was waiting for that sync. The high watermark, log
//! start and log end are published in [`Shared`] for readers (Metadata,
//! Fetch long polls), with an [`Event`] that fires when they move.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use event_listener::Event;
use smol::channel::{Receiver, Sender, bounded};

use super::broker::Broker;
use crate::log::flush::FlushDecision;
use crate::log::partition::{AppendFailure, Partition};
use crate::protocol::error::ErrorCode;
use crate::storage::{AppendError, BatchError, ReadError};

/// Commands queued per partition before senders wait (backpressure; each
/// append holds its batch, so this also bounds memory).
const QUEUE: usize = 16;
/// How often an idle owner wakes to apply `retention.ms` (Kafka checks every
/// 5 minutes; a check here only reads in-memory slot state).
const RETENTION_CHECK: Duration = Duration::from_secs(1);

/// What readers may see without asking the owner.
#[derive(Default)]
pub struct Shared {
    pub high_watermark: AtomicU64,
    pub log_start: AtomicU64,
    pub log_end: AtomicU64,
    /// Ring use: slots used, bytes written, bytes reserved.
    pub slots_used: AtomicU64,
    pub bytes_used: AtomicU64,
    pub bytes_reserved: AtomicU64,
    pub closed: AtomicBool,
    /// Fires when the high watermark or log start moves.
    pub changed: Event,
}

/// A successful append.
#[derive(Debug, Clone, Copy)]
pub struct AppendOk {
    pub base_offset: i64,
    pub log_start: i64,
}

/// A failed append: the Kafka code and a message.
#[derive(Debug, Clone)]
pub struct AppendFail {
    pub code: ErrorCode,
    pub message: String,
}

/// A read: stored batches and the offsets around them.
#[derive(Debug, Clone)]
pub struct ReadOk {
    pub records: Vec<u8>,
    pub high_watermark: i64,
    pub log_start: i64,
}

enum Cmd {
    Append {
        batch: Vec<u8>,
        wait_for_sync: bool,
        reply: Sender<Result<AppendOk, AppendFail>>,
    },
    Read {
        offset: i64,
        max_bytes: u32,
        reply: Sender<Result<ReadOk, ErrorCode>>,
    },
    OffsetForTime {
        ts: i64,
        reply: Sender<Option<i64>>,
    },
    Close {
        reply: Sender<()>,
    },
}

/// A handle on a partition's owner task.
#[derive(Clone)]
pub struct PartitionHandle {
    tx: Sender<Cmd>,
    pub shared: Arc<Shared>,
}

fn gone() -> AppendFail {
    AppendFail {
        code: ErrorCode::NotLeaderOrFollower,
        message: "partition is closing".into(),
    }
}

impl PartitionHandle {
    /// Appends one batch; with `wait_for_sync`, answers only once the batch is
    /// durable (fsync durability) or at once (replicated durability).
    pub async fn append(
        &self,
        batch: Vec<u8>,
        wait_for_sync: bool,
    ) -> Result<AppendOk, AppendFail> {
        let (reply, rx) = bounded(1);
        self.tx
            .send(Cmd::Append {
                batch,
                wait_for_sync,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        rx.recv().await.map_err(|_| gone())?
    }

    pub async fn read(&self, offset: i64, max_bytes: u32) -> Result<ReadOk, ErrorCode> {
        let (reply, rx) = bounded(1);
        self.tx
            .send(Cmd::Read {
                offset,
                max_bytes,
                reply,
            })
            .await
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?;
        rx.recv()
            .await
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?
    }

    /// First committed offset whose batch has a timestamp ≥ `ts`.
    pub async fn offset_for_time(&self, ts: i64) -> Result<Option<i64>, ErrorCode> {
        let (reply, rx) = bounded(1);
        self.tx
            .send(Cmd::OffsetForTime { ts, reply })
            .await
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?;
        rx.recv().await.map_err(|_| ErrorCode::NotLeaderOrFollower)
    }

    /// Syncs, checkpoints and stops the owner; waits for it.
    pub async fn close(&self) {
        let (reply, rx) = bounded(1);
        if self.tx.send(Cmd::Close { reply }).await.is_ok() {
            let _ = rx.recv().await;
        }
    }

    pub fn high_watermark(&self) -> i64 {
        self.shared.high_watermark.load(Ordering::Acquire) as i64
    }
    pub fn log_start(&self) -> i64 {
        self.shared.log_start.load(Ordering::Acquire) as i64
    }
}

/// Starts the owner task of `part`.
pub fn spawn(part: Partition, broker: Arc<Broker>, topic: &str, index: u32) -> PartitionHandle {
    let (tx, rx) = bounded(QUEUE);
    let shared = Arc::new(Shared::default());
    publish(&part, &shared, &broker);
    let name = format!("{topic}-{index}");
    smol::spawn(owner(
        part,
        rx,
        shared.clone(),
        broker,
        topic.to_string(),
        name,
    ))
    .detach();
    PartitionHandle { tx, shared }
}

fn publish(p: &Partition, s: &Shared, broker: &Broker) {
    let (slots, bytes, reserved) = p.usage();
    s.log_end.store(p.log_end(), Ordering::Release);
    s.slots_used.store(slots as u64, Ordering::Relaxed);
    s.bytes_used.store(bytes, Ordering::Relaxed);
    s.bytes_reserved.store(reserved, Ordering::Relaxed);
    let hw = p.high_watermark();
    let start = p.log_start();
    let hw_moved = s.high_watermark.swap(hw, Ordering::AcqRel) != hw;
    let start_moved = s.log_start.swap(start, Ordering::AcqRel) != start;
    let moved = hw_moved || start_moved;
    if moved {
        s.changed.notify(usize::MAX);
        broker.data_changed.notify(usize::MAX);
    }
}

/// Frees slots past the topic's current `retention.ms`, if it has one.
fn apply_retention(part: &mut Partition, broker: &Broker, topic: &str, name: &str) {
    let retention = broker
        .topic(topic)
        .and_then(|t| t.config.lock().ok().and_then(|c| c.values().retention_ms));
    let Some(retention_ms) = retention else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    match part.apply_retention(now, retention_ms) {
        Ok(0) => {}
        Ok(n) => log::info!(
            "{name}: retention.ms={retention_ms} freed {n} segment(s); log start now {}",
            part.log_start()
        ),
        Err(e) => log::error!("{name}: retention failed: {e}"),
    }
}

fn append_fail(e: AppendFailure, name: &str) -> AppendFail {
    let e = match e {
        AppendFailure::Storage(e) => e,
        AppendFailure::InvalidProducerEpoch { current, got } => {
            return AppendFail {
                code: ErrorCode::InvalidProducerEpoch,
                message: format!("producer epoch {got} is older than {current}"),
            };
        }
        AppendFailure::OutOfOrderSequence { expected, got } => {
            return AppendFail {
                code: ErrorCode::OutOfOrderSequenceNumber,
                message: format!("expected sequence {expected}, got {got}"),
            };
        }
    };
    let (code, message) = match e {
        AppendError::Invalid(BatchError::ChecksumMismatch { stored, computed }) => (
            ErrorCode::CorruptMessage,
            format!("CRC-32C mismatch: batch says {stored:#010x}, bytes give {computed:#010x}"),
        ),
        AppendError::Invalid(b) => (
            ErrorCode::CorruptMessage,
            format!("invalid record batch: {b:?}"),
        ),
        AppendError::TooLarge {
            size,
            segment_bytes,
        } => (
            ErrorCode::MessageTooLarge,
            format!("batch of {size} bytes exceeds segment.bytes {segment_bytes}"),
        ),
        AppendError::RingFull => (
            ErrorCode::KafkaStorageError,
            format!(
                "{name}: ring full (ring.full.policy=reject_new); retry once retention.ms frees the oldest segment"
            ),
        ),
        AppendError::OffsetOverflow => (ErrorCode::InvalidRequest, "offset overflow".into()),
        AppendError::Io(e) => {
            log::error!("{name}: write failed: {e}");
            (ErrorCode::KafkaStorageError, format!("write failed: {e}"))
        }
    };
    AppendFail { code, message }
}

async fn owner(
    mut part: Partition,
    rx: Receiver<Cmd>,
    shared: Arc<Shared>,
    broker: Arc<Broker>,
    topic: String,
    name: String,
) {
    let mut waiting: Vec<(Sender<Result<AppendOk, AppendFail>>, AppendOk)> = Vec::new();
    loop {
        // Wait for work, or until the flush policy's deadline.
        let cmd = match part.flush_decision(broker.now_ms()) {
            FlushDecision::SyncNow => rx.try_recv().ok(),
            FlushDecision::Idle => {
                let next = smol::future::or(async { Some(rx.recv().await) }, async {
                    smol::Timer::after(RETENTION_CHECK).await;
                    None
                })
                .await;
                match next {
                    Some(Ok(c)) => Some(c),
                    Some(Err(_)) => break,
                    None => None,
                }
            }
            FlushDecision::WaitUntil(t) => {
                let wait = Duration::from_millis(t.saturating_sub(broker.now_ms()));
                smol::future::or(async { rx.recv().await.ok() }, async {
                    smol::Timer::after(wait).await;
                    None
                })
                .await
            }
        };
        let mut close = None;
        if let Some(cmd) = cmd {
            // Take what is already queued too: one sync serves them all.
            let mut batch = vec![cmd];
            while batch.len() < QUEUE {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            for cmd in batch {
                match cmd {
                    Cmd::Append {
                        mut batch,
                        wait_for_sync,
                        reply,
                    } => match part.append(&mut batch, broker.now_ms()) {
                        Ok(a) => {
                            let ok = AppendOk {
                                base_offset: a.base_offset as i64,
                                log_start: part.log_start() as i64,
                            };
                            if wait_for_sync && part.high_watermark() <= a.last_offset {
                                waiting.push((reply, ok));
                            } else {
                                let _ = reply.try_send(Ok(ok));
                            }
                        }
                        Err(e) => {
                            let _ = reply.try_send(Err(append_fail(e, &name)));
                        }
                    },
                    Cmd::Read {
                        offset,
                        max_bytes,
                        reply,
                    } => {
                        let r = if offset < 0 {
                            Err(ErrorCode::OffsetOutOfRange)
                        } else {
                            match part.read(offset as u64, max_bytes) {
                                Ok(records) => Ok(ReadOk {
                                    records,
                                    high_watermark: part.high_watermark() as i64,
                                    log_start: part.log_start() as i64,
                                }),
                                Err(ReadError::OffsetOutOfRange { .. }) => {
                                    Err(ErrorCode::OffsetOutOfRange)
                                }
                                Err(ReadError::Io(e)) => {
                                    log::error!("{name}: read failed: {e}");
                                    Err(ErrorCode::KafkaStorageError)
                                }
                            }
                        };
                        let _ = reply.try_send(r);
                    }
                    Cmd::OffsetForTime { ts, reply } => {
                        let r = part.offset_for_time(ts).unwrap_or_else(|e| {
                            log::error!("{name}: time index read failed: {e}");
                            None
                        });
                        let _ = reply.try_send(r.map(|o| o as i64));
                    }
                    Cmd::Close { reply } => close = Some(reply),
                }
            }
        }
        if close.is_some() || part.flush_decision(broker.now_ms()) == FlushDecision::SyncNow {
            // fdatasync can take milliseconds on a card: off the executor.
            let (p, synced) = smol::unblock(move || {
                let r = part.sync();
                (part, r)
            })
            .await;
            part = p;
            if let Err(e) = synced {
                log::error!("{name}: sync failed: {e}");
                for (reply, _) in waiting.drain(..) {
                    let _ = reply.try_send(Err(AppendFail {
                        code: ErrorCode::KafkaStorageError,
                        message: format!("sync failed: {e}"),
                    }));
                }
            }
        }
        // Everyone whose batch is now below the high watermark is answered.
        let hw = part.high_watermark() as i64;
        waiting.retain(|(reply, ok)| {
            if ok.base_offset < hw {
                let _ = reply.try_send(Ok(*ok));
                false
            } else {
                true
            }
        });
        apply_retention(&mut part, &broker, &topic, &name);
        publish(&part, &shared, &broker);
        if let Some(reply) = close {
            shared.closed.store(true, Ordering::Release);
            if let Err(e) = part.close() {
                log::error!("{name}: close failed: {e}");
            }
            shared.changed.notify(usize::MAX);
            let _ = reply.try_send(());
            return;
        }
    }
    let _ = part.close();
}
