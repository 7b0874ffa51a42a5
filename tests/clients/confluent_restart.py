"""confluent-kafka: acks=all produce of seeded binary records, or consume them all back.

Usage: confluent_restart.py produce BOOTSTRAP TOPIC FIRST COUNT
       confluent_restart.py consume BOOTSTRAP TOPIC COUNT
Record i has key "key-<i>" and a value of 1..600 bytes from random.Random(i), every
byte value possible. produce prints {"acked": [[offset, key, value_hex]...],
"errors": [...]}; consume prints {"records": [[offset, key, value_hex]...]} in
offset order, reading until COUNT records or 20 s.
"""
import random
import sys

from confluent_kafka import Consumer, Producer, TopicPartition

from records import deadline, emit, text


def value(i):
    rng = random.Random(i)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 601)))


mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "produce":
    first, count = int(sys.argv[4]), int(sys.argv[5])
    acked, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append([msg.offset(), text(msg.key()), msg.value().hex()])

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                  "enable.idempotence": False, "message.timeout.ms": 20000})
    for i in range(first, first + count):
        p.produce(topic, key="key-%d" % i, value=value(i), partition=0, on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(25)
    acked.sort()
    emit({"acked": acked, "errors": errors, "unflushed": left})
elif mode == "consume":
    count = int(sys.argv[4])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pipit-it-unused",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    records, errors = [], []
    more = deadline(20)
    while len(records) < count and more():
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            errors.append(str(m.error()))
            continue
        records.append([m.offset(), text(m.key()), m.value().hex()])
    c.close()
    emit({"records": records, "consumer_errors": errors[:10]})
else:
    sys.exit("unknown mode %r" % mode)
