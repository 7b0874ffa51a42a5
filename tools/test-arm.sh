#!/usr/bin/env bash
# `make test-arm`: pipit on ARM, proven under qemu-user (Debian's qemu-user, run directly, never
# through binfmt). For aarch64-unknown-linux-musl (rpi4/5) and armv7-unknown-linux-gnueabihf
# (rpi3/zero2 on 32-bit images):
#   1. `cargo test --lib -- storage:: log::` cross-compiled and run by qemu as the cargo runner
#      (on armv7 this is where 64-bit offsets and file positions on a 32-bit CPU are checked);
#   2. once `pipit broker` exists: the cross-built broker under qemu on 127.0.0.1:<ephemeral>,
#      1,000 records produced and consumed back with kcat from the host, compared byte for byte,
#      then SIGTERM and a clean exit 0.
# ARMv6 (`make cross BOARD=rpi-zero`, built here): the same round trip under `qemu-arm -cpu arm1176`.
# A target whose std or toolchain cannot be installed is skipped with the reason; with STRICT=1, and
# always in CI (CI=true), a skip is a failure: nothing passes by not running.
# Emulated timings say nothing about a Pi: these checks are functional only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${CI:-}" ] && [ "${CI:-}" != false ] && export STRICT=1

failures=0
note() { echo "test-arm: $*"; }
fail() { echo "test-arm: FAIL: $*"; failures=$((failures + 1)); }
skip() {
  echo "test-arm: SKIP: $*"
  if [ "${STRICT:-0}" = 1 ]; then failures=$((failures + 1)); fi
}

if ! command -v qemu-aarch64 >/dev/null || ! command -v qemu-arm >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    note "installing qemu-user (Debian)"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq qemu-user >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq qemu-user >/dev/null 2>&1 || true; }
  fi
fi
if ! command -v qemu-aarch64 >/dev/null || ! command -v qemu-arm >/dev/null; then
  skip "qemu-user is not installed and cannot be installed here"
  exit $((failures > 0))
fi
command -v kcat >/dev/null || tools/test-deps.sh

# Starts `$@ broker ...` with an ephemeral port and a temp log.dirs, produces and consumes
# 1,000 records with kcat, checks every byte, stops it with SIGTERM. Returns 0 on success,
# 1 on failure, 2 when the binary has no broker subcommand yet.
broker_roundtrip() {
  local label=$1
  shift
  local help
  help=$(timeout 60 "$@" --help 2>/dev/null || true)
  if ! printf '%s' "$help" | grep -q broker; then return 2; fi
  local tmp pid port="" i rc
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/pipit-arm.XXXXXX")
  "$@" broker --override listeners=PLAINTEXT://127.0.0.1:0 --override "log.dirs=$tmp/data" \
    --override auto.create.topics.enable=true --override num.partitions=1 \
    --override log.segment.bytes=4194304 --override log.ring.segments=4 \
    >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  # Emulated start-up is slow: up to 60 s for the listening line.
  for i in $(seq 1 600); do
    port=$(sed -n 's/^pipit: listening on PLAINTEXT:\/\/127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/stdout")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if grep -q "unknown subcommand" "$tmp/stderr"; then rm -rf "$tmp"; return 2; fi
    echo "test-arm: $label: no listening line within 60 s; stderr:"; sed 's/^/  /' "$tmp/stderr" | tail -n 20
    rm -rf "$tmp"
    return 1
  fi
  python3 -c '
import random, base64
rng = random.Random(5)
for i in range(1000):
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))).decode()
    print(f"arm-{i:04d}-{body}")
