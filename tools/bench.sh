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
