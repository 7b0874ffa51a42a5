#!/usr/bin/env bash
# `make bench`: every benchmark; each one rewrites its own section of BENCHMARKS.md
# with the command, the machine and a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/test-deps.sh
echo "== storage append vs dd"
cargo test --release --test bench_storage -- --ignored --nocapture --test-threads=1
if [ -f tests/bench_broker.rs ]; then
  echo "== broker produce/consume vs dd (librdkafka client)"
  cargo test --release --test bench_broker -- --ignored --nocapture --test-threads=1
fi
echo "== pipit producer-perf-test vs librdkafka (kcat, confluent-kafka)"
cargo test --release --test bench_tools -- --ignored --nocapture --test-threads=1

# Produce latency under file work, this build against a baseline build in the same
# run. BASELINE_REV: the commit before the partition core (override to compare others).
BASELINE_REV=${BASELINE_REV:-fa51fba}
base_src=target/baseline-src
echo "== produce latency under file work: this build vs $BASELINE_REV"
if [ ! -x target/baseline/release/pipit ] || [ "$(cat target/baseline/rev 2>/dev/null)" != "$BASELINE_REV" ]; then
  rm -rf "$base_src"; git worktree prune
  git worktree add --detach "$base_src" "$BASELINE_REV" >/dev/null
  CARGO_TARGET_DIR="$PWD/target/baseline" cargo build --release --manifest-path "$base_src/Cargo.toml"
  echo "$BASELINE_REV" > target/baseline/rev
  git worktree remove --force "$base_src"
fi
PIPIT_BASELINE_BIN="$PWD/target/baseline/release/pipit" PIPIT_BASELINE_REV="$BASELINE_REV" \
  cargo test --release --test bench_latency -- --ignored --nocapture --test-threads=1
