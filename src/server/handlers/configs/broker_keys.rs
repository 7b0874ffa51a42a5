//! This broker's settings as DescribeConfigs lists them for a BROKER resource: every
//! `server.properties` key pipit uses, with its value, Kafka type and a line of doc.

use super::rules::{TYPE_BOOLEAN, TYPE_INT, TYPE_LONG, TYPE_STRING};
use crate::server::config::{BrokerConfig, Listener};

/// A broker setting as DescribeConfigs shows it.
pub(super) struct BrokerEntry {
    pub name: &'static str,
    pub value: Option<String>,
    pub config_type: i8,
    pub doc: &'static str,
}

/// Every `server.properties` key pipit uses, with this broker's value.
pub(super) fn broker_entries(c: &BrokerConfig) -> Vec<BrokerEntry> {
    let join = |l: &[Listener]| {
        l.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let e = |name, value: Option<String>, config_type, doc| BrokerEntry {
        name,
        value,
        config_type,
        doc,
    };
    let some = |s: String| Some(s);
    vec![
        e(
            "broker.id",
            some(c.broker_id.to_string()),
            TYPE_INT,
            "This broker's id.",
        ),
        e(
            "listeners",
            some(join(&c.listeners)),
            TYPE_STRING,
            "Where the broker listens.",
        ),
        e(
            "advertised.listeners",
            c.advertised_listeners.as_deref().map(join),
            TYPE_STRING,
            "Where clients are told to connect; null: listeners.",
        ),
        e(
            "log.dirs",
            some(c.log_dir.display().to_string()),
            TYPE_STRING,
            "Directory holding every partition's ring.",
        ),
        e(
            "num.partitions",
            some(c.num_partitions.to_string()),
            TYPE_INT,
            "Partitions of an auto-created topic.",
        ),
        e(
            "default.replication.factor",
            some(c.default_replication_factor.to_string()),
            TYPE_INT,
            "Replication factor of an auto-created topic.",
        ),
        e(
            "auto.create.topics.enable",
            some(c.auto_create_topics_enable.to_string()),
            TYPE_BOOLEAN,
            "Create unknown topics when a Metadata request asks for them.",
        ),
        e(
            "log.segment.bytes",
            some(c.log_segment_bytes.to_string()),
            TYPE_INT,
            "Default segment.bytes.",
        ),
        e(
            "log.ring.segments",
            some(c.log_ring_segments.to_string()),
            TYPE_INT,
            "Default ring.segments.",
        ),
        e(
            "log.ring.bytes.max",
            some(c.log_ring_bytes_max.to_string()),
            TYPE_LONG,
            "Cap on ring bytes reserved on this node; 0: free disk only; unset: 90% of the log dir's filesystem.",
        ),
        e(
            "log.retention.ms",
            some(c.log_retention_ms.map_or("-1".into(), |n| n.to_string())),
            TYPE_LONG,
            "Default retention.ms.",
        ),
        e(
            "log.flush.interval.messages",
            some(c.log_flush_interval_messages.to_string()),
            TYPE_LONG,
            "Default flush.messages.",
        ),
        e(
            "log.flush.interval.ms",
            c.log_flush_interval_ms.map(|n| n.to_string()),
            TYPE_LONG,
            "Default flush.ms; null: no time-based flush.",
        ),
        e(
            "log.durability",
            some(c.log_durability.as_str().into()),
            TYPE_STRING,
            "Default durability: fsync or replicated.",
        ),
        e(
            "ring.full.policy",
            some(c.ring_full_policy.as_str().into()),
            TYPE_STRING,
            "Default ring.full.policy.",
        ),
        e(
            "message.max.bytes",
            some(c.message_max_bytes.to_string()),
            TYPE_INT,
            "Default max.message.bytes.",
        ),
        e(
            "socket.request.max.bytes",
            some(c.socket_request_max_bytes.to_string()),
            TYPE_INT,
            "Largest request frame accepted.",
        ),
        e(
            "max.connections",
            some(c.max_connections.to_string()),
            TYPE_INT,
            "Client connections served at once.",
        ),
        e(
            "num.network.threads",
            some(c.num_network_threads.to_string()),
            TYPE_INT,
            "Executor threads for connections and partition owners (default 1: more can reorder pipelined produce requests).",
        ),
        e(
            "num.io.threads",
            some(c.num_io_threads.to_string()),
            TYPE_INT,
            "Blocking workers for file I/O: appends, reads, syncs, rolls, preallocation.",
        ),
        e(
            "index.interval.bytes",
            some(c.index_interval_bytes.to_string()),
            TYPE_INT,
            "Default index.interval.bytes.",
        ),
        e(
            "compression.type",
            some(c.compression_type.as_str().into()),
            TYPE_STRING,
            "Default compression.type.",
        ),
        e(
            "min.insync.replicas",
            some(c.min_insync_replicas.to_string()),
            TYPE_INT,
            "Default min.insync.replicas.",
        ),
        e(
            "producer.id.expiration.ms",
            some(c.producer_limits.expiration_ms.to_string()),
            TYPE_LONG,
            "Idle time after which a partition forgets an idempotent producer's state.",
        ),
        e(
            "producer.state.max.producers",
            some(c.producer_limits.max_producers.to_string()),
            TYPE_INT,
            "Idempotent producers whose state each partition keeps (least recently used evicted).",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_entries_are_real_pipit_keys() {
        let c = BrokerConfig::default();
        let entries = broker_entries(&c);
        assert!(entries.len() >= 20);
        for e in entries.iter() {
            let Some(value) = &e.value else { continue };
            let (parsed, warnings) =
                BrokerConfig::parse("", &[(e.name.to_string(), value.clone())])
                    .unwrap_or_else(|err| panic!("{}={value}: {err:?}", e.name));
            assert!(warnings.is_empty(), "{}: {warnings:?}", e.name);
            assert!(
                parsed.explicit_keys.contains(e.name),
                "{} not a pipit key",
                e.name
            );
            assert_eq!(
                parsed,
                BrokerConfig {
                    explicit_keys: parsed.explicit_keys.clone(),
                    ..c.clone()
                },
                "{} changes its value",
                e.name
            );
        }
    }
}
