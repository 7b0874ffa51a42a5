//! One owner task per partition: the async shell around
//! [`PartitionCore`] (the policy) and [`Partition`] (the files).
//!
//! Handlers send commands through a bounded channel and await replies. Each
//! round the owner takes every command already queued, asks the core what
//! to do, and runs the file work as one job on a file-I/O worker
//! ([`super::rt::io`]), never on an executor thread. A sync runs as its own
//! job on a second handle of the active slot's file, so the next round's
//! appends go on while it runs: group commit without a stall. The owner holds
//! no reference to the broker: it gets its topic's values at spawn and live
//! changes through [`PartitionHandle::reconfigure`]. It wakes only for a
//! command, a finished sync, a config change or the core's next deadline
//! (a flush window or a retention expiry); an idle partition sleeps.
//!
//! This is also the one place where the log layer's typed errors become
//! Kafka error codes for produce and fetch.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_listener::Event;
use smol::Task;
use smol::channel::{Receiver, Sender, bounded};

use super::log_limit::{self, Kind};
use super::rt;
use crate::log::partition::{AppendFailure, AppendOutcome, Partition};
use crate::log::partition_core::{
    Action, CoreConfig, Now, PartitionCore, ProduceError, ReqId, Written,
};
use crate::log::topic_config::TopicValues;
use crate::protocol::error::ErrorCode;
use crate::storage::{AppendError, BatchError, ReadError};

/// Commands queued per partition before senders wait (backpressure; each
/// append holds its batch, so this also bounds memory).
const QUEUE: usize = 16;

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
    /// A sync failed: the partition refuses everything until restart.
    pub offline: AtomicBool,
    /// Fires when the high watermark or log start moves.
    pub changed: Event,
    /// The newest topic values not yet applied by the owner.
    config: Mutex<Option<TopicValues>>,
    config_changed: Event,
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

type AppendReply = Sender<Result<AppendOk, AppendFail>>;

enum Cmd {
    Append {
        batch: Bytes,
        wait_for_sync: bool,
        reply: AppendReply,
    },
    Read {
        offset: i64,
        max_bytes: u32,
        reply: Sender<Result<ReadOk, ErrorCode>>,
    },
    OffsetForTime {
        ts: i64,
        reply: Sender<Result<Option<i64>, ErrorCode>>,
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
    pub async fn append(&self, batch: Bytes, wait_for_sync: bool) -> Result<AppendOk, AppendFail> {
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
        rx.recv()
            .await
            .map_err(|_| ErrorCode::NotLeaderOrFollower)?
    }

    /// Applies changed topic values (durability, flush.*, retention.ms,
    /// ring.full.policy) to the running partition. Never waits.
    pub fn reconfigure(&self, values: &TopicValues) {
        if let Ok(mut c) = self.shared.config.lock() {
            *c = Some(values.clone());
        }
        self.shared.config_changed.notify(usize::MAX);
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

/// Starts the owner task of `part`. Its `shared.changed` event fires
/// whenever its high watermark or log start moves.
pub fn spawn(part: Partition, values: &TopicValues, name: String) -> PartitionHandle {
    let (tx, rx) = bounded(QUEUE);
    let shared = Arc::new(Shared::default());
    let core = PartitionCore::new(values.into(), part.log_start(), part.log_end());
    let mut owner = Owner {
        core,
        part: Some(part),
        shared: shared.clone(),
        name,
        started: Instant::now(),
        next_id: 0,
        waiting: HashMap::new(),
    };
    owner.publish();
    rt::spawn(owner.run(rx)).detach();
    PartitionHandle { tx, shared }
}

/// The log layer's refusal of a batch, as Kafka says it.
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
            log_limit::log(
                Kind::StorageIo,
                log::Level::Error,
                format_args!("{name}: write failed: {e}"),
            );
            (ErrorCode::KafkaStorageError, format!("write failed: {e}"))
        }
    };
    AppendFail { code, message }
}

fn core_fail(e: ProduceError) -> AppendFail {
    match e {
        ProduceError::Offline { reason } => AppendFail {
            code: ErrorCode::KafkaStorageError,
            message: format!("partition offline after a failed sync: {reason}"),
        },
    }
}

