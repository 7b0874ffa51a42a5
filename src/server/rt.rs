//! Where the broker's work runs: executor threads for sockets and owner
//! tasks, blocking workers for file I/O.
//!
//! `num.network.threads` threads (default 1: more can reorder a connection's pipelined produce requests) run one smol
//! [`Executor`]; `num.io.threads` workers (default: the cores, at least two,
//! so a sync runs beside the next appends) run every file operation: appends,
//! reads, syncs, segment rolls, preallocation, metadata writes. No file I/O
//! runs on an executor thread, so a directory fsync or a 512 MiB fallocate on
//! a microSD card stalls no connection. Jobs of one partition are submitted
//! one at a time by its owner, so they keep their order; the pool is bounded
//! (a full queue makes the submitter wait).
//!
//! Outside [`block_on`] (unit tests that drive handlers with
//! `smol::block_on`) [`spawn`] falls back to smol's global executor and
//! [`io`] to `smol::unblock`, so the same code runs there.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use smol::channel::{Receiver, Sender, bounded};
use smol::{Executor, Task};

static EXECUTOR: Executor<'static> = Executor::new();
static STARTED: AtomicBool = AtomicBool::new(false);

type Job = Box<dyn FnOnce() + Send + 'static>;
static IO_POOL: OnceLock<Sender<Job>> = OnceLock::new();
/// Jobs queued before submitters wait.
const IO_QUEUE: usize = 1024;

/// Spawns a task on the broker's executor.
pub fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T> {
    if STARTED.load(Ordering::Acquire) {
        EXECUTOR.spawn(f)
    } else {
        smol::spawn(f)
    }
}

/// Runs blocking file I/O on a worker and waits for it.
pub async fn io<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let Some(pool) = IO_POOL.get() else {
        return smol::unblock(f).await;
    };
    let (tx, rx) = bounded(1);
    let job: Job = Box::new(move || {
        let _ = tx.try_send(f());
    });
    if let Err(e) = pool.send(job).await {
        // The pool is gone (process exiting): run it where we are.
        let job = e.into_inner();
        job();
    }
    rx.recv().await.expect("an I/O worker finished its job")
}

fn io_worker(jobs: Receiver<Job>) {
    while let Ok(job) = jobs.recv_blocking() {
        job();
    }
}

/// Runs `f` to completion on `network_threads` executor threads (this one
/// included) with `io_threads` file-I/O workers.
pub fn block_on<T>(network_threads: usize, io_threads: usize, f: impl Future<Output = T>) -> T {
    let (jobs_tx, jobs_rx) = bounded::<Job>(IO_QUEUE);
    if IO_POOL.set(jobs_tx).is_ok() {
        for i in 0..io_threads.max(1) {
            let rx = jobs_rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("pipit-io-{i}"))
                .spawn(move || io_worker(rx));
        }
    }
    STARTED.store(true, Ordering::Release);
    let (stop_tx, stop_rx) = bounded::<()>(1);
    let threads: Vec<_> = (1..network_threads.max(1))
        .filter_map(|i| {
            let stop = stop_rx.clone();
            std::thread::Builder::new()
                .name(format!("pipit-net-{i}"))
                .spawn(move || smol::block_on(EXECUTOR.run(stop.recv())))
                .ok()
        })
        .collect();
    let out = smol::block_on(EXECUTOR.run(f));
    drop(stop_tx);
    for t in threads {
        let _ = t.join();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_runs_off_the_calling_thread_and_returns_its_value() {
        let here = std::thread::current().id();
        let (v, there) = smol::block_on(io(|| (41 + 1, std::thread::current().id())));
        assert_eq!(v, 42);
        assert_ne!(here, there);
    }
}
