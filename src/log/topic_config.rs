//! Per-topic configuration: the topic-level keys Kafka clients know (`segment.bytes`, `retention.ms`,
//! `compression.type`, …) plus pipit's ring keys, each with its default taken from the broker.
//!
//! One static table, [`TOPIC_CONFIGS`], holds every key with its doc, its broker-level default, its
//! parser/validator and whether it is read-only, so DescribeConfigs can list every config with its value,
//! default and source. A [`TopicConfig`] always holds valid, typed values: a rejected `set` changes nothing.
//! This module also owns the value vocabulary ([`Allowed`], the enums, the ranges) that the broker's
//! `server.properties` parser reuses, so a key has one range wherever it is set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;

/// Kafka's "no limit" for longs (`Long.MAX_VALUE`), shown for `flush.messages`/`flush.ms` when unset.
pub const KAFKA_LONG_MAX: i64 = i64::MAX;
/// Bytes an empty segment keeps beyond one maximal batch (room for the segment's own bookkeeping), so a
/// batch of `max.message.bytes` always fits: `max.message.bytes <= segment.bytes - SEGMENT_HEADROOM_BYTES`.
pub const SEGMENT_HEADROOM_BYTES: i64 = 4096;

pub const SEGMENT_BYTES_RANGE: RangeInclusive<i64> = 64 * 1024..=1 << 30;
pub const RING_SEGMENTS_RANGE: RangeInclusive<i64> = 2..=64;
pub const RETENTION_MS_RANGE: RangeInclusive<i64> = 1..=i64::MAX;
pub const MAX_MESSAGE_BYTES_RANGE: RangeInclusive<i64> = 1024..=64 << 20;
pub const FLUSH_MESSAGES_RANGE: RangeInclusive<i64> = 1..=i64::MAX;
pub const FLUSH_MS_RANGE: RangeInclusive<i64> = 0..=i64::MAX;
pub const MIN_INSYNC_REPLICAS_RANGE: RangeInclusive<i64> = 1..=5;
pub const INDEX_INTERVAL_BYTES_RANGE: RangeInclusive<i64> = 64..=1 << 20;

/// What a key accepts; rendered after "invalid value 'v' for key: ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    OneOf(&'static [&'static str]),
    IntRange {
        min: i64,
        max: i64,
    },
    /// Kafka's "-1 means unlimited" longs.
    MinusOneOrRange {
        min: i64,
        max: i64,
    },
    Bool,
    Listeners,
    NonEmpty,
    /// A limit set by another key, e.g. `max.message.bytes` by `segment.bytes`.
    AtMost {
        max: i64,
        other_key: &'static str,
        other_value: i64,
    },
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::OneOf(v) => write!(f, "allowed values are {}", v.join(", ")),
            Allowed::IntRange { min, max } => {
                write!(f, "must be an integer between {min} and {max}")
            }
            Allowed::MinusOneOrRange { min, max } => {
                write!(f, "must be -1 or an integer between {min} and {max}")
            }
            Allowed::Bool => f.write_str("must be true or false"),
            Allowed::Listeners => {
                f.write_str("must be one PLAINTEXT://host:port (pipit serves a single listener)")
            }
            Allowed::NonEmpty => f.write_str("must not be empty"),
            Allowed::AtMost {
                max,
                other_key,
                other_value,
            } => write!(
                f,
                "must be at most {max} ({other_key}={other_value} minus {SEGMENT_HEADROOM_BYTES} bytes of segment headroom)"
            ),
        }
    }
}

/// Parses an integer in `range`.
pub fn parse_int(value: &str, range: RangeInclusive<i64>) -> Result<i64, Allowed> {
    let err = || Allowed::IntRange {
        min: *range.start(),
        max: *range.end(),
    };
    let n: i64 = value.trim().parse().map_err(|_| err())?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(err())
    }
}

