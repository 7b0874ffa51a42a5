//! The policy of one partition's owner, with no I/O and no clock.
//!
//! The server's owner task (`server/partition_task.rs`) tells the core what
//! happened — a produce asked to be written, a write finished, a sync
//! finished or failed, the topic's config changed, time passed — and carries
//! out the [`Action`]s it returns: write a batch, start a sync, answer a
//! producer, read below a bound, apply retention, publish offsets. Time comes
//! in as [`Now`]: a monotonic clock for flush windows and the wall clock for
//! retention (record timestamps are wall-clock; a Pi without an RTC jumps at
//! boot, which must not delay a group commit).
//!
//! Invariants (each has a test below):
//! - Under `log.durability=fsync` a producer that waits for durability is
//!   answered only after a sync that *started after its batch was written*
//!   has completed; answers go out in offset order. Under `replicated` it is
//!   answered once written.
//! - At most one sync is in flight. Writes go on while it runs (the sync
//!   works on its own file handle); what they add is covered by the next
//!   sync: group commit.
//! - A failed sync takes the partition offline until restart: every waiting
//!   and every later produce gets [`ProduceError::Offline`], reads are
//!   refused, and the high watermark never moves past the last good sync.
//!   Retrying fsync as if the data were safe is the "fsyncgate" bug.
//! - The high watermark never moves backwards; reads are bounded by it.
//! - An idle partition has no deadline: [`PartitionCore::next_deadline`] is
//!   `None` unless a flush window or a retention expiry is pending.
//! - Config changes apply live: durability, flush interval, retention.

use std::collections::VecDeque;

use super::flush::{FlushDecision, FlushPolicy};
use super::topic_config::{Durability, TopicValues};

/// Identifies one request to the owner (its reply channel lives there).
pub type ReqId = u64;

/// The two clocks, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic (flush windows).
    pub mono_ms: u64,
    /// Wall clock, Unix epoch (retention against record timestamps).
    pub wall_ms: i64,
}

/// The part of a topic's config the owner applies live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreConfig {
    pub durability: Durability,
    pub flush_messages: u64,
    pub flush_ms: Option<u64>,
    pub retention_ms: Option<u64>,
}

impl From<&TopicValues> for CoreConfig {
    fn from(v: &TopicValues) -> Self {
        CoreConfig {
            durability: v.durability,
            flush_messages: v.flush_messages,
            flush_ms: v.flush_ms,
            retention_ms: v.retention_ms,
        }
    }
}

/// Where a written batch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub base_offset: u64,
    pub last_offset: u64,
    /// An idempotent retry answered with its original offsets: nothing new
    /// was written, so it waits for nothing new either.
    pub duplicate: bool,
}

/// A successful produce, as answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    pub base_offset: u64,
    pub log_start: u64,
}

/// Why a produce was answered with an error by the core itself (the write
/// errors of the log layer travel beside it, see the owner task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProduceError {
    /// A sync failed earlier; the partition accepts nothing until restart.
    Offline { reason: String },
}

/// What the owner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Append request `id`'s batch to the log, then call
    /// [`PartitionCore::written`] with the outcome.
    Write { id: ReqId },
    /// Answer request `id`.
    Reply {
        id: ReqId,
        result: Result<Produced, ProduceError>,
    },
    /// Refuse read request `id` (the partition is offline).
    RefuseRead { id: ReqId, error: ProduceError },
    /// Serve read request `id` from stored batches strictly below `upto`.
    Read { id: ReqId, upto: u64 },
    /// Make everything below `upto` durable, then call
    /// [`PartitionCore::sync_done`] or [`PartitionCore::sync_failed`].
    Sync { upto: u64 },
    /// Free whole oldest slots whose newest record is older than
    /// `now.wall_ms - retention_ms`, then report with [`PartitionCore::usage`].
    ApplyRetention { wall_ms: i64, retention_ms: u64 },
}

struct Waiter {
    id: ReqId,
    base: u64,
    last: u64,
}