/// File work of one round, run in order on an I/O worker.
enum Job {
    Write {
        id: ReqId,
        batch: Bytes,
    },
    Read {
        offset: i64,
        max_bytes: u32,
        upto: u64,
        reply: Sender<Result<ReadOk, ErrorCode>>,
    },
    OffsetForTime {
        ts: i64,
        upto: u64,
        reply: Sender<Result<Option<i64>, ErrorCode>>,
    },
    Retention {
        wall_ms: i64,
        retention_ms: u64,
    },
}

fn run_jobs(
    part: &mut Partition,
    jobs: Vec<Job>,
    now_wall_ms: i64,
    name: &str,
) -> Vec<(ReqId, Result<AppendOutcome, AppendFailure>)> {
    let mut written = Vec::new();
    for job in jobs {
        match job {
            Job::Write { id, batch } => written.push((id, part.append(&batch, now_wall_ms))),
            Job::Read {
                offset,
                max_bytes,
                upto,
                reply,
            } => {
                let r = u64::try_from(offset)
                    .map_err(|_| ErrorCode::OffsetOutOfRange)
                    .and_then(|o| match part.read(o, max_bytes, upto) {
                        Ok(records) => Ok(ReadOk {
                            records,
                            high_watermark: upto as i64,
                            log_start: part.log_start() as i64,
                        }),
                        Err(ReadError::OffsetOutOfRange { .. }) => Err(ErrorCode::OffsetOutOfRange),
                        Err(ReadError::Io(e)) => {
                            log_limit::log(
                                Kind::StorageIo,
                                log::Level::Error,
                                format_args!("{name}: read failed: {e}"),
                            );
                            Err(ErrorCode::KafkaStorageError)
                        }
                    });
                let _ = reply.try_send(r);
            }
            Job::OffsetForTime { ts, upto, reply } => {
                let r = part.offset_for_time(ts, upto).unwrap_or_else(|e| {
                    log_limit::log(
                        Kind::StorageIo,
                        log::Level::Error,
                        format_args!("{name}: time index read failed: {e}"),
                    );
                    None
                });
                let _ = reply.try_send(Ok(r.map(|o| o as i64)));
            }
            Job::Retention {
                wall_ms,
                retention_ms,
            } => match part.apply_retention(wall_ms, retention_ms) {
                Ok(0) => {}
                Ok(n) => log::info!(
                    "{name}: retention.ms={retention_ms} freed {n} segment(s); log start now {}",
                    part.log_start()
                ),
                Err(e) => log::error!("{name}: retention failed: {e}"),
            },
        }
    }
    written
}

struct Owner {
    core: PartitionCore,
    /// `None` only while a job has it on an I/O worker.
    part: Option<Partition>,
    shared: Arc<Shared>,
    name: String,
    started: Instant,
    next_id: ReqId,
    /// Producers the core has not answered yet.
    waiting: HashMap<ReqId, (AppendReply, bool)>,
}

enum Wake {
    Cmd(Cmd),
    Closed,
    Synced(io::Result<u64>),
    Time,
}

impl Owner {
    fn now(&self) -> Now {
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now {
            mono_ms: self.started.elapsed().as_millis() as u64,
            wall_ms,
        }
    }

    fn part(&mut self) -> &mut Partition {
        self.part
            .as_mut()
            .expect("the partition is home between jobs")
    }

    /// Runs `jobs` on an I/O worker; feeds the writes' outcomes to the core.
    async fn run_round(&mut self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let mut part = self.part.take().expect("one job at a time");
        let (name, now) = (self.name.clone(), self.now());
        let (part, written) = rt::io(move || {
            let w = run_jobs(&mut part, jobs, now.wall_ms, &name);
            (part, w)
        })
        .await;
        self.part = Some(part);
        let now = self.now();
        for (id, outcome) in written {
            let Some((reply, wait)) = self.waiting.remove(&id) else {
                continue;
            };
            match outcome {
                Ok(a) => {
                    let w = Written {
                        base_offset: a.base_offset,
                        last_offset: a.last_offset,
                        duplicate: a.duplicate,
                    };
                    match self.core.written(id, w, wait, now) {
                        Some(action) => self.answer(action, Some(reply)),
                        None => {
                            self.waiting.insert(id, (reply, wait));
                        }
                    }
                }
                Err(e) => {
                    let io = matches!(e, AppendFailure::Storage(AppendError::Io(_)));
                    let fail = append_fail(e, &self.name);
                    if io {
                        // A write or a roll's sync failed: as after a failed
                        // fsync, nothing written since the last good sync may
                        // ever be acknowledged. Offline before the answer goes.
                        self.go_offline(fail.message.clone());
                    }
                    let _ = reply.try_send(Err(fail));
                }
            }
        }
        let (start, oldest) = {
            let p = self.part();
            (p.log_start(), p.oldest_slot().map(|(_, _, ts)| ts))
        };
        self.core.usage(start, oldest);
    }

