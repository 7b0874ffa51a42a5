#!/usr/bin/env bash
# `make bench`: every benchmark; each appends its figures to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench: nothing to measure yet"
