"""A full ring with a slow consumer and an idempotent producer (confluent-kafka,
librdkafka 2.x, enable.idempotence=true, acks=all, its default retries).

Usage: ring_full_consumers.py BOOTSTRAP TOPIC POLICY COUNT
Creates TOPIC with a 2 x 64 KiB ring under ring.full.policy=POLICY (reject_new
also gets retention.ms=1000 so retention frees segments). A consumer
(auto.offset.reset=earliest, assign) reads 5 records and pauses; the producer
sends COUNT numbered 1 KiB records (about three rings' worth) and waits for
every delivery report; under reject_new retention is then turned off again.
The consumer resumes and reads to the high watermark. Prints
{"acked": [[seq, offset]...], "failed": [...], "consumed": [[offset, seq]...],
 "log_start", "high_watermark", "refused" (produce requests librdkafka saw refused
 with KAFKA_STORAGE_ERROR, from its debug log), "consumer_errors": [...]}.
"""
import logging
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from records import deadline, emit

bootstrap, topic, policy, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
admin = AdminClient({"bootstrap.servers": bootstrap})
cfg = {"segment.bytes": "65536", "ring.segments": "2", "ring.full.policy": policy,
       "max.message.bytes": "32768"}
if policy == "reject_new":
    cfg["retention.ms"] = "1000"
admin.create_topics([NewTopic(topic, 1, 1, config=cfg)])[topic].result(15)

tp = TopicPartition(topic, 0)
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "slow-reader",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
consumer.assign([TopicPartition(topic, 0, 0)])
consumed, consumer_errors = [], []


def read(until):
    while until():
        for m in consumer.consume(num_messages=100, timeout=0.2):
            if m.error() is not None:
                consumer_errors.append(str(m.error()))
            else:
                consumed.append([m.offset(), int(m.value()[:8])])
        if not until():
            break




class Refusals(logging.Handler):
    """Counts librdkafka's debug lines about produce requests the broker refused."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        line = record.getMessage()
        if "KAFKA_STORAGE_ERROR" in line or "Disk error" in line:
            self.lines.append(line)


refusals = Refusals()
log = logging.getLogger("producer")
log.addHandler(refusals)
log.setLevel(logging.DEBUG)
log.propagate = False
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "linger.ms": 5, "batch.size": 16384, "message.timeout.ms": 45000,
                     "debug": "msg,eos"}, logger=log)
# The first records go out and the consumer reads some of them, then stops.
acked, failed = [], []


def report(err, msg):
    if err is not None:
        failed.append(str(err))
    else:
        acked.append([int(msg.value()[:8]), msg.offset()])


for seq in range(5):
    producer.produce(topic, b"%08d" % seq + b"x" * 1016, on_delivery=report)
producer.flush(15)
alive = deadline(15)
read(lambda: alive() and len(consumed) < 5)
consumer.pause([tp])

for seq in range(5, count):
    while True:
        try:
            producer.produce(topic, b"%08d" % seq + b"x" * 1016, on_delivery=report)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
producer.flush(40)
producer.poll(0.2)

if policy == "reject_new":
    # Stop retention so the log start holds still while the consumer reads.
    off = dict(cfg, **{"retention.ms": "-1"})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config=off)
    admin.alter_configs([res])[res].result(15)

probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
_, hw = probe.get_watermark_offsets(tp, timeout=10)

consumer.resume([tp])
alive = deadline(20)
read(lambda: alive() and (not consumed or consumed[-1][0] < hw - 1))
consumer.close()
# After the read: a retention pass that ran just before retention.ms=-1 took
# effect moved the log start the consumer was reset to.
log_start, _ = probe.get_watermark_offsets(tp, timeout=10)
probe.close()
emit({"acked": acked, "failed": failed, "consumed": consumed, "log_start": log_start,
      "high_watermark": hw, "refused": len(refusals.lines),
      "refused_example": refusals.lines[:1], "consumer_errors": consumer_errors})
