"""Idempotent producers with their defaults: kafka-python 3 (idempotence on by
default since KIP-679) and confluent-kafka with enable.idempotence=true.

Usage: idempotent_produce.py BOOTSTRAP TOPIC_PREFIX COUNT
Prints {"kafka_python": [values read back], "confluent": [values read back],
        "errors": [...]}.
"""
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaProducer

from records import emit

bootstrap, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []

kp_topic = prefix + "-kp"
kp = KafkaProducer(bootstrap_servers=bootstrap)  # defaults: idempotence on, acks=all
futures = [kp.send(kp_topic, b"kp-%d" % i) for i in range(count)]
for f in futures:
    try:
        f.get(timeout=30)
    except Exception as e:  # noqa: BLE001 - reported to the Rust test
        errors.append("kafka-python: %r" % e)
kp.close()

ck_topic = prefix + "-ck"
ck = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
for i in range(count):
    ck.produce(ck_topic, b"ck-%d" % i,
               on_delivery=lambda err, msg: errors.append("confluent: %s" % err) if err else None)
ck.flush(30)


def read_back(topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "idem-probe",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    for _ in range(200):
        msgs = c.consume(num_messages=1000, timeout=0.5)
        out += [m.value().decode() for m in msgs if m.error() is None]
        if len(out) >= count:
            break
    c.close()
    return out


emit({"kafka_python": read_back(kp_topic), "confluent": read_back(ck_topic), "errors": errors})
