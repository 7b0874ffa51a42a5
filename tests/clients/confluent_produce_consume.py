"""confluent-kafka (librdkafka 2.x): produce with acks 0, 1 and all, consume by assign.

Usage: confluent_produce_consume.py BOOTSTRAP TOPIC_PREFIX COUNT
For each acks value the topic is TOPIC_PREFIX-<acks> (auto-created). librdkafka's
high-level Consumer refuses to start without group.id ("group.id must be set"),
so one is set, but only assign() with explicit offsets is used and commits are
off: no group API is needed for the data path. librdkafka may still look for a
coordinator in the background; such errors are collected, not fatal.
Prints {"runs": {"0"|"1"|"all": {delivered, delivery_errors, offsets, consumed}}}.
"""
import sys

from confluent_kafka import Consumer, Producer, TopicPartition

from records import deadline, emit, record, text

bootstrap, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
runs = {}
for acks in ("0", "1", "all"):
    topic = "%s-%s" % (prefix, acks)
    delivered, errors, offsets = [], [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append(1)
            offsets.append(msg.offset())

    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5,
                  "enable.idempotence": False, "message.timeout.ms": 20000})
    for i in range(count):
        k, v, h = record(acks, i)
        p.produce(topic, key=k, value=v, headers=h, partition=0, on_delivery=on_delivery)
    left = p.flush(25)

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pipit-it-unused",
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    consumed, consumer_errors = [], []
    more = deadline(20)
    while len(consumed) < count and more():
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            consumer_errors.append(str(m.error()))
            continue
        consumed.append([m.offset(), text(m.key()), text(m.value()),
                         [[hk, text(hv)] for hk, hv in (m.headers() or [])]])
    c.close()
    runs[acks] = {"delivered": len(delivered), "delivery_errors": errors, "unflushed": left,
                  "offsets": offsets, "consumed": consumed, "consumer_errors": consumer_errors[:10]}
emit({"runs": runs})
