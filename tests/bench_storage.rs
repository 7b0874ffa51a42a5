//! `make bench` (ignored by `cargo test`): storage append throughput through
//! the file backend, against `dd bs=1M` into the same directory in the same
//! run, and the fsync group-commit rate against `dd oflag=dsync`. Writes its
//! section of BENCHMARKS.md.

mod common;

use std::path::{Path, PathBuf};

use common::bench::{machine, update_section};
use std::process::Command;
use std::time::{Duration, Instant};

use pipit::log::file_backend::FileBackend;
use pipit::storage::batch::build_test_batch;
use pipit::storage::{FullPolicy, Ring, RingConfig};

const BATCH: usize = 16 * 1024;
const TOTAL: u64 = 1 << 30;

fn bench_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-storage");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dd(args: &[&str]) -> f64 {
    let t = Instant::now();
    let out = Command::new("dd").args(args).output().expect("dd runs");
    assert!(
        out.status.success(),
        "dd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn storage_append_throughput_against_dd() {
    let dir = bench_dir();
    let cfg = RingConfig {
        slots: 8,
        segment_bytes: 64 << 20,
        index_interval: 4096,
        policy: FullPolicy::OverwriteOldest,
    };
    let backend = FileBackend::create(&dir.join("bench-0"), &cfg).unwrap();
    let mut ring = Ring::create(backend, cfg, 0).unwrap();
    let mut batch = vec![0u8; BATCH];
    let n = build_test_batch(&mut batch, BATCH - 61, 16, 1, 0x5a).unwrap();
    // The ring is preallocated (fallocate); dd writes a new file, so it also allocates blocks.
    let t = Instant::now();
    let mut written = 0u64;
    while written < TOTAL {
        ring.append(&batch[..n], 0).unwrap();
        written += n as u64;
    }
    let ours = t.elapsed().as_secs_f64();
    let ours_mbs = written as f64 / ours / 1e6;

    let dd_file = dir.join("dd.tmp");
    let of = format!("of={}", dd_file.display());
    let count = format!("count={}", TOTAL >> 20);
    let dd_secs = dd(&["if=/dev/zero", &of, "bs=1M", &count, "status=none"]);
    let dd_mbs = TOTAL as f64 / dd_secs / 1e6;

    // Group commits: one 16 KiB batch + fdatasync, as fast as possible.
    let t = Instant::now();
    let mut commits = 0u64;
    while t.elapsed() < Duration::from_secs(3) {
        ring.append(&batch[..n], 0).unwrap();
        ring.sync().unwrap();
        commits += 1;
    }
    let commit_rate = commits as f64 / t.elapsed().as_secs_f64();
    let dsync_count = 2000;
    let dsync_secs = dd(&[
        "if=/dev/zero",
        &of,
        "bs=16k",
        &format!("count={dsync_count}"),
        "oflag=dsync",
        "conv=notrunc",
        "status=none",
    ]);
    let dsync_rate = dsync_count as f64 / dsync_secs;
    let _ = std::fs::remove_dir_all(&dir);

    let ratio = ours_mbs / dd_mbs;
    let body = format!(
        "## Storage append (issue 2)\n\n\
         Command: `make bench` (`cargo test --release --test bench_storage -- --ignored`). Machine: {}.\n\n\
         | what | figure |\n|---|---|\n\
         | ring append, 16 KiB batches of 16 × 1 KiB records, file backend, no sync, 1 GiB over an 8 × 64 MiB ring | {ours_mbs:.0} MB/s |\n\
         | `dd if=/dev/zero bs=1M count=1024` to the same directory, same run | {dd_mbs:.0} MB/s |\n\
         | **ratio ring / dd** (target ≥ 0.8) | **{ratio:.2}** |\n\
         | group commits: append 16 KiB + fdatasync, 3 s | {commit_rate:.0} commits/s ({:.1} MB/s) |\n\
         | `dd bs=16k oflag=dsync` to the same directory | {dsync_rate:.0} writes/s |\n",
        machine(),
        commit_rate * n as f64 / 1e6
    );
    println!("{body}");
    update_section("storage", &body);
}
