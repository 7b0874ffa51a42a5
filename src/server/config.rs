//! The broker's configuration: Kafka's `server.properties` (Java properties syntax) plus `--override key=value`
//! pairs, which win over the file.
//!
//! Kafka's key names are used wherever Kafka has the concept. Every key has a default and a range or an allowed
//! set; a bad value is a [`ConfigError`] naming the key, the value and what is allowed, and the whole file is
//! refused. A Kafka key pipit does not use, and a key nobody knows, are accepted with a [`ConfigWarning`]. A
//! parsed [`BrokerConfig`] is always internally consistent (e.g. a maximal batch fits an empty segment).
//! Aliases (`node.id` = `broker.id`, `log.dir` = `log.dirs`) are one key: the later setting wins.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use crate::log::producer_state::ProducerLimits;
use crate::protocol::properties::parse_properties;

use crate::log::topic_config::{
    Allowed, BrokerDefaults, CompressionType, Durability, FLUSH_MESSAGES_RANGE, FLUSH_MS_RANGE,
    INDEX_INTERVAL_BYTES_RANGE, MAX_MESSAGE_BYTES_RANGE, MIN_INSYNC_REPLICAS_RANGE,
    RETENTION_MS_RANGE, RING_SEGMENTS_RANGE, RingFullPolicy, SEGMENT_BYTES_RANGE,
    SEGMENT_HEADROOM_BYTES, TopicValues, parse_int, parse_minus_one_or,
};

/// One `PLAINTEXT://host:port` listener. An empty host (`PLAINTEXT://:9092`) means all interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub host: String,
    /// 0 asks the OS for an ephemeral port.
    pub port: u16,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "PLAINTEXT://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "PLAINTEXT://{}:{}", self.host, self.port)
        }
    }
}

/// The broker's settings, typed. `Default` is what an empty `server.properties` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub broker_id: i32,
    pub listeners: Vec<Listener>,
    /// `None`: advertise `listeners`.
    pub advertised_listeners: Option<Vec<Listener>>,
    /// The first entry of `log.dirs`.
    pub log_dir: PathBuf,
    pub num_partitions: u32,
    pub default_replication_factor: u16,
    pub auto_create_topics_enable: bool,
    pub log_segment_bytes: u32,
    pub log_ring_segments: u32,
    /// Node-wide cap on reserved ring bytes; 0 = no cap besides free disk. When not set (not in
    /// `explicit_keys`) the broker caps at 90% of the log dir's filesystem (`broker::RingBytesCap`).
    pub log_ring_bytes_max: u64,
    /// `None`: keep until the ring overwrites (Kafka's -1).
    pub log_retention_ms: Option<u64>,
    pub log_flush_interval_messages: u64,
    /// `None`: no time-based flush (durability comes from `log.durability`).
    pub log_flush_interval_ms: Option<u64>,
    pub log_durability: Durability,
    pub ring_full_policy: RingFullPolicy,
    pub message_max_bytes: u32,
    pub socket_request_max_bytes: u32,
    pub max_connections: u32,
    pub index_interval_bytes: u32,
    pub compression_type: CompressionType,
    pub min_insync_replicas: u16,
    /// Executor threads (connections, handlers, owner tasks); default 1 (see the default).
    pub num_network_threads: u16,
    /// Blocking workers for file I/O; default: cores, at least 2 (a sync
    /// runs beside the next appends).
    pub num_io_threads: u16,
    /// Idempotent producer state per partition: Kafka's `producer.id.expiration.ms`
    /// and pipit's `producer.state.max.producers`.
    pub producer_limits: ProducerLimits,
    // Connection and response bounds (edge slice): see README's settings table.
    /// Kafka's `fetch.max.bytes`: the most record bytes one Fetch response carries.
    pub fetch_max_bytes: u32,
    /// Kafka's `connections.max.idle.ms`: a connection with nothing in flight and
    /// nothing read for this long is closed; also bounds reading one request frame.
    pub connections_max_idle_ms: u64,
    /// Kafka's `queued.max.request.bytes`: request bytes held broker-wide (read,
    /// decoded or being handled); a reader waits while the budget is spent.
    pub queued_max_request_bytes: u64,
    /// Keys set by the file or an override (canonical names): DescribeConfigs' STATIC_BROKER_CONFIG.
    pub explicit_keys: BTreeSet<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_id: 0,
            listeners: vec![Listener {
                host: "127.0.0.1".into(),
                port: 9092,
            }],
            advertised_listeners: None,
            log_dir: PathBuf::from("./data"),
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            log_segment_bytes: 16 << 20,
            log_ring_segments: 8,
            log_ring_bytes_max: 0,
            log_retention_ms: None,
            log_flush_interval_messages: i64::MAX as u64, // Kafka's default: Long.MAX_VALUE
            log_flush_interval_ms: None,
            log_durability: Durability::Fsync,
            ring_full_policy: RingFullPolicy::OverwriteOldest,
            message_max_bytes: 1_048_588, // Kafka's default: 1 MiB + 12 bytes of log overhead
            socket_request_max_bytes: 16 << 20,
            max_connections: 1000,
            index_interval_bytes: 4096,
            compression_type: CompressionType::Producer,
            min_insync_replicas: 1,
            // One executor thread: pipelined Produce requests of one connection
            // are then appended in arrival order. With more, their tasks can
            // reach the partition owner out of order (seen under qemu on
            // ARMv6); until the connection hands appends over in order, values
            // above 1 are for experiments only.
            num_network_threads: 1,
            num_io_threads: cores().max(2),
            producer_limits: ProducerLimits::default(),
            // Kafka's 55 MiB would let four fetches fill a 256 MiB board unit.
            // 4 MiB still holds four maximal (1 MiB) batches per round trip,
            // plenty to keep a Pi's link busy, and a connection's 8 in-flight
            // fetches stay within 32 MiB.
            fetch_max_bytes: 4 << 20,
            connections_max_idle_ms: 600_000, // Kafka's default: 10 minutes
            // Kafka has no bound (-1). 64 MiB: four maximal (16 MiB) frames,
            // or 64 connections each sending a 1 MiB batch, at once; a quarter
            // of the board units' 256 MiB memory cap.
            queued_max_request_bytes: 64 << 20,
            explicit_keys: BTreeSet::new(),
        }
    }
}