/// One partition's policy state.
pub struct PartitionCore {
    cfg: CoreConfig,
    flush: FlushPolicy,
    log_start: u64,
    log_end: u64,
    /// Everything below is on stable storage (kept apart from the high
    /// watermark: under `replicated` the watermark runs ahead of it).
    durable: u64,
    high_watermark: u64,
    sync_in_flight: Option<u64>,
    /// Producers waiting for durability, in offset order.
    waiting: VecDeque<Waiter>,
    offline: Option<String>,
    /// Newest record time of the oldest slot that retention may free.
    oldest_max_ts: Option<i64>,
}

impl PartitionCore {
    /// A core for a log that holds `[log_start, log_end)`, all of it durable
    /// (a log is synced when it is opened or created).
    pub fn new(cfg: CoreConfig, log_start: u64, log_end: u64) -> Self {
        PartitionCore {
            flush: flush_policy(&cfg),
            cfg,
            log_start,
            log_end,
            durable: log_end,
            high_watermark: log_end,
            sync_in_flight: None,
            waiting: VecDeque::new(),
            offline: None,
            oldest_max_ts: None,
        }
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }
    pub fn log_start(&self) -> u64 {
        self.log_start
    }
    pub fn log_end(&self) -> u64 {
        self.log_end
    }
    pub fn durable_end(&self) -> u64 {
        self.durable
    }
    pub fn offline(&self) -> Option<&str> {
        self.offline.as_deref()
    }
    pub fn sync_in_flight(&self) -> bool {
        self.sync_in_flight.is_some()
    }

    fn offline_error(&self) -> Option<ProduceError> {
        self.offline
            .as_ref()
            .map(|r| ProduceError::Offline { reason: r.clone() })
    }

    /// A producer asks to append one batch.
    pub fn produce(&mut self, id: ReqId) -> Action {
        match self.offline_error() {
            Some(error) => Action::Reply {
                id,
                result: Err(error),
            },
            None => Action::Write { id },
        }
    }

    /// A consumer asks to read: only below the high watermark.
    pub fn read(&self, id: ReqId) -> Action {
        match self.offline_error() {
            Some(error) => Action::RefuseRead { id, error },
            None => Action::Read {
                id,
                upto: self.high_watermark,
            },
        }
    }

    /// The owner wrote request `id`'s batch. `wait_for_sync`: the producer
    /// wants a durable answer (acks 1 or all); acks=0 gets none at all.
    pub fn written(
        &mut self,
        id: ReqId,
        w: Written,
        wait_for_sync: bool,
        now: Now,
    ) -> Option<Action> {
        if !w.duplicate {
            self.log_end = self.log_end.max(w.last_offset + 1);
            self.flush
                .on_append(now.mono_ms, w.last_offset - w.base_offset + 1);
            if self.cfg.durability == Durability::Replicated {
                self.high_watermark = self.log_end;
            }
        }
        let ok = Produced {
            base_offset: w.base_offset,
            log_start: self.log_start,
        };
        if !wait_for_sync || w.last_offset < self.high_watermark {
            return Some(Action::Reply { id, result: Ok(ok) });
        }
        if let Some(error) = self.offline_error() {
            return Some(Action::Reply {
                id,
                result: Err(error),
            });
        }
        let at = self.waiting.partition_point(|x| x.last <= w.last_offset);
        self.waiting.insert(
            at,
            Waiter {
                id,
                base: w.base_offset,
                last: w.last_offset,
            },
        );
        None
    }

    /// After a round of commands (and whenever time passes): a sync to start
    /// or retention to apply, if due.
    pub fn poll(&mut self, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        if self.offline.is_some() {
            return out;
        }
        if self.sync_in_flight.is_none() && self.flush.decide(now.mono_ms) == FlushDecision::SyncNow
        {
            let upto = self.log_end;
            self.sync_in_flight = Some(upto);
            // Counting restarts now: what is written from here on needs the
            // next sync.
            self.flush.on_sync();
            out.push(Action::Sync { upto });
        }
        if let Some(ret) = self.cfg.retention_ms
            && self.retention_due(now.wall_ms, ret)
        {
            // Reported back through `usage`; until then nothing is due again.
            self.oldest_max_ts = None;
            out.push(Action::ApplyRetention {
                wall_ms: now.wall_ms,
                retention_ms: ret,
            });
        }
        out
    }