    /// Sends a core's answer (`reply` given when the caller already took it).
    /// Offsets are published first: a producer that has its answer and then
    /// fetches sees its own record.
    fn answer(&mut self, action: Action, reply: Option<AppendReply>) {
        if let Action::Reply { id, result } = action {
            if self.part.is_some() {
                self.publish();
            }
            let reply = reply.or_else(|| self.waiting.remove(&id).map(|(r, _)| r));
            if let Some(reply) = reply {
                let r = result
                    .map(|p| AppendOk {
                        base_offset: p.base_offset as i64,
                        log_start: p.log_start as i64,
                    })
                    .map_err(core_fail);
                let _ = reply.try_send(r);
            }
        }
    }

    /// Syncs to start and retention to apply, as the core says.
    async fn poll_core(&mut self, sync: &mut Option<Task<io::Result<u64>>>) {
        for action in self.core.poll(self.now()) {
            match action {
                Action::Sync { upto } => match self.part().begin_sync() {
                    Ok(Some(ticket)) => {
                        *sync = Some(rt::spawn(rt::io(move || ticket.run())));
                    }
                    Ok(None) => {
                        for a in self.core.sync_done(upto) {
                            self.answer(a, None);
                        }
                    }
                    Err(e) => self.sync_result(Err(e)),
                },
                Action::ApplyRetention {
                    wall_ms,
                    retention_ms,
                } => {
                    self.run_round(vec![Job::Retention {
                        wall_ms,
                        retention_ms,
                    }])
                    .await
                }
                other => self.answer(other, None),
            }
        }
    }

    fn sync_result(&mut self, r: io::Result<u64>) {
        let actions = match r {
            Ok(upto) => {
                self.part().finish_sync(upto);
                self.core.sync_done(upto)
            }
            Err(e) => {
                self.go_offline(format!("fsync failed: {e}"));
                return;
            }
        };
        for a in actions {
            self.answer(a, None);
        }
    }

    /// A sync or a write failed: offline until restart, every waiting
    /// producer answered with the error, logged once.
    fn go_offline(&mut self, reason: String) {
        if self.core.offline().is_some() {
            return;
        }
        log::error!(
            "{}: {reason}; the partition is offline until restart \
             (nothing written since the last good sync is acknowledged or served)",
            self.name
        );
        self.shared.offline.store(true, Ordering::Release);
        for a in self.core.sync_failed(reason) {
            self.answer(a, None);
        }
    }

    fn apply_config(&mut self) {
        let values = self.shared.config.lock().ok().and_then(|mut c| c.take());
        if let Some(v) = values {
            self.core.reconfigure(CoreConfig::from(&v));
            self.part().set_full_policy(&v);
        }
    }

    fn handle(&mut self, cmd: Cmd, jobs: &mut Vec<Job>, close: &mut Option<Sender<()>>) {
        match cmd {
            Cmd::Append {
                batch,
                wait_for_sync,
                reply,
            } => {
                let id = self.next_id;
                self.next_id += 1;
                match self.core.produce(id) {
                    Action::Write { id } => {
                        self.waiting.insert(id, (reply, wait_for_sync));
                        jobs.push(Job::Write { id, batch });
                    }
                    other => self.answer(other, Some(reply)),
                }
            }
            Cmd::Read {
                offset,
                max_bytes,
                reply,
            } => match self.core.read(0) {
                Action::Read { upto, .. } => jobs.push(Job::Read {
                    offset,
                    max_bytes,
                    upto,
                    reply,
                }),
                _ => {
                    let _ = reply.try_send(Err(ErrorCode::KafkaStorageError));
                }
            },
            Cmd::OffsetForTime { ts, reply } => match self.core.read(0) {
                Action::Read { upto, .. } => jobs.push(Job::OffsetForTime { ts, upto, reply }),
                _ => {
                    let _ = reply.try_send(Err(ErrorCode::KafkaStorageError));
                }
            },
            Cmd::Close { reply } => *close = Some(reply),
        }
    }