/// The board's cores (1 when the OS will not say).
fn cores() -> u16 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(256) as u16)
}

/// A value the broker refuses. Display: `invalid value 'v' for key: <allowed>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key as written (an alias stays an alias).
    pub key: String,
    pub value: String,
    pub allowed: Allowed,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value '{}' for {}: {}",
            self.value, self.key, self.allowed
        )
    }
}

impl std::error::Error for ConfigError {}

/// Something accepted but worth telling the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub key: String,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// A Kafka broker key pipit does not use.
    IgnoredKafkaKey { reason: &'static str },
    /// Neither a Kafka broker key pipit knows nor a pipit key.
    UnknownKey,
    /// `log.dirs` listed more than one directory; only the first is used.
    ExtraLogDirs { ignored: Vec<String> },
    /// Not set, and Kafka's default would not fit: derived from another key instead.
    DerivedDefault {
        value: i64,
        kafka_default: i64,
        from_key: &'static str,
        from_value: i64,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            WarningKind::IgnoredKafkaKey { reason } => write!(f, "{}: ignored: {reason}", self.key),
            WarningKind::UnknownKey => write!(
                f,
                "{}: unknown key (not a Kafka broker key pipit knows, nor a pipit key)",
                self.key
            ),
            WarningKind::DerivedDefault {
                value,
                kafka_default,
                from_key,
                from_value,
            } => write!(
                f,
                "{}: not set; using {value} ({from_key}={from_value} minus {SEGMENT_HEADROOM_BYTES} bytes of segment headroom) instead of Kafka's default {kafka_default}, so a maximal batch fits a segment",
                self.key
            ),
            WarningKind::ExtraLogDirs { ignored } => {
                write!(
                    f,
                    "{}: pipit uses one directory; ignored: {}",
                    self.key,
                    ignored.join(",")
                )
            }
        }
    }
}

const UNUSED: &str = "pipit does not use it";
const NO_THREADS: &str =
    "pipit sizes its executor and file-I/O workers with num.network.threads and num.io.threads";
const NO_ZK: &str = "pipit has no ZooKeeper or KRaft quorum (a single broker is its own controller; clustering is not built yet)";
const ONLY_PLAINTEXT: &str = "only PLAINTEXT listeners are supported";