    fn retention_due(&self, wall_ms: i64, retention_ms: u64) -> bool {
        self.oldest_max_ts
            .is_some_and(|ts| ts.saturating_add(clamp_ms(retention_ms)) < wall_ms)
    }

    /// A sync started with [`Action::Sync`] finished: everything below
    /// `upto` is durable. Returns the answers now due.
    pub fn sync_done(&mut self, upto: u64) -> Vec<Action> {
        self.sync_in_flight = None;
        if self.offline.is_some() {
            return Vec::new();
        }
        self.durable = self.durable.max(upto);
        if self.cfg.durability == Durability::Fsync {
            self.high_watermark = self.high_watermark.max(upto);
        }
        let mut out = Vec::new();
        while let Some(w) = self.waiting.front() {
            if w.last >= self.high_watermark {
                break;
            }
            let w = self.waiting.pop_front().expect("front exists");
            out.push(Action::Reply {
                id: w.id,
                result: Ok(Produced {
                    base_offset: w.base,
                    log_start: self.log_start,
                }),
            });
        }
        out
    }

    /// A sync failed: the partition goes offline; every waiting producer is
    /// answered with the error. Nothing written since the last good sync
    /// ever becomes visible.
    pub fn sync_failed(&mut self, reason: String) -> Vec<Action> {
        self.sync_in_flight = None;
        self.offline = Some(reason);
        let error = self.offline_error();
        self.waiting
            .drain(..)
            .filter_map(|w| {
                error.clone().map(|e| Action::Reply {
                    id: w.id,
                    result: Err(e),
                })
            })
            .collect()
    }

    /// The log's start moved or its oldest releasable slot changed.
    pub fn usage(&mut self, log_start: u64, oldest_max_ts: Option<i64>) {
        self.log_start = log_start;
        self.oldest_max_ts = oldest_max_ts;
    }

    /// The topic's config changed: applies from now on.
    pub fn reconfigure(&mut self, cfg: CoreConfig) {
        if cfg == self.cfg {
            return;
        }
        let mut flush = flush_policy(&cfg);
        // What is unsynced stays unsynced: carry it into the new policy so
        // the next decision covers it.
        if self.log_end > self.synced_or_syncing() {
            flush.on_append(0, self.log_end - self.synced_or_syncing());
        }
        self.flush = flush;
        // Switching to `replicated` shows what is written; switching to
        // `fsync` keeps the watermark (it never moves back) and later
        // writes wait for their sync.
        if cfg.durability == Durability::Replicated {
            self.high_watermark = self.high_watermark.max(self.log_end);
        }
        self.cfg = cfg;
    }

    fn synced_or_syncing(&self) -> u64 {
        self.sync_in_flight.unwrap_or(0).max(self.durable)
    }

    /// Monotonic time at which [`PartitionCore::poll`] has something to do,
    /// or `None` when only a new command can make work.
    pub fn next_deadline(&self, now: Now) -> Option<u64> {
        if self.offline.is_some() {
            return None;
        }
        let flush = match self.flush.decide(now.mono_ms) {
            FlushDecision::Idle => None,
            // A sync is due but one is running: its completion wakes us.
            FlushDecision::SyncNow if self.sync_in_flight.is_some() => None,
            FlushDecision::SyncNow => Some(now.mono_ms),
            FlushDecision::WaitUntil(t) => Some(t),
        };
        let retention = match (self.cfg.retention_ms, self.oldest_max_ts) {
            (Some(ret), Some(ts)) => {
                let expires = ts.saturating_add(clamp_ms(ret)).saturating_add(1);
                let wait = expires.saturating_sub(now.wall_ms).max(0) as u64;
                Some(now.mono_ms.saturating_add(wait))
            }
            _ => None,
        };
        match (flush, retention) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn flush_policy(cfg: &CoreConfig) -> FlushPolicy {
    FlushPolicy::new(cfg.durability, cfg.flush_messages, cfg.flush_ms)
}

fn clamp_ms(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

#[cfg(test)]
#[path = "partition_core_tests.rs"]
mod tests;