/// Parses Kafka's `-1 = unlimited` long; `None` means -1.
pub fn parse_minus_one_or(value: &str, range: RangeInclusive<i64>) -> Result<Option<i64>, Allowed> {
    let err = || Allowed::MinusOneOrRange {
        min: *range.start(),
        max: *range.end(),
    };
    match value.trim().parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(err()),
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $names:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        /// Every accepted spelling, in Kafka's order.
        pub const $names: &[&str] = &[$($text),+];
        impl $name {
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            /// Parses the exact (case-sensitive) spelling, as Kafka's ValidString does.
            pub fn parse(s: &str) -> Result<Self, Allowed> {
                match s.trim() { $($text => Ok($name::$variant),)+ _ => Err(Allowed::OneOf($names)) }
            }
        }
    };
}

string_enum!(
    /// `log.durability`: when an append counts as durable.
    Durability, DURABILITY_NAMES { Fsync = "fsync", Replicated = "replicated" }
);
string_enum!(
    /// `ring.full.policy`: what a produce does when every ring slot holds live data.
    RingFullPolicy, RING_FULL_POLICY_NAMES { OverwriteOldest = "overwrite_oldest", RejectNew = "reject_new" }
);
string_enum!(
    /// `compression.type`; `Producer` keeps whatever codec the producer used.
    CompressionType, COMPRESSION_TYPE_NAMES {
        Uncompressed = "uncompressed", Zstd = "zstd", Lz4 = "lz4", Snappy = "snappy", Gzip = "gzip",
        Producer = "producer",
    }
);

/// The broker-level values topic defaults come from (filled by the server's `BrokerConfig::topic_defaults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerDefaults {
    /// What a topic with no settings of its own gets.
    pub values: TopicValues,
    /// Broker keys set in `server.properties` or by `--override` (source STATIC_BROKER_CONFIG).
    pub static_keys: BTreeSet<String>,
}

/// The effective, typed values of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicValues {
    pub segment_bytes: u32,
    pub ring_segments: u32,
    pub ring_full_policy: RingFullPolicy,
    /// `None`: keep until the ring overwrites (Kafka's -1).
    pub retention_ms: Option<u64>,
    pub max_message_bytes: u32,
    pub compression_type: CompressionType,
    pub flush_messages: u64,
    /// `None`: never flush by time (Kafka shows Long.MAX_VALUE).
    pub flush_ms: Option<u64>,
    pub min_insync_replicas: u16,
    pub index_interval_bytes: u32,
    pub durability: Durability,
}

impl TopicValues {
    /// Small rings for tests: `ring_segments` slots of `segment_bytes`,
    /// overwrite_oldest, fsync durability, no flush interval or retention.
    #[cfg(test)]
    pub fn for_tests(segment_bytes: u32, ring_segments: u32) -> Self {
        TopicValues {
            segment_bytes,
            ring_segments,
            ring_full_policy: RingFullPolicy::OverwriteOldest,
            retention_ms: None,
            max_message_bytes: segment_bytes / 2,
            compression_type: CompressionType::Producer,
            flush_messages: u64::MAX,
            flush_ms: None,
            min_insync_replicas: 1,
            index_interval_bytes: 4096,
            durability: Durability::Fsync,
        }
    }

    /// `retention.bytes`: fixed by the ring, segment.bytes × ring.segments.
    pub fn retention_bytes(&self) -> u64 {
        u64::from(self.segment_bytes) * u64::from(self.ring_segments)
    }
}

/// Why a topic config change was refused. The message names the key, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicConfigError {
    UnknownKey {
        key: String,
    },
    InvalidValue {
        key: &'static str,
        value: String,
        allowed: Allowed,
    },
    /// A value Kafka knows that pipit does not implement (`cleanup.policy=compact`, `LogAppendTime`).
    Unsupported {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    ReadOnly {
        key: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for TopicConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicConfigError::UnknownKey { key } => write!(f, "unknown topic config '{key}'"),
            // Kafka's own text, which tools and users already know.
            TopicConfigError::InvalidValue {
                key: "compression.type",
                ..
            } => {
                write!(
                    f,
                    "String must be one of: {}",
                    COMPRESSION_TYPE_NAMES.join(", ")
                )
            }
            TopicConfigError::InvalidValue {
                key,
                value,
                allowed,
            } => {
                write!(f, "invalid value '{value}' for {key}: {allowed}")
            }
            TopicConfigError::Unsupported { key, value, reason } => {
                write!(f, "unsupported value '{value}' for {key}: {reason}")
            }
            TopicConfigError::ReadOnly { key, reason } => write!(f, "{key} is read-only: {reason}"),
        }
    }
}