/// Common Kafka broker keys pipit accepts and ignores, with why.
pub const IGNORED_KAFKA_KEYS: &[(&str, &str)] = &[
    (
        "log.index.size.max.bytes",
        "pipit sizes indexes from log.segment.bytes",
    ),
    (
        "log.retention.bytes",
        "the ring fixes retention at log.segment.bytes x log.ring.segments",
    ),
    ("log.retention.check.interval.ms", UNUSED),
    (
        "log.segment.delete.delay.ms",
        "ring slots are reused, never deleted",
    ),
    ("log.roll.ms", "segments roll when full"),
    ("log.roll.hours", "segments roll when full"),
    ("log.preallocate", "pipit always preallocates its ring"),
    ("log.cleaner.enable", "pipit does not compact"),
    ("log.cleanup.policy", "only delete is supported"),
    ("log.message.timestamp.type", "only CreateTime is supported"),
    (
        "log.flush.scheduler.interval.ms",
        "flushes are group commits",
    ),
    ("log.flush.offset.checkpoint.interval.ms", UNUSED),
    ("num.recovery.threads.per.data.dir", NO_THREADS),
    ("num.replica.fetchers", NO_THREADS),
    ("num.replica.alter.log.dirs.threads", NO_THREADS),
    ("background.threads", NO_THREADS),
    ("socket.send.buffer.bytes", "the OS default is used"),
    ("socket.receive.buffer.bytes", "the OS default is used"),
    ("queued.max.requests", UNUSED),
    ("zookeeper.connect", NO_ZK),
    ("zookeeper.connection.timeout.ms", NO_ZK),
    ("zookeeper.session.timeout.ms", NO_ZK),
    ("process.roles", NO_ZK),
    ("controller.quorum.voters", NO_ZK),
    ("controller.quorum.bootstrap.servers", NO_ZK),
    ("controller.listener.names", NO_ZK),
    ("metadata.log.dir", NO_ZK),
    (
        "inter.broker.listener.name",
        "peers use pipit's own transport",
    ),
    (
        "security.inter.broker.protocol",
        "peers use pipit's own transport",
    ),
    ("listener.security.protocol.map", ONLY_PLAINTEXT),
    ("ssl.keystore.location", ONLY_PLAINTEXT),
    ("sasl.enabled.mechanisms", ONLY_PLAINTEXT),
    ("offsets.topic.replication.factor", UNUSED),
    ("offsets.topic.num.partitions", UNUSED),
    ("offsets.retention.minutes", UNUSED),
    (
        "transaction.state.log.replication.factor",
        "transactions are not supported",
    ),
    (
        "transaction.state.log.min.isr",
        "transactions are not supported",
    ),
    ("group.initial.rebalance.delay.ms", UNUSED),
    ("replica.lag.time.max.ms", UNUSED),
    ("replica.fetch.max.bytes", UNUSED),
    ("unclean.leader.election.enable", UNUSED),
    ("auto.leader.rebalance.enable", UNUSED),
    ("delete.topic.enable", "topics can always be deleted"),
    ("broker.rack", UNUSED),
];

