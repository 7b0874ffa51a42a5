//! When a partition syncs: a small state machine that takes `now` and says.
//!
//! - `log.durability=fsync` (the edge default): anything appended is synced at
//!   the next group commit, and only synced data is acknowledged or served
//!   (the high watermark is the synced offset). `log.flush.interval.ms`, when
//!   set, is the group-commit window: the first unsynced batch waits at most
//!   that long for others to share its fdatasync (useful on microSD).
//! - `log.durability=replicated` (Kafka's meaning): acks do not wait for a
//!   sync; data is synced every `log.flush.interval.messages` messages or
//!   `log.flush.interval.ms` milliseconds, whichever comes first.

use super::topic_config::Durability;

/// What the partition owner should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDecision {
    /// Nothing is unsynced, or nothing is due and no time is set.
    Idle,
    SyncNow,
    /// Ask again at this time (ms).
    WaitUntil(u64),
}

/// Counts what is unsynced and decides when to sync.
#[derive(Debug, Clone)]
pub struct FlushPolicy {
    durability: Durability,
    every_messages: u64,
    every_ms: Option<u64>,
    unsynced_messages: u64,
    first_unsynced_at: Option<u64>,
}

impl FlushPolicy {
    pub fn new(durability: Durability, every_messages: u64, every_ms: Option<u64>) -> Self {
        FlushPolicy {
            durability,
            every_messages: every_messages.max(1),
            every_ms,
            unsynced_messages: 0,
            first_unsynced_at: None,
        }
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    pub fn on_append(&mut self, now_ms: u64, messages: u64) {
        self.unsynced_messages = self.unsynced_messages.saturating_add(messages);
        self.first_unsynced_at.get_or_insert(now_ms);
    }

    pub fn on_sync(&mut self) {
        self.unsynced_messages = 0;
        self.first_unsynced_at = None;
    }

    pub fn decide(&self, now_ms: u64) -> FlushDecision {
        let Some(first) = self.first_unsynced_at else {
            return FlushDecision::Idle;
        };
        let deadline = self.every_ms.map(|ms| first.saturating_add(ms));
        let due_by_time = deadline.is_some_and(|d| now_ms >= d);
        match self.durability {
            Durability::Fsync => match deadline {
                Some(d) if !due_by_time => FlushDecision::WaitUntil(d),
                _ => FlushDecision::SyncNow,
            },
            Durability::Replicated => {
                if self.unsynced_messages >= self.every_messages || due_by_time {
                    FlushDecision::SyncNow
                } else {
                    deadline.map_or(FlushDecision::Idle, FlushDecision::WaitUntil)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_without_window_syncs_at_once() {
        let mut p = FlushPolicy::new(Durability::Fsync, u64::MAX, None);
        assert_eq!(p.decide(0), FlushDecision::Idle);
        p.on_append(10, 1);
        assert_eq!(p.decide(10), FlushDecision::SyncNow);
        p.on_sync();
        assert_eq!(p.decide(11), FlushDecision::Idle);
    }

    #[test]
    fn fsync_window_groups_commits() {
        let mut p = FlushPolicy::new(Durability::Fsync, u64::MAX, Some(50));
        p.on_append(100, 1);
        p.on_append(120, 1);
        assert_eq!(p.decide(120), FlushDecision::WaitUntil(150));
        assert_eq!(p.decide(150), FlushDecision::SyncNow);
    }

    #[test]
    fn replicated_syncs_by_count_or_time() {
        let mut p = FlushPolicy::new(Durability::Replicated, 3, Some(1000));
        p.on_append(0, 2);
        assert_eq!(p.decide(1), FlushDecision::WaitUntil(1000));
        p.on_append(2, 1);
        assert_eq!(p.decide(2), FlushDecision::SyncNow);
        p.on_sync();
        p.on_append(5, 1);
        assert_eq!(p.decide(1005), FlushDecision::SyncNow);
        let mut never = FlushPolicy::new(Durability::Replicated, u64::MAX, None);
        never.on_append(0, 5);
        assert_eq!(never.decide(1_000_000), FlushDecision::Idle);
    }
}