impl std::error::Error for TopicConfigError {}

/// Kafka's DescribeConfigs `config_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    TopicConfig,
    StaticBrokerConfig,
    DefaultConfig,
}

impl ConfigSource {
    /// The wire value (DescribeConfigsResponse ConfigSource).
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigSource::TopicConfig => 1,
            ConfigSource::StaticBrokerConfig => 4,
            ConfigSource::DefaultConfig => 5,
        }
    }
}

/// One row of DescribeConfigs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntryView {
    pub name: &'static str,
    pub value: String,
    pub default: String,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    pub doc: &'static str,
}

type Setter = fn(&mut TopicValues, &str) -> Result<(), Allowed>;

/// One topic-level key.
pub struct ConfigDef {
    pub name: &'static str,
    pub doc: &'static str,
    /// The broker key its default comes from, if any.
    pub broker_key: Option<&'static str>,
    pub read_only: bool,
    pub sensitive: bool,
    /// Validates and stores a value; `Err` leaves the values untouched.
    pub set: Setter,
    pub get: fn(&TopicValues) -> String,
}

impl ConfigDef {
    /// The default, derived from the broker's values.
    pub fn default_value(&self, d: &BrokerDefaults) -> String {
        (self.get)(&d.values)
    }
}

fn opt_or(v: Option<u64>, none: i64) -> String {
    v.map_or(none.to_string(), |n| n.to_string())
}
fn to_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX) // callers pass values already range-checked to fit
}
fn to_u16(n: i64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX) // callers pass values already range-checked to fit
}
fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0) // callers pass non-negative, range-checked values
}

const RETENTION_BYTES_READ_ONLY: &str = "pipit keeps segment.bytes x ring.segments per partition in a preallocated ring; set those instead";