impl BrokerConfig {
    /// Parses `server.properties` text, then applies `overrides` (which win). Warnings are for the operator.
    pub fn parse(
        properties: &str,
        overrides: &[(String, String)],
    ) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
        // canonical key -> (key as written, value); later settings win, overrides last.
        let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
        let pairs = parse_properties(properties)
            .into_iter()
            .chain(overrides.iter().cloned());
        for (key, value) in pairs {
            let key = key.trim().to_string();
            let canonical = match key.as_str() {
                "node.id" => "broker.id".to_string(),
                "log.dir" => "log.dirs".to_string(),
                _ => key.clone(),
            };
            merged.insert(canonical, (key, value.trim().to_string()));
        }
        let mut cfg = BrokerConfig::default();
        let mut warnings = Vec::new();
        // BTreeMap order applies log.retention.hours, then .minutes, then .ms: Kafka's precedence (ms wins).
        for (canonical, (written, value)) in &merged {
            let err = |allowed| ConfigError {
                key: written.clone(),
                value: value.clone(),
                allowed,
            };
            if apply(&mut cfg, canonical, value, &mut warnings).map_err(err)? {
                // The retention units are one setting, reported under Kafka's most precise key.
                let set = match canonical.as_str() {
                    "log.retention.hours" | "log.retention.minutes" => "log.retention.ms",
                    key => key,
                };
                cfg.explicit_keys.insert(set.to_string());
            } else {
                let kind = match IGNORED_KAFKA_KEYS.iter().find(|(k, _)| k == canonical) {
                    Some((_, reason)) => WarningKind::IgnoredKafkaKey { reason },
                    None => WarningKind::UnknownKey,
                };
                warnings.push(ConfigWarning {
                    key: written.clone(),
                    kind,
                });
            }
        }
        let max = i64::from(cfg.log_segment_bytes) - SEGMENT_HEADROOM_BYTES;
        if i64::from(cfg.message_max_bytes) > max
            && !cfg.explicit_keys.contains("message.max.bytes")
        {
            // Kafka's default does not fit this slot: derive it from the slot (log.segment.bytes'
            // range keeps `max` within message.max.bytes' own range).
            warnings.push(ConfigWarning {
                key: "message.max.bytes".into(),
                kind: WarningKind::DerivedDefault {
                    value: max,
                    kafka_default: i64::from(cfg.message_max_bytes),
                    from_key: "log.segment.bytes",
                    from_value: i64::from(cfg.log_segment_bytes),
                },
            });
            cfg.message_max_bytes = u32::try_from(max).unwrap_or(cfg.message_max_bytes);
        }
        if i64::from(cfg.message_max_bytes) > max {
            let other_value = i64::from(cfg.log_segment_bytes);
            let allowed = Allowed::AtMost {
                max,
                other_key: "log.segment.bytes",
                other_value,
            };
            let value = cfg.message_max_bytes.to_string();
            return Err(ConfigError {
                key: "message.max.bytes".into(),
                value,
                allowed,
            });
        }
        Ok((cfg, warnings))
    }

    /// The broker-level values topic configs default to.
    pub fn topic_defaults(&self) -> BrokerDefaults {
        let values = TopicValues {
            segment_bytes: self.log_segment_bytes,
            ring_segments: self.log_ring_segments,
            ring_full_policy: self.ring_full_policy,
            retention_ms: self.log_retention_ms,
            max_message_bytes: self.message_max_bytes,
            compression_type: self.compression_type,
            flush_messages: self.log_flush_interval_messages,
            flush_ms: self.log_flush_interval_ms,
            min_insync_replicas: self.min_insync_replicas,
            index_interval_bytes: self.index_interval_bytes,
            durability: self.log_durability,
        };
        BrokerDefaults {
            values,
            static_keys: self.explicit_keys.clone(),
        }
    }

    /// The listeners clients are told about.
    pub fn advertised(&self) -> &[Listener] {
        self.advertised_listeners
            .as_deref()
            .unwrap_or(&self.listeners)
    }
}

