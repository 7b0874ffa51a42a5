"""confluent-kafka AdminClient: create, describe, alter, bad value, partitions, delete.

Usage: confluent_admin.py BOOTSTRAP TOPIC_PREFIX
Prints the fields the Rust test asserts on (see tests/python_clients.rs,
`assert_admin_result`); config sources are Kafka's ConfigSource names.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigSource,
                                   ConfigResource, NewPartitions, NewTopic, ResourceType)

from records import deadline, emit, text

bootstrap, prefix = sys.argv[1], sys.argv[2]
main, plain, bad = prefix + "-main", prefix + "-plain", prefix + "-bad"
admin = AdminClient({"bootstrap.servers": bootstrap, "allow.auto.create.topics": False})
out = {}


def err_text(e):
    if isinstance(e, KafkaException) and e.args:
        k = e.args[0]
        return "%s: %s" % (k.name(), k.str())
    return repr(e)


def describe(topic):
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([res])[res].result(timeout=15)
    return {name: {"value": e.value, "source": ConfigSource(e.source).name} for name, e in entries.items()}


def partitions(topic):
    # All topics, never one by name: a by-name Metadata request may auto-create it.
    t = admin.list_topics(timeout=10).topics.get(topic)
    if t is None or t.error is not None:
        return -1
    return len(t.partitions)


fs = admin.create_topics([
    NewTopic(main, num_partitions=2, replication_factor=1, config={"compression.type": "gzip"}),
    NewTopic(plain, num_partitions=1, replication_factor=1),
], operation_timeout=10)
for f in fs.values():
    f.result(timeout=15)
out["created_partitions"] = partitions(main)

plain_cfg = describe(plain)
out["plain_config_count"] = len(plain_cfg)
out["plain_compression"] = plain_cfg.get("compression.type")
out["main_compression"] = describe(main).get("compression.type")

res = ConfigResource(ResourceType.TOPIC, main, incremental_configs=[
    ConfigEntry("retention.ms", "123456", incremental_operation=AlterConfigOpType.SET)])
admin.incremental_alter_configs([res])[res].result(timeout=15)
out["incremental_retention"] = describe(main).get("retention.ms")

res = ConfigResource(ResourceType.TOPIC, main, set_config={"retention.ms": "654321"})
admin.alter_configs([res])[res].result(timeout=15)
out["legacy_retention"] = describe(main).get("retention.ms")

try:
    admin.create_topics([NewTopic(bad, num_partitions=1, replication_factor=1,
                                  config={"compression.type": "bogus"})])[bad].result(timeout=15)
    out["bad_create_error"] = None
except Exception as e:
    out["bad_create_error"] = err_text(e)
out["bad_topic_exists"] = partitions(bad) > 0

res = ConfigResource(ResourceType.TOPIC, main, incremental_configs=[
    ConfigEntry("compression.type", "bogus", incremental_operation=AlterConfigOpType.SET)])
try:
    admin.incremental_alter_configs([res])[res].result(timeout=15)
    out["bad_alter_error"] = None
except Exception as e:
    out["bad_alter_error"] = err_text(e)

admin.create_partitions([NewPartitions(main, 3)])[main].result(timeout=15)
more = deadline(10)
while partitions(main) != 3 and more():
    time.sleep(0.2)
out["partitions_after"] = partitions(main)

p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
p.produce(main, key="new", value="in-partition-2", partition=2)
out["unflushed"] = p.flush(15)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "pipit-it-unused",
              "enable.auto.commit": False})
c.assign([TopicPartition(main, 2, 0)])
got = None
more = deadline(15)
while got is None and more():
    m = c.poll(0.5)
    if m is not None and not m.error():
        got = [m.partition(), text(m.key()), text(m.value())]
c.close()
out["new_partition_record"] = got

for f in admin.delete_topics([main, plain], operation_timeout=10).values():
    f.result(timeout=15)
more = deadline(10)
while more():
    names = admin.list_topics(timeout=10).topics
    if main not in names and plain not in names:
        break
    time.sleep(0.2)
names = admin.list_topics(timeout=10).topics
out["deleted_gone"] = main not in names and plain not in names
emit(out)