/// Every topic-level key pipit knows, in the order DescribeConfigs lists them. Laid out as a table, one key
/// per row group; `set` validates and stores, `get` renders (the default is `get` on the broker's values).
#[rustfmt::skip]
pub static TOPIC_CONFIGS: &[ConfigDef] = &[
    ConfigDef { name: "cleanup.policy", broker_key: None, read_only: false, sensitive: false,
        doc: "Only delete: old data leaves the ring as it is overwritten or expires.",
        set: |_, v| if v == "delete" { Ok(()) } else { Err(Allowed::OneOf(&["delete"])) },
        get: |_| "delete".into() },
    ConfigDef { name: "compression.type", broker_key: Some("compression.type"), read_only: false, sensitive: false,
        doc: "Codec batches are stored with; producer keeps the producer's codec.",
        set: |t, v| { t.compression_type = CompressionType::parse(v)?; Ok(()) },
        get: |t| t.compression_type.as_str().into() },
    ConfigDef { name: "durability", broker_key: Some("log.durability"), read_only: false, sensitive: false,
        doc: "fsync: an ack means fdatasync'd; replicated: in memory on the ISR (Kafka's meaning).",
        set: |t, v| { t.durability = Durability::parse(v)?; Ok(()) },
        get: |t| t.durability.as_str().into() },
    ConfigDef { name: "flush.messages", broker_key: Some("log.flush.interval.messages"), read_only: false, sensitive: false,
        doc: "Force an fsync after this many messages.",
        set: |t, v| { t.flush_messages = to_u64(parse_int(v, FLUSH_MESSAGES_RANGE)?); Ok(()) },
        get: |t| t.flush_messages.to_string() },
    ConfigDef { name: "flush.ms", broker_key: Some("log.flush.interval.ms"), read_only: false, sensitive: false,
        doc: "Force an fsync after this many milliseconds.",
        set: |t, v| { let n = parse_int(v, FLUSH_MS_RANGE)?; t.flush_ms = (n != KAFKA_LONG_MAX).then(|| to_u64(n)); Ok(()) },
        get: |t| opt_or(t.flush_ms, KAFKA_LONG_MAX) },
    ConfigDef { name: "index.interval.bytes", broker_key: Some("index.interval.bytes"), read_only: false, sensitive: false,
        doc: "Bytes of log between two offset-index entries.",
        set: |t, v| { t.index_interval_bytes = to_u32(parse_int(v, INDEX_INTERVAL_BYTES_RANGE)?); Ok(()) },
        get: |t| t.index_interval_bytes.to_string() },
    ConfigDef { name: "max.message.bytes", broker_key: Some("message.max.bytes"), read_only: false, sensitive: false,
        doc: "Largest record batch accepted, log overhead included.",
        set: |t, v| { t.max_message_bytes = to_u32(parse_int(v, MAX_MESSAGE_BYTES_RANGE)?); Ok(()) },
        get: |t| t.max_message_bytes.to_string() },
    ConfigDef { name: "message.timestamp.type", broker_key: None, read_only: false, sensitive: false,
        doc: "Only CreateTime: the producer's timestamp is kept.",
        set: |_, v| if v == "CreateTime" { Ok(()) } else { Err(Allowed::OneOf(&["CreateTime", "LogAppendTime"])) },
        get: |_| "CreateTime".into() },
    ConfigDef { name: "min.insync.replicas", broker_key: Some("min.insync.replicas"), read_only: false, sensitive: false,
        doc: "ISR members needed for an acks=all produce.",
        set: |t, v| { t.min_insync_replicas = to_u16(parse_int(v, MIN_INSYNC_REPLICAS_RANGE)?); Ok(()) },
        get: |t| t.min_insync_replicas.to_string() },
    ConfigDef { name: "retention.bytes", broker_key: None, read_only: true, sensitive: false,
        doc: "Read-only: segment.bytes x ring.segments, the preallocated ring.",
        set: |_, _| Ok(()),
        get: |t| t.retention_bytes().to_string() },
    ConfigDef { name: "retention.ms", broker_key: Some("log.retention.ms"), read_only: false, sensitive: false,
        doc: "Age after which data expires; -1 keeps it until the ring overwrites it.",
        set: |t, v| { t.retention_ms = parse_minus_one_or(v, RETENTION_MS_RANGE)?.map(to_u64); Ok(()) },
        get: |t| opt_or(t.retention_ms, -1) },
    ConfigDef { name: "ring.full.policy", broker_key: Some("ring.full.policy"), read_only: false, sensitive: false,
        doc: "overwrite_oldest advances the log start offset; reject_new refuses produces.",
        set: |t, v| { t.ring_full_policy = RingFullPolicy::parse(v)?; Ok(()) },
        get: |t| t.ring_full_policy.as_str().into() },
    ConfigDef { name: "ring.segments", broker_key: Some("log.ring.segments"), read_only: false, sensitive: false,
        doc: "Segments in each partition's ring, preallocated at creation.",
        set: |t, v| { t.ring_segments = to_u32(parse_int(v, RING_SEGMENTS_RANGE)?); Ok(()) },
        get: |t| t.ring_segments.to_string() },
    ConfigDef { name: "segment.bytes", broker_key: Some("log.segment.bytes"), read_only: false, sensitive: false,
        doc: "Size of each preallocated segment file.",
        set: |t, v| { t.segment_bytes = to_u32(parse_int(v, SEGMENT_BYTES_RANGE)?); Ok(()) },
        get: |t| t.segment_bytes.to_string() },
];

/// Looks a topic key up in [`TOPIC_CONFIGS`].
pub fn config_def(key: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == key)
}