/// Applies one pipit key (canonical name); `Ok(false)` if pipit has no such key.
fn apply(
    c: &mut BrokerConfig,
    key: &str,
    v: &str,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<bool, Allowed> {
    const HOUR_MS: i64 = 3_600_000;
    const MINUTE_MS: i64 = 60_000;
    // Casts below are lossless: each value was range-checked to fit its field.
    match key {
        "broker.id" => c.broker_id = parse_int(v, 0..=i64::from(i32::MAX))? as i32,
        "listeners" => c.listeners = parse_listeners(v)?,
        "advertised.listeners" => c.advertised_listeners = Some(parse_listeners(v)?),
        "log.dirs" => {
            let mut dirs = v.split(',').map(str::trim).filter(|d| !d.is_empty());
            c.log_dir = PathBuf::from(dirs.next().ok_or(Allowed::NonEmpty)?);
            let ignored: Vec<String> = dirs.map(String::from).collect();
            if !ignored.is_empty() {
                let kind = WarningKind::ExtraLogDirs { ignored };
                warnings.push(ConfigWarning {
                    key: "log.dirs".into(),
                    kind,
                });
            }
        }
        "num.partitions" => c.num_partitions = parse_int(v, 1..=10_000)? as u32,
        "default.replication.factor" => c.default_replication_factor = parse_int(v, 1..=5)? as u16,
        "auto.create.topics.enable" => c.auto_create_topics_enable = parse_bool(v)?,
        "log.segment.bytes" => c.log_segment_bytes = parse_int(v, SEGMENT_BYTES_RANGE)? as u32,
        "log.ring.segments" => c.log_ring_segments = parse_int(v, RING_SEGMENTS_RANGE)? as u32,
        "log.ring.bytes.max" => c.log_ring_bytes_max = parse_int(v, 0..=i64::MAX)? as u64,
        "log.retention.hours" | "log.retention.minutes" | "log.retention.ms" => {
            let unit = match key {
                "log.retention.hours" => HOUR_MS,
                "log.retention.minutes" => MINUTE_MS,
                _ => 1,
            };
            let range = *RETENTION_MS_RANGE.start()..=RETENTION_MS_RANGE.end() / unit;
            c.log_retention_ms = parse_minus_one_or(v, range)?.map(|n| (n * unit) as u64);
        }
        "log.flush.interval.messages" => {
            c.log_flush_interval_messages = parse_int(v, FLUSH_MESSAGES_RANGE)? as u64
        }
        "log.flush.interval.ms" => {
            c.log_flush_interval_ms = Some(parse_int(v, FLUSH_MS_RANGE)? as u64)
        }
        "log.durability" => c.log_durability = Durability::parse(v)?,
        "ring.full.policy" => c.ring_full_policy = RingFullPolicy::parse(v)?,
        "message.max.bytes" => c.message_max_bytes = parse_int(v, MAX_MESSAGE_BYTES_RANGE)? as u32,
        "socket.request.max.bytes" => {
            c.socket_request_max_bytes = parse_int(v, 1024..=100 << 20)? as u32
        }
        "max.connections" => c.max_connections = parse_int(v, 1..=65_535)? as u32,
        "num.network.threads" => c.num_network_threads = parse_int(v, 1..=256)? as u16,
        "num.io.threads" => c.num_io_threads = parse_int(v, 1..=256)? as u16,
        "index.interval.bytes" => {
            c.index_interval_bytes = parse_int(v, INDEX_INTERVAL_BYTES_RANGE)? as u32
        }
        "compression.type" => c.compression_type = CompressionType::parse(v)?,
        "min.insync.replicas" => {
            c.min_insync_replicas = parse_int(v, MIN_INSYNC_REPLICAS_RANGE)? as u16
        }
        "producer.id.expiration.ms" => {
            c.producer_limits.expiration_ms = parse_int(v, 1..=i64::MAX)? as u64
        }
        "producer.state.max.producers" => {
            c.producer_limits.max_producers = parse_int(v, 1..=100_000)? as usize
        }
        // Connection and response bounds (edge slice).
        "fetch.max.bytes" => c.fetch_max_bytes = parse_int(v, 1024..=i64::from(i32::MAX))? as u32,
        "connections.max.idle.ms" => {
            c.connections_max_idle_ms = parse_int(v, 100..=i64::from(i32::MAX))? as u64
        }
        "queued.max.request.bytes" => {
            c.queued_max_request_bytes = match parse_minus_one_or(v, 1 << 20..=i64::MAX)? {
                Some(n) => n as u64,
                None => u64::MAX,
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse_bool(v: &str) -> Result<bool, Allowed> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Allowed::Bool),
    }
}

/// `PLAINTEXT://host:port`, host may be `[v6]` or empty. One listener: Kafka needs a
/// distinct listener name for each, and pipit serves a single PLAINTEXT one, so a
/// second is refused rather than accepted and silently not served.
fn parse_listeners(v: &str) -> Result<Vec<Listener>, Allowed> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = item
            .strip_prefix("PLAINTEXT://")
            .ok_or(Allowed::Listeners)?;
        let (host, port) = rest.rsplit_once(':').ok_or(Allowed::Listeners)?;
        let host = match host.strip_prefix('[') {
            Some(h) => h.strip_suffix(']').ok_or(Allowed::Listeners)?,
            None if host.contains(':') => return Err(Allowed::Listeners),
            None => host,
        };
        let port = port.parse::<u16>().map_err(|_| Allowed::Listeners)?;
        out.push(Listener {
            host: host.to_string(),
            port,
        });
    }
    if out.len() != 1 {
        return Err(Allowed::Listeners);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
