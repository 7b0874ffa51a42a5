//! The broker-wide bound on request bytes in memory (`queued.max.request.bytes`).
//!
//! Every connection takes a [`BudgetPermit`] for a frame's size before it
//! allocates the frame's buffer, and the permit lives until the request's
//! response is written, so the frames read, decoded or being handled by all
//! connections together never exceed the budget. A frame larger than the
//! whole budget takes all of it (it still fits `socket.request.max.bytes`), so
//! no frame waits forever. Waiters are woken whenever bytes are returned.
//! Invariant: `used ≤ max` at all times, and `used` is the sum of live permits.

use std::sync::{Arc, Mutex};

use event_listener::Event;

/// The shared budget.
pub struct RequestBudget {
    max: u64,
    used: Mutex<u64>,
    returned: Event,
}

/// Bytes taken from a [`RequestBudget`], given back on drop.
pub struct BudgetPermit {
    budget: Arc<RequestBudget>,
    bytes: u64,
}

impl RequestBudget {
    /// A budget of `max` bytes (`u64::MAX`: unbounded, Kafka's -1).
    pub fn new(max: u64) -> Arc<RequestBudget> {
        Arc::new(RequestBudget {
            max,
            used: Mutex::new(0),
            returned: Event::new(),
        })
    }

    /// Bytes currently held by permits.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_take(self: &Arc<Self>, bytes: u64) -> Option<BudgetPermit> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if *used + bytes > self.max {
            return None;
        }
        *used += bytes;
        Some(BudgetPermit {
            budget: self.clone(),
            bytes,
        })
    }

    /// Waits until `bytes` (at most the whole budget) are free and takes them.
    pub async fn acquire(self: &Arc<Self>, bytes: u64) -> BudgetPermit {
        let bytes = bytes.min(self.max);
        loop {
            if let Some(p) = self.try_take(bytes) {
                return p;
            }
            // Listen, then re-check: a return between the two still wakes us.
            let returned = self.returned.listen();
            if let Some(p) = self.try_take(bytes) {
                return p;
            }
            returned.await;
        }
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        drop(used);
        self.budget.returned.notify(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_never_exceed_the_budget_and_return_their_bytes_on_drop() {
        smol::block_on(async {
            let b = RequestBudget::new(100);
            let a = b.acquire(60).await;
            assert!(b.try_take(50).is_none(), "60 + 50 is over 100");
            let c = b.acquire(40).await;
            assert_eq!(b.used(), 100);
            drop(a);
            assert_eq!(b.used(), 40);
            // Larger than the whole budget: takes all of it once free.
            drop(c);
            let big = b.acquire(1_000).await;
            assert_eq!(b.used(), 100);
            drop(big);
            assert_eq!(b.used(), 0);
        });
    }

    #[test]
    fn a_waiter_gets_its_bytes_when_another_permit_is_dropped() {
        smol::block_on(async {
            let b = RequestBudget::new(10);
            let held = b.acquire(10).await;
            let b2 = b.clone();
            let waiter = smol::spawn(async move { b2.acquire(5).await.bytes });
            smol::Timer::after(std::time::Duration::from_millis(20)).await;
            drop(held);
            assert_eq!(waiter.await, 5);
        });
    }
}