    async fn run(mut self, rx: Receiver<Cmd>) {
        let mut sync: Option<Task<io::Result<u64>>> = None;
        loop {
            let config = self.shared.config_changed.listen();
            let deadline = self.core.next_deadline(self.now());
            let wait =
                deadline.map(|t| Duration::from_millis(t.saturating_sub(self.now().mono_ms)));
            let pending = self.shared.config.lock().is_ok_and(|c| c.is_some());
            let wake = if pending {
                Wake::Time
            } else {
                let cmd = async {
                    match rx.recv().await {
                        Ok(c) => Wake::Cmd(c),
                        Err(_) => Wake::Closed,
                    }
                };
                let synced = async {
                    match sync.as_mut() {
                        Some(t) => Wake::Synced(t.await),
                        None => std::future::pending().await,
                    }
                };
                let timer = async {
                    match wait {
                        Some(w) => smol::Timer::after(w).await,
                        None => std::future::pending().await,
                    };
                    Wake::Time
                };
                let config = async {
                    config.await;
                    Wake::Time
                };
                smol::future::or(
                    cmd,
                    smol::future::or(synced, smol::future::or(timer, config)),
                )
                .await
            };
            let mut close = None;
            // A config change made before a command was sent applies to it.
            self.apply_config();
            match wake {
                Wake::Closed => break,
                Wake::Synced(r) => {
                    sync = None;
                    self.sync_result(r);
                }
                Wake::Time => {}
                Wake::Cmd(first) => {
                    let mut jobs = Vec::new();
                    self.handle(first, &mut jobs, &mut close);
                    // Take what is already queued too: one sync serves them all.
                    for _ in 1..QUEUE {
                        match rx.try_recv() {
                            Ok(c) => self.handle(c, &mut jobs, &mut close),
                            Err(_) => break,
                        }
                    }
                    self.run_round(jobs).await;
                }
            }
            if close.is_none() {
                self.poll_core(&mut sync).await;
            }
            self.publish();
            if let Some(reply) = close {
                self.close(sync.take()).await;
                let _ = reply.try_send(());
                return;
            }
        }
        self.close(sync.take()).await;
    }

    /// Waits for a running sync, then syncs everything and checkpoints.
    async fn close(&mut self, sync: Option<Task<io::Result<u64>>>) {
        if let Some(t) = sync {
            let r = t.await;
            self.sync_result(r);
        }
        self.shared.closed.store(true, Ordering::Release);
        if self.core.offline().is_none() {
            let mut part = self.part.take().expect("home");
            let (part, r) = rt::io(move || {
                let r = part.write_checkpoint();
                (part, r)
            })
            .await;
            self.part = Some(part);
            match r {
                Ok(()) => {
                    let end = self.part().log_end();
                    for a in self.core.sync_done(end) {
                        self.answer(a, None);
                    }
                }
                Err(e) => log::error!("{}: close failed: {e}", self.name),
            }
        }
        self.publish();
        self.shared.changed.notify(usize::MAX);
    }

    fn publish(&mut self) {
        let (slots, bytes, reserved) = self.part().usage();
        let s = &self.shared;
        s.log_end.store(self.core.log_end(), Ordering::Release);
        s.slots_used.store(slots as u64, Ordering::Relaxed);
        s.bytes_used.store(bytes, Ordering::Relaxed);
        s.bytes_reserved.store(reserved, Ordering::Relaxed);
        let hw = self.core.high_watermark();
        let start = self.core.log_start();
        let hw_moved = s.high_watermark.swap(hw, Ordering::AcqRel) != hw;
        let start_moved = s.log_start.swap(start, Ordering::AcqRel) != start;
        if hw_moved || start_moved {
            s.changed.notify(usize::MAX);
        }
    }
}

#[cfg(test)]
#[path = "partition_task_tests.rs"]
mod tests;