/// The ring shape a topic's partitions were reserved with. It is fixed at creation and persisted with the
/// topic, so a later change of the broker's defaults applies to new topics only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RingShape {
    pub segment_bytes: u32,
    pub ring_segments: u32,
    pub index_interval_bytes: u32,
}

impl RingShape {
    pub fn of(v: &TopicValues) -> Self {
        RingShape {
            segment_bytes: v.segment_bytes,
            ring_segments: v.ring_segments,
            index_interval_bytes: v.index_interval_bytes,
        }
    }
    fn apply(self, v: &mut TopicValues) {
        v.segment_bytes = self.segment_bytes;
        v.ring_segments = self.ring_segments;
        v.index_interval_bytes = self.index_interval_bytes;
    }
}

/// A topic's configuration: broker defaults plus the keys set on the topic (and, once created, its ring shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    defaults: BrokerDefaults,
    values: TopicValues,
    /// Keys set on the topic, with the value as given (trimmed).
    set_keys: BTreeMap<&'static str, String>,
    /// The shape the topic's rings have on disk; wins over the broker's defaults.
    shape: Option<RingShape>,
}

impl TopicConfig {
    pub fn from_broker(defaults: &BrokerDefaults) -> Self {
        TopicConfig {
            defaults: defaults.clone(),
            values: defaults.values.clone(),
            set_keys: BTreeMap::new(),
            shape: None,
        }
    }

    /// Rebuilds a created topic: the broker's defaults, then its ring `shape` (which wins over them: the
    /// rings on disk have it), then its overrides. A `max.message.bytes` default that does not fit the
    /// shape's segments is lowered to fit; a value set on the topic is checked as usual.
    pub fn restore(
        defaults: &BrokerDefaults,
        overrides: &[(String, String)],
        shape: RingShape,
    ) -> Result<Self, TopicConfigError> {
        let mut t = Self::from_broker(defaults);
        shape.apply(&mut t.values);
        let fits = i64::from(shape.segment_bytes) - SEGMENT_HEADROOM_BYTES;
        if i64::from(t.values.max_message_bytes) > fits {
            t.values.max_message_bytes = to_u32(fits.max(0));
        }
        t.shape = Some(shape);
        t.set_all(overrides)?;
        Ok(t)
    }

    /// The same topic with `overrides` replacing its own settings (AlterConfigs): its ring shape stays.
    pub fn with_new_overrides(
        &self,
        overrides: &[(String, String)],
    ) -> Result<Self, TopicConfigError> {
        match self.shape {
            Some(shape) => Self::restore(&self.defaults, overrides, shape),
            None => Self::with_overrides(&self.defaults, overrides),
        }
    }

    /// Fixes the ring shape at the current values (at creation, before the rings are reserved).
    pub fn pin_shape(&mut self) -> RingShape {
        let shape = RingShape::of(&self.values);
        self.shape = Some(shape);
        shape
    }

    /// The ring shape of the current values.
    pub fn shape(&self) -> RingShape {
        RingShape::of(&self.values)
    }

    /// Rebuilds a topic from persisted [`TopicConfig::overrides`].
    pub fn with_overrides(
        defaults: &BrokerDefaults,
        overrides: &[(String, String)],
    ) -> Result<Self, TopicConfigError> {
        let mut t = Self::from_broker(defaults);
        t.set_all(overrides)?;
        Ok(t)
    }

    /// The effective typed values.
    pub fn values(&self) -> &TopicValues {
        &self.values
    }

