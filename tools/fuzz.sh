#!/usr/bin/env bash
# Fuzzing for pipit (RELIABILITY.md, "Fuzzing").
#
#   tools/fuzz.sh run [SECONDS] [TARGET...]   each target in turn for SECONDS (default 30),
#                                             one job, seeds from fuzz/corpus/<target>/;
#                                             prints executions per target
#   tools/fuzz.sh capture                     re-record the request/response seeds from kcat,
#                                             confluent-kafka and kafka-python talking to a
#                                             real pipit broker through tools/fuzz-capture.py
#   tools/fuzz.sh tmin TARGET FILE            minimise a crash input
#
# A run stops at a target's first crash (so `make fuzz` fails while a crash is open);
# KEEP_GOING=1 runs each target in libFuzzer's fork mode with -ignore_crashes=1 instead,
# saving every crash to fuzz/artifacts/<target>/ and fuzzing on (for long campaigns).
#
# Needs the nightly toolchain (rustup) for libFuzzer; installs cargo-fuzz if missing.
# New inputs the fuzzer finds go to fuzz/target/corpus/<target>/ (not checked in);
# crashes to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS=(request codecs records ring_open state_file config response)

need_fuzz() {
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
        exit 1
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "fuzz: installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
}

# The longest input each target gets (ring_open holds up to 4 slots of 4 KiB files).
max_len() {
    case $1 in
        ring_open) echo 20000 ;;
        request | response) echo 16384 ;;
        *) echo 8192 ;;
    esac
}

run() {
    local secs=${1:-30}
    shift || true
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS[@]}")
    need_fuzz
    cd "$ROOT/fuzz"
    # No sanitizer: pipit and its codecs forbid or avoid unsafe code, and the shared
    # targets meter allocations themselves; debug assertions catch overflows.
    rustup run nightly cargo fuzz build -s none -a
    local total=0 status=0
    for t in "${targets[@]}"; do
        local work=target/corpus/$t log=target/fuzz-$t.log
        mkdir -p "$work" "artifacts/$t"
        echo "fuzz: $t for ${secs}s"
        local mode=(-jobs=1 -workers=1)
        [ "${KEEP_GOING:-0}" = 1 ] && mode=(-fork=1 -ignore_crashes=1)
        if rustup run nightly cargo fuzz run -s none -a "$t" "$work" "corpus/$t" -- \
            -max_total_time="$secs" "${mode[@]}" -max_len="$(max_len "$t")" \
            -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
            -artifact_prefix="artifacts/$t/" >"$log" 2>&1; then :; else
            status=1
            echo "fuzz: $t CRASHED, see fuzz/$log and fuzz/artifacts/$t/" >&2
            grep -m1 -E "panicked|ERROR|Assertion|allocation" "$log" >&2 || true
        fi
        local n
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        # Fork mode prints no final stats: take the last "#N:" progress line.
        [ -n "$n" ] || n=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -1)
        local crashes
        crashes=$(ls "artifacts/$t" | grep -c '^crash-' || true)
        [ "$crashes" = 0 ] || echo "fuzz: $t: fuzz/artifacts/$t/ holds $crashes crash inputs (this run and earlier ones)" 
        echo "fuzz: $t ${n:-0} executions, corpus $(ls "$work" | wc -l) inputs"
        total=$((total + ${n:-0}))
    done
    echo "fuzz: $total executions in total"
    return $status
}

