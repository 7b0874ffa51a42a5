"""confluent-kafka AdminClient: create a topic with 3 partitions and compression.type=lz4,
or report what the broker says about it (for the restart test).

Usage: confluent_topic_meta.py create|check BOOTSTRAP
create prints {"ok": true}; check prints {"partitions": n, "compression": value}.
"""
import sys

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from records import emit

TOPIC = "kept-config"
mode, bootstrap = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap, "allow.auto.create.topics": False})
if mode == "create":
    fs = admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1,
                                       config={"compression.type": "lz4"})])
    fs[TOPIC].result(timeout=15)
    emit({"ok": True})
else:
    t = admin.list_topics(timeout=10).topics.get(TOPIC)
    partitions = -1 if t is None or t.error is not None else len(t.partitions)
    res = ConfigResource(ResourceType.TOPIC, TOPIC)
    entry = admin.describe_configs([res])[res].result(timeout=15).get("compression.type")
    emit({"partitions": partitions, "compression": entry.value if entry else None})
