"""kafka-python (2.0.2 from Debian or 3.x from the venv): acks 0/1/all, assign+seek.

Usage: kafka_python_produce_consume.py BOOTSTRAP TOPIC_PREFIX COUNT
Topic per run: TOPIC_PREFIX-<acks>, auto-created. The consumer has group_id=None,
so no group API is ever sent. Prints {"version", "runs": {acks: {...}}}.
"""
import sys

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from records import deadline, emit, record, text

bootstrap, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = {}
for acks in (0, 1, "all"):
    tag = str(acks)
    topic = "%s-%s" % (prefix, tag)
    # kafka-python 3 keeps its idempotence default (on for acks=all: InitProducerId
    # and sequence numbers; turned off by itself for acks 0 and 1).
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=acks, linger_ms=5,
                      request_timeout_ms=20000)
    futures, errors, offsets = [], [], []
    for i in range(count):
        k, v, h = record(tag, i)
        futures.append(p.send(topic, key=k.encode(), value=v.encode(), partition=0,
                              headers=[(hk, hv.encode()) for hk, hv in h]))
    p.flush(timeout=25)
    for f in futures:
        try:
            offsets.append(f.get(timeout=5).offset)
        except Exception as e:  # reported to the Rust test, which asserts there are none
            errors.append(repr(e))
    p.close(timeout=5)

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      request_timeout_ms=30000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    consumed = []
    more = deadline(20)
    while len(consumed) < count and more():
        for _tp, msgs in c.poll(timeout_ms=500).items():
            for m in msgs:
                consumed.append([m.offset, text(m.key), text(m.value),
                                 [[hk, text(hv)] for hk, hv in (m.headers or [])]])
    c.close()
    runs[tag] = {"delivered": len(offsets), "delivery_errors": errors, "offsets": offsets,
                 "consumed": consumed}
emit({"version": kafka.__version__, "runs": runs})
