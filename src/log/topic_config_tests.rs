//! Unit tests of `topic_config` (kept apart to keep the module readable).
use super::*;

fn broker() -> BrokerDefaults {
    let values = TopicValues {
        segment_bytes: 16 << 20,
        ring_segments: 8,
        ring_full_policy: RingFullPolicy::OverwriteOldest,
        retention_ms: None,
        max_message_bytes: 1_048_588,
        compression_type: CompressionType::Producer,
        flush_messages: KAFKA_LONG_MAX as u64,
        flush_ms: None,
        min_insync_replicas: 1,
        index_interval_bytes: 4096,
        durability: Durability::Fsync,
    };
    BrokerDefaults {
        values,
        static_keys: BTreeSet::new(),
    }
}

fn row(t: &TopicConfig, name: &str) -> ConfigEntryView {
    t.describe()
        .into_iter()
        .find(|e| e.name == name)
        .expect("every key is described")
}

fn invalid(key: &'static str, value: &str, allowed: Allowed) -> TopicConfigError {
    TopicConfigError::InvalidValue {
        key,
        value: value.into(),
        allowed,
    }
}

#[test]
fn describe_lists_every_key_with_its_broker_default() {
    let t = TopicConfig::from_broker(&broker());
    let got: Vec<(&str, String)> = t
        .describe()
        .into_iter()
        .map(|e| (e.name, e.default))
        .collect();
    let want = [
        ("cleanup.policy", "delete"),
        ("compression.type", "producer"),
        ("durability", "fsync"),
        ("flush.messages", "9223372036854775807"),
        ("flush.ms", "9223372036854775807"),
        ("index.interval.bytes", "4096"),
        ("max.message.bytes", "1048588"),
        ("message.timestamp.type", "CreateTime"),
        ("min.insync.replicas", "1"),
        ("retention.bytes", "134217728"),
        ("retention.ms", "-1"),
        ("ring.full.policy", "overwrite_oldest"),
        ("ring.segments", "8"),
        ("segment.bytes", "16777216"),
    ];
    let want: Vec<(&str, String)> = want.iter().map(|(k, v)| (*k, v.to_string())).collect();
    assert_eq!(got, want);
    assert!(
        t.describe()
            .iter()
            .all(|e| e.source == ConfigSource::DefaultConfig && !e.sensitive)
    );
    assert!(
        t.describe()
            .iter()
            .all(|e| e.value == e.default && !e.doc.is_empty())
    );
    assert!(row(&t, "retention.bytes").read_only);
}

#[test]
fn set_values_are_typed_and_reported_as_topic_config() {
    let mut t = TopicConfig::from_broker(&broker());
    let sets = [
        ("max.message.bytes", "2048"),
        ("segment.bytes", "1048576"),
        ("ring.segments", "4"),
        ("ring.full.policy", "reject_new"),
        ("retention.ms", "60000"),
        ("compression.type", "zstd"),
        ("cleanup.policy", "delete"),
        ("message.timestamp.type", "CreateTime"),
        ("flush.messages", "10"),
        ("flush.ms", "0"),
        ("min.insync.replicas", "2"),
        ("index.interval.bytes", "64"),
        ("durability", "replicated"),
    ];
    for (k, v) in sets {
        assert_eq!(t.set(k, v), Ok(()), "{k}={v}");
        assert_eq!(row(&t, k).value, v);
        assert_eq!(row(&t, k).source, ConfigSource::TopicConfig);
    }
    let v = t.values();
    assert_eq!(
        (v.segment_bytes, v.ring_segments, v.retention_ms),
        (1 << 20, 4, Some(60_000))
    );
    assert_eq!(
        (v.max_message_bytes, v.flush_messages, v.flush_ms),
        (2048, 10, Some(0))
    );
    assert_eq!((v.min_insync_replicas, v.index_interval_bytes), (2, 64));
    assert_eq!(v.compression_type, CompressionType::Zstd);
    assert_eq!(v.ring_full_policy, RingFullPolicy::RejectNew);
    assert_eq!(v.durability, Durability::Replicated);
    assert_eq!(row(&t, "retention.bytes").value, (4u64 << 20).to_string());
    assert_eq!(t.set("retention.ms", "-1"), Ok(()));
    assert_eq!(t.values().retention_ms, None);
    assert_eq!(t.set("flush.ms", "9223372036854775807"), Ok(()));
    assert_eq!(t.values().flush_ms, None);
}

