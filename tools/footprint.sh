#!/usr/bin/env bash
# `make footprint`: how small pipit is, written to BENCHMARKS.md between the markers
# <!-- footprint:begin --> and <!-- footprint:end --> (the rest of the file is left alone).
#   - per target: the stripped release binary's size (goal <= 6 MiB); the ARM binaries are
#     built with tools/cross.sh (a missing toolchain is reported, not fatal);
#   - on the host, once `pipit broker` exists: idle RSS after start (VmRSS, goal <= 4 MiB),
#     time from exec to the listening line (goal <= 20 ms), peak RSS (VmHWM) while kcat
#     produces 500,000 x 1,000-byte records (goal <= 32 MiB), and write amplification: bytes the
#     broker wrote to disk (/proc/PID/io write_bytes) per payload byte (goal <= 1.2).
# Figures only: nothing here fails on a missed goal (CI never asserts timings).
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-500000}
RECORD_BYTES=${RECORD_BYTES:-1000}
out=BENCHMARKS.md
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }

cargo build --release --bin pipit >&2
rows=("| x86_64-unknown-linux-gnu (host) | $(stat -c %s target/release/pipit) B ($(mib "$(stat -c %s target/release/pipit)")) | built here |")
for board in rpi4 rpi3 rpi-zero; do
  triple=$(tools/cross.sh --triple "$board")
  bin=target/$triple/release/pipit
  if [ "$board" = rpi-zero ] && [ ! -x "$bin" ] && [ "${FOOTPRINT_ARMV6:-0}" != 1 ]; then
    rows+=("| $triple | not built | \`make cross BOARD=rpi-zero\` first (or FOOTPRINT_ARMV6=1) |")
    continue
  fi
  # Rebuilt every time (incremental), so no size is stale.
  res=$(tools/cross.sh "$board" 2>/dev/null | grep -E '^(SKIP|cross: '"$board"')' || true)
  if [ -x "$bin" ] && ! printf '%s' "$res" | grep -q '^SKIP'; then
    rows+=("| $triple | $(stat -c %s "$bin") B ($(mib "$(stat -c %s "$bin")")) | \`make cross BOARD=$board\` |")
  else
    rows+=("| $triple | skipped | ${res#SKIP: } |")
  fi
done