    /// Sets one key on the topic; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), TopicConfigError> {
        self.set_all(&[(key.to_string(), value.to_string())])
    }

    /// Sets several keys at once (AlterConfigs, CreateTopics): limits between keys are checked on the
    /// result, so raising `segment.bytes` and `max.message.bytes` together works in any order. On error
    /// nothing changes.
    pub fn set_all(&mut self, pairs: &[(String, String)]) -> Result<(), TopicConfigError> {
        let mut next = self.values.clone();
        let mut set_keys = self.set_keys.clone();
        for (key, value) in pairs {
            let (name, value) = apply_one(&mut next, key, value)?;
            set_keys.insert(name, value);
        }
        // A `max.message.bytes` the topic does not set (the broker's) is lowered
        // to fit a smaller `segment.bytes`, as at the broker level; a value set
        // on the topic is refused below when it cannot fit.
        if !set_keys.contains_key("max.message.bytes") {
            let fits = i64::from(next.segment_bytes) - SEGMENT_HEADROOM_BYTES;
            if i64::from(next.max_message_bytes) > fits {
                next.max_message_bytes = to_u32(fits.max(0));
            }
        }
        check_message_fits(&next).map_err(|(key, allowed)| {
            let value = next.max_message_bytes.to_string();
            TopicConfigError::InvalidValue {
                key,
                value,
                allowed,
            }
        })?;
        self.values = next;
        self.set_keys = set_keys;
        Ok(())
    }

    /// Every config with its value, default and source, in table order.
    pub fn describe(&self) -> Vec<ConfigEntryView> {
        TOPIC_CONFIGS
            .iter()
            .map(|d| {
                let value = (d.get)(&self.values);
                let default = d.default_value(&self.defaults);
                // A value the topic did not set that differs from the broker's default was fixed when the
                // topic's rings were reserved: it is the topic's own.
                let source = if self.set_keys.contains_key(d.name) || value != default {
                    ConfigSource::TopicConfig
                } else if d
                    .broker_key
                    .is_some_and(|b| self.defaults.static_keys.contains(b))
                {
                    ConfigSource::StaticBrokerConfig
                } else {
                    ConfigSource::DefaultConfig
                };
                ConfigEntryView {
                    name: d.name,
                    value,
                    default,
                    source,
                    read_only: d.read_only,
                    sensitive: d.sensitive,
                    doc: d.doc,
                }
            })
            .collect()
    }

    /// Only the keys set on the topic, to persist.
    pub fn overrides(&self) -> Vec<(String, String)> {
        self.set_keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

/// Validates and stores one key into `t`; returns the key's static name and the trimmed value.
fn apply_one(
    t: &mut TopicValues,
    key: &str,
    value: &str,
) -> Result<(&'static str, String), TopicConfigError> {
    let def = config_def(key).ok_or_else(|| TopicConfigError::UnknownKey {
        key: key.to_string(),
    })?;
    let value = value.trim();
    if def.read_only {
        return Err(TopicConfigError::ReadOnly {
            key: def.name,
            reason: RETENTION_BYTES_READ_ONLY,
        });
    }
    let unsupported = |reason| TopicConfigError::Unsupported {
        key: def.name,
        value: value.into(),
        reason,
    };
    match (def.name, value) {
        ("cleanup.policy", "compact" | "compact,delete" | "delete,compact") => {
            return Err(unsupported(
                "pipit does not compact logs; only delete is supported",
            ));
        }
        ("message.timestamp.type", "LogAppendTime") => {
            return Err(unsupported("only CreateTime is supported for now"));
        }
        _ => {}
    }
    (def.set)(t, value).map_err(|allowed| TopicConfigError::InvalidValue {
        key: def.name,
        value: value.into(),
        allowed,
    })?;
    Ok((def.name, value.to_string()))
}

/// A batch of `max.message.bytes` must fit an empty segment. Returns the key to blame and what it allows.
fn check_message_fits(t: &TopicValues) -> Result<(), (&'static str, Allowed)> {
    let max = i64::from(t.segment_bytes) - SEGMENT_HEADROOM_BYTES;
    if i64::from(t.max_message_bytes) <= max {
        return Ok(());
    }
    let other_value = i64::from(t.segment_bytes);
    Err((
        "max.message.bytes",
        Allowed::AtMost {
            max,
            other_key: "segment.bytes",
            other_value,
        },
    ))
}

#[cfg(test)]
#[path = "topic_config_tests.rs"]
mod tests;
