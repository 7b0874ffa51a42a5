"""kafka-python 3.x KafkaAdminClient: the same steps and output as confluent_admin.py.

Usage: kafka_python_admin.py BOOTSTRAP TOPIC_PREFIX
(kafka-python 2.0.2's admin API differs in shape and is not driven here.)
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from records import deadline, emit, text

bootstrap, prefix = sys.argv[1], sys.argv[2]
main, plain, bad = prefix + "-main", prefix + "-plain", prefix + "-bad"
admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
out = {}


def describe(topic):
    ret = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                 config_filter="all")
    cfg = ret["topic"][topic]
    return {name: {"value": c.get("value"), "source": c.get("config_source")}
            for name, c in cfg.items()}


def partitions(topic):
    for t in admin.describe_topics([topic]):
        if t.get("name") == topic and t.get("error_code", 0) == 0:
            return len(t.get("partitions", []))
    return -1


def topic_errors(result):
    msgs = []
    for t in result.get("topics", []):
        if t.get("error_code", 0) != 0:
            msgs.append("%s: %s" % (t.get("error_code"), t.get("error_message")))
    return "; ".join(msgs) or None


admin.create_topics({main: {"num_partitions": 2, "replication_factor": 1,
                            "configs": {"compression.type": "gzip"}},
                     plain: {"num_partitions": 1, "replication_factor": 1}})
out["created_partitions"] = partitions(main)

plain_cfg = describe(plain)
out["plain_config_count"] = len(plain_cfg)
out["plain_compression"] = plain_cfg.get("compression.type")
out["main_compression"] = describe(main).get("compression.type")

r = admin.alter_configs([ConfigResource("topic", main, {"retention.ms": "123456"})],
                        raise_on_unknown=False, incremental=True)
out["incremental_result"] = r["topic"][main]
out["incremental_retention"] = describe(main).get("retention.ms")

r = admin.alter_configs([ConfigResource("topic", main, {"retention.ms": "654321"})],
                        raise_on_unknown=False, incremental=False)
out["legacy_result"] = r["topic"][main]
out["legacy_retention"] = describe(main).get("retention.ms")

try:
    result = admin.create_topics({bad: {"num_partitions": 1, "replication_factor": 1,
                                        "configs": {"compression.type": "bogus"}}},
                                 raise_errors=False)
    out["bad_create_error"] = topic_errors(result)
except Exception as e:
    out["bad_create_error"] = repr(e)
out["bad_topic_exists"] = partitions(bad) > 0

r = admin.alter_configs([ConfigResource("topic", main, {"compression.type": "bogus"})],
                        raise_on_unknown=False, incremental=True)
res = r["topic"][main]
out["bad_alter_error"] = None if res == "OK" else str(res)

admin.create_partitions({main: 3})
more = deadline(10)
while partitions(main) != 3 and more():
    time.sleep(0.2)
out["partitions_after"] = partitions(main)

p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
p.send(main, key=b"new", value=b"in-partition-2", partition=2).get(timeout=15)
p.close(timeout=5)
out["unflushed"] = 0
c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
tp = TopicPartition(main, 2)
c.assign([tp])
c.seek(tp, 0)
got = None
more = deadline(15)
while got is None and more():
    for _tp, msgs in c.poll(timeout_ms=500).items():
        for m in msgs[:1]:
            got = [m.partition, text(m.key), text(m.value)]
c.close()
out["new_partition_record"] = got

admin.delete_topics([main, plain])
more = deadline(10)
while more():
    names = admin.list_topics()
    if main not in names and plain not in names:
        break
    time.sleep(0.2)
names = admin.list_topics()
out["deleted_gone"] = main not in names and plain not in names
admin.close()
emit(out)