bin=target/release/pipit
host_section="The broker subcommand does not exist yet: no RSS, start-time or write-amplification figures."
help=$("$bin" --help 2>&1 || true)
if printf '%s' "$help" | grep -q broker; then
  work=$(mktemp -d "$PWD/target/footprint.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # A Python driver: exact timing of exec -> listening line, and /proc sampling of the broker.
  set +e
  figures=$(timeout 900 python3 - "$bin" "$work" "$RECORDS" "$RECORD_BYTES" <<'PY'
import os, select, signal, subprocess, sys, time
binary, work, records, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1

def written(pid):
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return -1

args = [binary, "broker", "--override", "listeners=PLAINTEXT://127.0.0.1:0",
        "--override", f"log.dirs={work}/data", "--override", "num.partitions=1",
        "--override", "auto.create.topics.enable=true",
        "--override", "log.segment.bytes=67108864", "--override", "log.ring.segments=16"]
t0 = time.perf_counter_ns()
broker = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(f"{work}/stderr", "wb"))
port, buf, deadline = None, b"", time.monotonic() + 10
while port is None and time.monotonic() < deadline:
    ready, _, _ = select.select([broker.stdout], [], [], 0.05)
    if ready:
        chunk = os.read(broker.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(b"pipit: listening on PLAINTEXT://127.0.0.1:"):
                port = int(line.rsplit(b":", 1)[1])
                t1 = time.perf_counter_ns()
if port is None:
    broker.kill()
    broker.wait()
    if b"unknown subcommand" in open(f"{work}/stderr", "rb").read():
        print("error=nobroker")
    else:
        print("error=no listening line within 10 s")
    sys.exit(0)
import atexit
atexit.register(lambda: broker.poll() is None and broker.kill())  # never leave a broker behind
print(f"start_ms={(t1 - t0) / 1e6:.1f}")
time.sleep(1.0)
print(f"idle_rss={status(broker.pid, 'VmRSS')}")
# A broker that listens but does not answer Metadata yet gets start/idle figures only.
probe = subprocess.run(["kcat", "-L", "-b", f"127.0.0.1:{port}", "-m", "10"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
if probe.returncode != 0:
    print("produce_error=the broker did not answer kcat's Metadata request within 10 s")
    broker.send_signal(signal.SIGTERM)
    print(f"exit={broker.wait(timeout=30)}")
    sys.exit(0)
before = written(broker.pid)
kcat = subprocess.Popen(["kcat", "-P", "-q", "-b", f"127.0.0.1:{port}", "-t", "footprint", "-p", "0",
                         "-X", "acks=all", "-X", "linger.ms=5", "-X", "message.timeout.ms=300000"],
                        stdin=subprocess.PIPE)
record = (b"x" * (size - 8))
t2 = time.perf_counter()
chunk = 1000
for start in range(0, records, chunk):
    kcat.stdin.write(b"".join(b"%07d " % i + record + b"\n" for i in range(start, min(start + chunk, records))))
kcat.stdin.close()
try:
    rc = kcat.wait(timeout=600)
except subprocess.TimeoutExpired:
    kcat.kill()
    rc = "killed after 600 s"
t3 = time.perf_counter()
time.sleep(1.0)
after = written(broker.pid)
print(f"produce_rc={rc}")
print(f"produce_s={t3 - t2:.1f}")
print(f"peak_rss={status(broker.pid, 'VmHWM')}")
print(f"written={after - before}")
print(f"payload={records * size}")
broker.send_signal(signal.SIGTERM)
try:
    print(f"exit={broker.wait(timeout=30)}")
except subprocess.TimeoutExpired:
    broker.kill()
    print("exit=still running 30 s after SIGTERM")
PY
)
  set -e
  get() { printf '%s\n' "$figures" | sed -n "s/^$1=//p"; }
  if [ "$(get error)" = nobroker ]; then
    :
  elif [ -n "$(get error)" ] || [ -z "$(get start_ms)" ]; then
    host_section="Host run failed: $(get error) $(tail -n 3 "$work/stderr" 2>/dev/null | tr '\n' ' ')"
  else
    verdict() { awk -v v="$1" -v g="$2" 'BEGIN {print (v <= g) ? "yes" : "**no**"}'; }
    idle=$(get idle_rss) peak=$(get peak_rss) start=$(get start_ms)
    wa=$(awk -v w="$(get written)" -v p="$(get payload)" 'BEGIN {printf "%.3f", w / p}')
    host_section="| measure | value | goal | met |
|---|---|---|---|
| start: exec to the listening line | $start ms | <= 20 ms | $(verdict "$start" 20) |
| idle RSS (VmRSS, 1 s after start) | $(mib "$idle") | <= 4 MiB | $(verdict "$idle" 4194304) |"
    if [ -n "$(get produce_error)" ]; then
      host_section="$host_section

No produce run: $(get produce_error). The broker exited with $(get exit) after SIGTERM."
    else
      host_section="$host_section
| peak RSS (VmHWM) producing $RECORDS x $RECORD_BYTES B | $(mib "$peak") | <= 32 MiB | $(verdict "$peak" 33554432) |
| write amplification (write_bytes / payload bytes) | $wa | <= 1.2 | $(verdict "$wa" 1.2) |

kcat (acks=all, linger.ms=5) took $(get produce_s) s for the produce run (exit $(get produce_rc));
the broker exited with $(get exit) after SIGTERM. Ring: 16 x 64 MiB, log.durability default."
    fi
  fi
fi

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit + uncommitted changes"
section="<!-- footprint:begin -->
## Footprint (\`make footprint\`)

Measured $(date -u +%Y-%m-%d) on $(nproc) x ${model:-unknown CPU}, Linux $(uname -r), $(rustc -V), at $commit.
Release profile from Cargo.toml (lto, codegen-units = 1, panic = abort, strip).

| target | stripped binary (goal <= 6 MiB) | how |
|---|---|---|
$(printf '%s\n' "${rows[@]}")

On the host (x86_64; a Pi's figures differ, its RSS is of the same order):

$host_section
<!-- footprint:end -->"

[ -f "$out" ] || printf '# pipit benchmarks\n\nFigures from `make bench` and `make footprint`; each tool replaces its own section.\n' >"$out"
SECTION="$section" python3 - "$out" <<'PY'
import os, re, sys
path, section = sys.argv[1], os.environ["SECTION"]
text = open(path).read()
pattern = re.compile(r"<!-- footprint:begin -->.*?<!-- footprint:end -->", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
echo "footprint: wrote the footprint section of $out"
printf '%s\n' "$section"
