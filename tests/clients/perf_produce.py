"""Benchmark client (librdkafka via confluent-kafka): produce N records of S bytes.

Usage: perf_produce.py BOOTSTRAP TOPIC N SIZE ACKS
Latency is per record, from produce() to its delivery report. Prints one JSON
object: records, seconds, records_per_sec, mb_per_sec (MB = 2^20, as Kafka's
perf tool), latency percentiles in ms, and the client's own CPU seconds, so a
client-bound figure shows as such.
"""
import json
import resource
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, n, size, acks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
payload = bytes((i * 7 + 3) % 251 for i in range(size))
p = Producer({
    "bootstrap.servers": bootstrap,
    "acks": acks,
    "linger.ms": 5,
    "batch.size": 1000000,
    "queue.buffering.max.messages": 1000000,
    "queue.buffering.max.kbytes": 2097151,
    "enable.idempotence": False,
})
lat = []
errors = []
sent_at = {}


def make_cb(t0):
    def cb(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            lat.append(time.monotonic() - t0)
    return cb


cpu0 = resource.getrusage(resource.RUSAGE_SELF)
start = time.monotonic()
for i in range(n):
    while True:
        try:
            p.produce(topic, payload, on_delivery=make_cb(time.monotonic()))
            break
        except BufferError:
            p.poll(0.01)
    if i % 10000 == 0:
        p.poll(0)
left = p.flush(120)
elapsed = time.monotonic() - start
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
lat.sort()


def pct(q):
    return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else None


print(json.dumps({
    "records": len(lat),
    "errors": len(errors),
    "first_error": errors[0] if errors else None,
    "undelivered": left,
    "seconds": elapsed,
    "records_per_sec": len(lat) / elapsed,
    "mb_per_sec": len(lat) * size / elapsed / 1048576,
    "avg_ms": round(sum(lat) / len(lat) * 1000, 2) if lat else None,
    "max_ms": round(lat[-1] * 1000, 2) if lat else None,
    "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "p999_ms": pct(0.999),
    "client_cpu_sec": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
}))