#[test]
fn bad_values_name_key_value_and_allowed_and_change_nothing() {
    let mut t = TopicConfig::from_broker(&broker());
    let before = t.clone();
    let range = |r: RangeInclusive<i64>| Allowed::IntRange {
        min: *r.start(),
        max: *r.end(),
    };
    let cases = [
        ("segment.bytes", "12", range(SEGMENT_BYTES_RANGE)),
        ("ring.segments", "1", range(RING_SEGMENTS_RANGE)),
        ("ring.segments", "x", range(RING_SEGMENTS_RANGE)),
        ("max.message.bytes", "10", range(MAX_MESSAGE_BYTES_RANGE)),
        ("flush.messages", "0", range(FLUSH_MESSAGES_RANGE)),
        ("flush.ms", "-5", range(FLUSH_MS_RANGE)),
        ("min.insync.replicas", "6", range(MIN_INSYNC_REPLICAS_RANGE)),
        (
            "index.interval.bytes",
            "63",
            range(INDEX_INTERVAL_BYTES_RANGE),
        ),
        (
            "retention.ms",
            "0",
            Allowed::MinusOneOrRange {
                min: 1,
                max: i64::MAX,
            },
        ),
        (
            "ring.full.policy",
            "drop",
            Allowed::OneOf(RING_FULL_POLICY_NAMES),
        ),
        ("durability", "fast", Allowed::OneOf(DURABILITY_NAMES)),
        (
            "compression.type",
            "brotli",
            Allowed::OneOf(COMPRESSION_TYPE_NAMES),
        ),
        ("cleanup.policy", "bogus", Allowed::OneOf(&["delete"])),
    ];
    for (k, v, allowed) in cases {
        let key = config_def(k).map(|d| d.name).unwrap_or_default();
        assert_eq!(t.set(k, v), Err(invalid(key, v, allowed)), "{k}={v}");
    }
    assert_eq!(t, before);
    assert!(t.overrides().is_empty());
}

#[test]
fn compression_type_error_is_kafkas_own_text() {
    let mut t = TopicConfig::from_broker(&broker());
    let err = t.set("compression.type", "brotli").unwrap_err();
    assert_eq!(
        err.to_string(),
        "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
    );
}

#[test]
fn unsupported_read_only_and_unknown_keys_are_refused() {
    let mut t = TopicConfig::from_broker(&broker());
    let e = t.set("cleanup.policy", "compact");
    assert!(
        matches!(e, Err(TopicConfigError::Unsupported { key: "cleanup.policy", ref value, .. }) if value == "compact")
    );
    let e = t.set("message.timestamp.type", "LogAppendTime");
    assert!(matches!(
        e,
        Err(TopicConfigError::Unsupported {
            key: "message.timestamp.type",
            ..
        })
    ));
    let e = t.set("retention.bytes", "1000");
    assert!(matches!(
        e,
        Err(TopicConfigError::ReadOnly {
            key: "retention.bytes",
            ..
        })
    ));
    let e = t.set("segment.ms", "1000");
    assert_eq!(
        e,
        Err(TopicConfigError::UnknownKey {
            key: "segment.ms".into()
        })
    );
}

#[test]
fn a_max_size_batch_must_fit_an_empty_segment() {
    let mut t = TopicConfig::from_broker(&broker());
    let seg = 64 * 1024;
    let limit = seg - SEGMENT_HEADROOM_BYTES;
    let at_most = Allowed::AtMost {
        max: limit,
        other_key: "segment.bytes",
        other_value: seg,
    };
    // The broker's max.message.bytes, not set on the topic, is lowered to fit
    // a smaller segment (as Kafka users create topics with segment.bytes alone).
    assert_eq!(t.set("segment.bytes", &seg.to_string()), Ok(()));
    assert_eq!(t.values().max_message_bytes as i64, limit);
    assert_eq!(t.set("max.message.bytes", &limit.to_string()), Ok(()));
    let over = (limit + 1).to_string();
    assert_eq!(
        t.set("max.message.bytes", &over),
        Err(invalid("max.message.bytes", &over, at_most))
    );
}

#[test]
fn broker_file_values_are_static_broker_config() {
    let mut d = broker();
    d.values.segment_bytes = 1 << 20;
    d.static_keys.insert("log.segment.bytes".into());
    let t = TopicConfig::from_broker(&d);
    let r = row(&t, "segment.bytes");
    assert_eq!(
        (r.source, r.value.as_str(), r.default.as_str()),
        (ConfigSource::StaticBrokerConfig, "1048576", "1048576")
    );
    assert_eq!(row(&t, "ring.segments").source, ConfigSource::DefaultConfig);
    assert_eq!(ConfigSource::StaticBrokerConfig.kafka_code(), 4);
}

#[test]
fn overrides_persist_only_topic_settings_and_restore() {
    let mut t = TopicConfig::from_broker(&broker());
    t.set("retention.ms", " 5000 ").unwrap();
    t.set("compression.type", "lz4").unwrap();
    let o = t.overrides();
    assert_eq!(
        o,
        vec![
            ("compression.type".to_string(), "lz4".to_string()),
            ("retention.ms".into(), "5000".into())
        ]
    );
    assert_eq!(TopicConfig::with_overrides(&broker(), &o), Ok(t));
    // Raising both limits restores whatever order they were persisted in.
    let big = vec![
        ("max.message.bytes".to_string(), "33554432".to_string()),
        ("segment.bytes".into(), "67108864".into()),
    ];
    let t = TopicConfig::with_overrides(&broker(), &big).expect("valid together");
    assert_eq!(t.values().max_message_bytes, 32 << 20);
}