' >"$tmp/in"
  local ok=1 topic=arm-roundtrip
  if ! timeout 60 kcat -L -b "127.0.0.1:$port" -m 30 >/dev/null 2>&1; then
    echo "test-arm: $label: listening, but no answer to kcat's Metadata request within 30 s"
    ok=0
  fi
  if [ $ok = 1 ] && ! timeout 120 kcat -P -q -b "127.0.0.1:$port" -t "$topic" -p 0 -X acks=all \
    -X message.timeout.ms=60000 <"$tmp/in"; then
    echo "test-arm: $label: kcat produce failed"
    ok=0
  fi
  if [ $ok = 1 ]; then
    timeout 120 kcat -C -q -b "127.0.0.1:$port" -t "$topic" -p 0 -o beginning -c 1000 -e -f '%s\n' \
      >"$tmp/out" || { echo "test-arm: $label: kcat consume failed"; ok=0; }
  fi
  if [ $ok = 1 ] && ! cmp -s "$tmp/in" "$tmp/out"; then
    echo "test-arm: $label: consumed $(wc -l <"$tmp/out") records, bytes differ from the 1000 produced:"
    cmp "$tmp/in" "$tmp/out" | head -n 1 || true
    ok=0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "test-arm: $label: still running 30 s after SIGTERM"
    kill -KILL "$pid" 2>/dev/null || true
    ok=0
  fi
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then echo "test-arm: $label: exit status $rc after SIGTERM, not 0"; ok=0; fi
  [ $ok = 1 ] && echo "test-arm: $label: 1000 records produced, consumed and compared byte for byte; SIGTERM -> exit 0"
  rm -rf "$tmp"
  [ $ok = 1 ]
}

#        triple                         board qemu          sysroot
for row in "aarch64-unknown-linux-musl    rpi4  qemu-aarch64  -" \
           "armv7-unknown-linux-gnueabihf rpi3  qemu-arm      /usr/arm-linux-gnueabihf"; do
  read -r triple board qemu sysroot <<<"$row"
  runner=$qemu
  [ "$sysroot" != - ] && runner="$qemu -L $sysroot"
  note "== $triple ($board) under $qemu"
  # Builds the release binary, installing the target's std and linker when missing.
  cross_out=$(tools/cross.sh "$board") || { fail "$triple: make cross BOARD=$board failed"; continue; }
  printf '%s\n' "$cross_out"
  if printf '%s\n' "$cross_out" | grep -q '^SKIP:'; then
    skip "$triple: toolchain not available (see above)"
    continue
  fi

  env_name=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUNNER
  log=$(mktemp)
  if env "$env_name=$runner" timeout 1800 cargo test --lib --target "$triple" -- storage:: log:: 2>&1 | tee "$log" |
    grep -E '^(test result|running|error)'; then :; fi
  if grep -q '^test result: ok' "$log" && ! grep -q '^error' "$log"; then
    note "$triple: storage and log tests: $(grep -m1 '^test result' "$log")"
  else
    fail "$triple: cargo test --lib -- storage:: log:: under $runner"
    tail -n 30 "$log"
  fi
  rm -f "$log"

  rc=0
  broker_roundtrip "$triple" $runner "target/$triple/release/pipit" || rc=$?
  case $rc in
    0) ;;
    2) note "$triple: broker not built yet, ran storage tests only" ;;
    *) fail "$triple: broker round trip under $qemu" ;;
  esac
done

# ARMv6 (its std needs nightly and zig here, see tools/cross.sh): the same round trip on an
# emulated ARM1176, the Pi Zero / Pi 1 CPU, where any ARMv7 instruction is a SIGILL.
v6=target/arm-unknown-linux-musleabihf/release/pipit
note "== arm-unknown-linux-musleabihf (rpi-zero) under qemu-arm -cpu arm1176"
v6_rc=0
v6_out=$(tools/cross.sh rpi-zero) || v6_rc=$?
printf '%s\n' "$v6_out"
if printf '%s\n' "$v6_out" | grep -q '^SKIP:'; then
  skip "arm-unknown-linux-musleabihf: toolchain not available (see above)"
elif [ $v6_rc -ne 0 ]; then
  fail "arm-unknown-linux-musleabihf: make cross BOARD=rpi-zero failed"
fi
if [ -x "$v6" ]; then
  if timeout 60 qemu-arm -cpu arm1176 "$v6" --version >/dev/null 2>&1; then
    note "arm-unknown-linux-musleabihf: runs on an emulated ARM1176 (Pi Zero / Pi 1 CPU)"
    rc=0
    broker_roundtrip arm-unknown-linux-musleabihf qemu-arm -cpu arm1176 "$v6" || rc=$?
    case $rc in
      0) ;;
      2) note "arm-unknown-linux-musleabihf: broker not built yet" ;;
      *) fail "arm-unknown-linux-musleabihf: broker round trip on an emulated ARM1176" ;;
    esac
  else
    fail "arm-unknown-linux-musleabihf: $v6 does not run on an emulated ARM1176"
  fi
fi

if [ $failures -gt 0 ]; then
  note "$failures failure(s)"
  exit 1
fi
note "ok"
