"""confluent-kafka: keeps producing (acks=all) for SECONDS, then reports its acks.

Usage: confluent_background_producer.py BOOTSTRAP TOPIC SECONDS
Sends one small record every 10 ms on one connection while other tests abuse the
broker; prints {"sent", "acked", "errors", "unflushed"}.
"""
import sys
import time

from confluent_kafka import Producer

from records import deadline, emit

bootstrap, topic, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
acked, errors = [0], []


def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        acked[0] += 1


p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
              "enable.idempotence": False, "message.timeout.ms": 20000})
sent = 0
more = deadline(seconds)
while more():
    p.produce(topic, value=b"steady-%d" % sent, partition=0, on_delivery=on_delivery)
    sent += 1
    p.poll(0)
    time.sleep(0.005)  # about 200 records/s: steady load, not a flood
left = p.flush(20)
emit({"sent": sent, "acked": acked[0], "errors": errors[:10], "unflushed": left})
