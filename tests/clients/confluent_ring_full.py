"""ring.full.policy=reject_new and retention.ms with confluent-kafka (librdkafka 2.x).

Usage: confluent_ring_full.py BOOTSTRAP TOPIC
Creates TOPIC with a 2 × 64 KiB ring under reject_new, produces 1 KiB records
one at a time (acks=1, no retries) until the broker refuses one. Then a second
producer with librdkafka's default retries sends one more record (refused and
retried: the error is retriable), the topic gets retention.ms=1000, and that
record must be delivered once retention frees the oldest segment. Prints
{"accepted", "refused_error", "high_watermark_when_full", "log_start_after",
 "retried_until_accepted", "retried_error"}.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from records import emit

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
cfg = {"segment.bytes": "65536", "ring.segments": "2", "ring.full.policy": "reject_new",
       "max.message.bytes": "32768"}
admin.create_topics([NewTopic(topic, 1, 1, config=cfg)])[topic].result(15)

p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "retries": 0,
              "message.timeout.ms": 5000, "linger.ms": 0, "enable.idempotence": False})
value = b"v" * 1024
accepted, refused = 0, None
for i in range(400):
    result = {}
    p.produce(topic, value, on_delivery=lambda err, msg: result.update(err=err))
    p.flush(10)
    if result.get("err") is None:
        accepted += 1
    else:
        refused = result["err"]
        break


def offsets():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ring-probe"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    return lo, hi


_, hw_full = offsets()
retrying = Producer({"bootstrap.servers": bootstrap, "acks": "1", "retry.backoff.ms": 200,
                     "message.timeout.ms": 20000, "enable.idempotence": False})
retried = {}
retrying.produce(topic, value, on_delivery=lambda err, msg: retried.update(err=err, done=True))
retrying.flush(2)
still_waiting = "done" not in retried
res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={
    **cfg, "retention.ms": "1000"})
admin.alter_configs([res])[res].result(15)
retrying.flush(20)
log_start, _ = offsets()
emit({
    "accepted": accepted,
    "refused_error": refused.name() if refused else None,
    "high_watermark_when_full": hw_full,
    "log_start_after": log_start,
    "still_waiting_before_retention": still_waiting,
    "retried_until_accepted": retried.get("done", False) and retried.get("err") is None,
    "retried_error": str(retried.get("err")),
})
