//! Appending to and reading from the ring allocate nothing: a counting global
//! allocator sees zero allocations across thousands of operations.

#![allow(unsafe_code)] // a counting global allocator needs `unsafe impl GlobalAlloc`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pipit::storage::batch::build_test_batch;
use pipit::storage::sim::{MemBackend, Sizes};
use pipit::storage::{FullPolicy, Ring, RingConfig};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the measured thread counts: the test harness allocates on others.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// The test binary's allocator: counts, then defers to the system one.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn append_and_read_allocate_nothing() {
    let cfg = RingConfig {
        slots: 4,
        segment_bytes: 64 * 1024,
        index_interval: 4096,
        policy: FullPolicy::OverwriteOldest,
    };
    let sizes = Sizes {
        slots: cfg.slots,
        log: cfg.segment_bytes as u64,
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    };
    let mut ring = Ring::create(MemBackend::new(sizes), cfg, 0).unwrap();
    let mut batch = vec![0u8; 16 * 1024];
    let n = build_test_batch(&mut batch, 16 * 1024 - 61, 16, 1, 7).unwrap();
    let mut out = vec![0u8; 64 * 1024];
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    for _ in 0..5_000 {
        let a = ring.append(&batch[..n], 1).unwrap();
        let span = ring.read(a.base_offset, 32 * 1024).unwrap().unwrap();
        ring.read_span(&span, &mut out[..span.len as usize])
            .unwrap();
    }
    ring.sync().unwrap();
    let after = ALLOCS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(false));
    assert_eq!(after - before, 0, "the append/read path allocated");
    assert!(ring.next_offset() == 5_000 * 16);

    // After a restart that trusts the checkpoint, reads CRC-check what
    // recovery did not read back: that path allocates nothing either.
    let cp = ring.checkpoint().unwrap();
    let backend = ring.backend().clone();
    let (mut ring, _) = Ring::open(backend, cfg, &cp).unwrap();
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut at = ring.log_start();
    for _ in 0..1_000 {
        let Some(span) = ring.read(at, 32 * 1024).unwrap() else {
            break;
        };
        ring.read_span(&span, &mut out[..span.len as usize])
            .unwrap();
        at = span.next_offset;
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(false));
    assert_eq!(after - before, 0, "the checking read path allocated");
    assert_eq!(at, ring.next_offset(), "every batch was read");
}