capture() {
    local out kcat=${KCAT:-kcat} py=${PYTHON:-.venv/bin/python}
    out=$(mktemp -d)
    cargo build --quiet
    read -r bport pport < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
    ./target/debug/pipit broker --override "listeners=PLAINTEXT://127.0.0.1:$bport" \
        --override "advertised.listeners=PLAINTEXT://127.0.0.1:$pport" \
        --override "log.dirs=$out/data" >"$out/broker.log" 2>&1 &
    BROKER=$!
    trap 'kill $BROKER 2>/dev/null || true' EXIT
    for _ in $(seq 50); do grep -q "listening on" "$out/broker.log" && break; sleep 0.2; done
    local b=127.0.0.1:$pport
    proxy() { # client name, then the command to run against $b
        local name=$1
        shift
        python3 tools/fuzz-capture.py "$out/frames" --client "$name" \
            --upstream "127.0.0.1:$bport" --port "$pport" --timeout 25 >/dev/null &
        local p=$!
        sleep 0.5
        timeout 20 "$@" >/dev/null 2>&1 || true
        kill $p 2>/dev/null || true
        wait $p 2>/dev/null || true
    }
    local msgs
    msgs=$(printf 'k%d:value %d of the pipit fuzz seeds\n' $(seq 1 20 | sed 'p'))
    for c in none gzip snappy lz4 zstd; do
        proxy "kcat-$c" bash -c "printf '%s\n' \"$msgs\" | $kcat -b $b -P -t seeds-$c -K: -z $c -X enable.idempotence=true"
        proxy "kcat-$c" $kcat -b $b -C -t "seeds-$c" -o beginning -e -c 20
    done
    proxy kcat-admin $kcat -b $b -L
    proxy confluent-kafka "$py" - <<EOF
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions, ConfigResource
a = AdminClient({'bootstrap.servers': '$b'})
for f in a.create_topics([NewTopic('seeds-ck', 2, 1, config={'retention.ms': '60000'})]).values(): f.result(10)
a.describe_configs([ConfigResource('topic', 'seeds-ck')])[ConfigResource('topic', 'seeds-ck')].result(10)
a.create_partitions([NewPartitions('seeds-ck', 3)])['seeds-ck'].result(10)
for c in ['gzip', 'snappy', 'lz4', 'zstd']:
    p = Producer({'bootstrap.servers': '$b', 'compression.type': c, 'enable.idempotence': True})
    for i in range(10): p.produce('seeds-ck', key=b'k%d' % i, value=b'v' * i, headers=[('h', b'x')])
    p.flush(10)
c = Consumer({'bootstrap.servers': '$b', 'group.id': 'g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
from confluent_kafka import TopicPartition
c.assign([TopicPartition('seeds-ck', 0, 0)])
for _ in range(5): c.poll(1)
c.close()
for f in a.delete_topics(['seeds-ck']).values(): f.result(10)
EOF
    proxy kafka-python3 "$py" - <<EOF
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
for c in ['gzip', 'snappy', 'lz4', 'zstd', None]:
    try:
        p = KafkaProducer(bootstrap_servers='$b', compression_type=c, request_timeout_ms=5000)
    except Exception:
        continue  # codec library not installed
    for i in range(10): p.send('seeds-kp', key=b'k%d' % i, value=b'v' * i)
    p.flush(10)
c = KafkaConsumer(bootstrap_servers='$b', consumer_timeout_ms=3000)
c.assign([TopicPartition('seeds-kp', 0)])
c.seek_to_beginning()
for _ in c: pass
EOF
    kill $BROKER 2>/dev/null || true
    for kind in request response; do
        mkdir -p "fuzz/corpus/$kind"
        cp "$out/frames/$kind"/*.bin "fuzz/corpus/$kind/"
    done
    cp tests/fixtures/frames/*.bin fuzz/corpus/request/
    echo "fuzz: $(ls "$out/frames/request" | wc -l) requests, $(ls "$out/frames/response" | wc -l) responses recorded"
    rm -rf "$out"
}

case ${1:-run} in
    run) shift || true; run "$@" ;;
    capture) capture ;;
    tmin) need_fuzz; cd fuzz; rustup run nightly cargo fuzz tmin -s none -a "$2" "$3" ;;
    *) echo "usage: tools/fuzz.sh run [SECONDS] [TARGET...] | capture | tmin TARGET FILE" >&2; exit 2 ;;
esac
