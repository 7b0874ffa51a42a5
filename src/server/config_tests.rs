//! Unit tests of `config` (kept apart to keep the module readable).
use super::*;

fn parse(text: &str) -> Result<(BrokerConfig, Vec<ConfigWarning>), ConfigError> {
    BrokerConfig::parse(text, &[])
}

fn ok(text: &str) -> BrokerConfig {
    parse(text).expect("valid config").0
}

fn range(min: i64, max: i64) -> Allowed {
    Allowed::IntRange { min, max }
}

#[test]
fn every_key_has_its_default_and_empty_file_is_default() {
    let (c, warnings) = parse("").unwrap();
    assert!(warnings.is_empty());
    assert_eq!(c, BrokerConfig::default());
    assert_eq!(c.broker_id, 0);
    assert_eq!(
        c.listeners,
        vec![Listener {
            host: "127.0.0.1".into(),
            port: 9092
        }]
    );
    assert_eq!(c.listeners[0].to_string(), "PLAINTEXT://127.0.0.1:9092");
    assert_eq!(
        (c.advertised_listeners.clone(), c.advertised()),
        (None, &c.listeners[..])
    );
    assert_eq!(c.log_dir, PathBuf::from("./data"));
    assert_eq!(
        (
            c.num_partitions,
            c.default_replication_factor,
            c.auto_create_topics_enable
        ),
        (1, 1, true)
    );
    assert_eq!(
        (
            c.log_segment_bytes,
            c.log_ring_segments,
            c.log_ring_bytes_max
        ),
        (16 << 20, 8, 0)
    );
    assert_eq!(c.log_retention_ms, None);
    assert_eq!(
        (c.log_flush_interval_messages, c.log_flush_interval_ms),
        (9_223_372_036_854_775_807, None)
    );
    assert_eq!(
        (c.log_durability, c.ring_full_policy),
        (Durability::Fsync, RingFullPolicy::OverwriteOldest)
    );
    assert_eq!(
        (c.message_max_bytes, c.socket_request_max_bytes),
        (1_048_588, 16 << 20)
    );
    assert_eq!(
        (
            c.max_connections,
            c.index_interval_bytes,
            c.min_insync_replicas
        ),
        (1000, 4096, 1)
    );
    assert_eq!(c.compression_type, CompressionType::Producer);
    assert!(c.explicit_keys.is_empty());
}

#[test]
fn every_key_parses_a_valid_value() {
    let c = ok("broker.id=7\nlisteners=PLAINTEXT://:0\n\
        advertised.listeners=PLAINTEXT://gw.local:9092\nlog.dirs=/var/pipit\nnum.partitions=3\n\
        default.replication.factor=3\nauto.create.topics.enable=FALSE\nlog.segment.bytes=65536\n\
        log.ring.segments=64\nlog.ring.bytes.max=1000000000\nlog.retention.ms=60000\n\
        log.flush.interval.messages=1\nlog.flush.interval.ms=0\nlog.durability=replicated\n\
        ring.full.policy=reject_new\nmessage.max.bytes=1024\nsocket.request.max.bytes=1024\n\
        max.connections=65535\nindex.interval.bytes=64\ncompression.type=gzip\nmin.insync.replicas=5\n");
    assert_eq!(c.broker_id, 7);
    assert_eq!(
        c.listeners[0],
        Listener {
            host: String::new(),
            port: 0
        }
    );
    assert_eq!(
        ok("listeners=PLAINTEXT://[::1]:9093").listeners[0].to_string(),
        "PLAINTEXT://[::1]:9093"
    );
    assert_eq!(
        c.advertised()[0],
        Listener {
            host: "gw.local".into(),
            port: 9092
        }
    );
    assert_eq!(c.log_dir, PathBuf::from("/var/pipit"));
    assert_eq!(
        (
            c.num_partitions,
            c.default_replication_factor,
            c.auto_create_topics_enable
        ),
        (3, 3, false)
    );
    assert_eq!(
        (
            c.log_segment_bytes,
            c.log_ring_segments,
            c.log_ring_bytes_max
        ),
        (65536, 64, 1_000_000_000)
    );
    assert_eq!(
        (
            c.log_retention_ms,
            c.log_flush_interval_messages,
            c.log_flush_interval_ms
        ),
        (Some(60_000), 1, Some(0))
    );
    assert_eq!(
        (c.log_durability, c.ring_full_policy),
        (Durability::Replicated, RingFullPolicy::RejectNew)
    );
    assert_eq!(
        (
            c.message_max_bytes,
            c.socket_request_max_bytes,
            c.max_connections
        ),
        (1024, 1024, 65535)
    );
    assert_eq!(
        (
            c.index_interval_bytes,
            c.compression_type,
            c.min_insync_replicas
        ),
        (64, CompressionType::Gzip, 5)
    );
    assert_eq!(c.explicit_keys.len(), 21);
}

#[test]
fn bad_values_name_the_key_the_value_and_what_is_allowed() {
    let i32_max = i64::from(i32::MAX);
    let cases = [
        ("broker.id", "-1", range(0, i32_max)),
        ("node.id", "x", range(0, i32_max)),
        ("listeners", "SSL://h:9093", Allowed::Listeners),
        ("listeners", "PLAINTEXT://h:70000", Allowed::Listeners),
        // Kafka needs a distinct name per listener; pipit serves one PLAINTEXT listener,
        // so a second one is refused rather than silently not served.
        (
            "listeners",
            "PLAINTEXT://:9092,PLAINTEXT://:9093",
            Allowed::Listeners,
        ),
        ("advertised.listeners", "PLAINTEXT://h", Allowed::Listeners),
        ("log.dirs", " , ", Allowed::NonEmpty),
        ("num.partitions", "0", range(1, 10_000)),
        ("default.replication.factor", "6", range(1, 5)),
        ("auto.create.topics.enable", "yes", Allowed::Bool),
        ("log.segment.bytes", "12", range(65_536, 1 << 30)),
        ("log.ring.segments", "65", range(2, 64)),
        ("log.ring.bytes.max", "-1", range(0, i64::MAX)),
        (
            "log.retention.ms",
            "0",
            Allowed::MinusOneOrRange {
                min: 1,
                max: i64::MAX,
            },
        ),
        ("log.flush.interval.messages", "0", range(1, i64::MAX)),
        ("log.flush.interval.ms", "-1", range(0, i64::MAX)),
        (
            "log.durability",
            "fast",
            Allowed::OneOf(&["fsync", "replicated"]),
        ),
        (
            "ring.full.policy",
            "drop",
            Allowed::OneOf(&["overwrite_oldest", "reject_new"]),
        ),
        ("message.max.bytes", "100", range(1024, 64 << 20)),
        (
            "socket.request.max.bytes",
            "1048576000",
            range(1024, 100 << 20),
        ),
        ("max.connections", "65536", range(1, 65_535)),
        ("index.interval.bytes", "2097152", range(64, 1 << 20)),
        (
            "compression.type",
            "brotli",
            Allowed::OneOf(crate::log::topic_config::COMPRESSION_TYPE_NAMES),
        ),
        ("min.insync.replicas", "0", range(1, 5)),
    ];
    for (key, value, allowed) in cases {
        let err = parse(&format!("{key}={value}")).unwrap_err();
        assert_eq!(
            err,
            ConfigError {
                key: key.into(),
                value: value.trim().into(),
                allowed
            },
            "{key}"
        );
    }
    let err = parse("log.durability=fast").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value 'fast' for log.durability: allowed values are fsync, replicated"
    );
    let err = parse("log.segment.bytes=12").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value '12' for log.segment.bytes: must be an integer between 65536 and 1073741824"
    );
}

#[test]
fn an_unset_message_max_bytes_is_derived_from_a_segment_too_small_for_kafkas_default() {
    let (c, warnings) = parse("log.segment.bytes=1048576").expect("starts");
    let derived = 1_048_576 - SEGMENT_HEADROOM_BYTES;
    assert_eq!(i64::from(c.message_max_bytes), derived);
    assert_eq!(
        i64::from(c.topic_defaults().values.max_message_bytes),
        derived
    );
    assert!(!c.explicit_keys.contains("message.max.bytes"));
    let said: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    for part in [
        "message.max.bytes",
        "1044480",
        "log.segment.bytes=1048576",
        "1048588",
    ] {
        assert!(said[0].contains(part), "{part} in {}", said[0]);
    }
    // A segment that holds Kafka's default keeps it, without a word.
    let (c, warnings) = parse("log.segment.bytes=2097152").unwrap();
    assert_eq!((c.message_max_bytes, warnings.len()), (1_048_588, 0));
}

#[test]
fn an_explicit_message_max_bytes_that_cannot_fit_is_refused_naming_both_keys() {
    let err = parse("log.segment.bytes=65536\nmessage.max.bytes=1048588").unwrap_err();
    let allowed = Allowed::AtMost {
        max: 65536 - SEGMENT_HEADROOM_BYTES,
        other_key: "log.segment.bytes",
        other_value: 65536,
    };
    assert_eq!(
        err,
        ConfigError {
            key: "message.max.bytes".into(),
            value: "1048588".into(),
            allowed
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid value '1048588' for message.max.bytes: must be at most 61440 (log.segment.bytes=65536 minus 4096 bytes of segment headroom)"
    );
    assert!(parse("log.segment.bytes=65536\nmessage.max.bytes=61440").is_ok());
}

#[test]
fn properties_syntax_edge_cases() {
    let text = "# comment\n! also a comment\n\n   \t\nbroker.id : 3   \r\nlog.dirs   /a/b\\\n    /c,/d\n\
        num.partitions=\\\n  4\nmax.connections\\u003d=12\nlisteners=PLAINTEXT://h:1 # not a comment\n";
    let pairs = parse_properties(text);
    let want = [
        ("broker.id", "3"),
        ("log.dirs", "/a/b/c,/d"),
        ("num.partitions", "4"),
        ("max.connections=", "12"),
        ("listeners", "PLAINTEXT://h:1 # not a comment"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(pairs, want);
    // A continued line starting with '#' is value text, not a comment; a dangling '\' at EOF is dropped.
    assert_eq!(
        parse_properties("a=x\\\n#y\nb = c\\"),
        vec![("a".into(), "x#y".into()), ("b".into(), "c".into())]
    );
    assert_eq!(parse_properties("key"), vec![("key".into(), String::new())]);
    assert_eq!(
        parse_properties("k=a\\\\\nn=1").len(),
        2,
        "an even run of backslashes does not continue"
    );
}

#[test]
fn overrides_win_and_aliases_are_one_key() {
    let overrides = [
        ("broker.id".to_string(), "9".to_string()),
        ("log.dir".into(), "/o".into()),
    ];
    let (c, _) = BrokerConfig::parse(
        "node.id=2\nlog.dirs=/f\nnum.partitions=2\nnum.partitions=5",
        &overrides,
    )
    .unwrap();
    assert_eq!(
        (c.broker_id, c.log_dir, c.num_partitions),
        (9, PathBuf::from("/o"), 5)
    );
    let err = BrokerConfig::parse("", &[("node.id".into(), "-3".into())]).unwrap_err();
    assert_eq!((err.key.as_str(), err.value.as_str()), ("node.id", "-3"));
}

#[test]
fn retention_hours_and_minutes_follow_kafka_precedence() {
    assert_eq!(
        ok("log.retention.hours=168").log_retention_ms,
        Some(168 * 3_600_000)
    );
    assert_eq!(
        ok("log.retention.hours=1\nlog.retention.minutes=2").log_retention_ms,
        Some(120_000)
    );
    assert_eq!(
        ok("log.retention.minutes=2\nlog.retention.ms=5\nlog.retention.hours=1").log_retention_ms,
        Some(5)
    );
    assert_eq!(ok("log.retention.hours=-1").log_retention_ms, None);
    assert!(
        ok("log.retention.hours=1")
            .explicit_keys
            .contains("log.retention.ms")
    );
}

#[test]
fn thread_counts_default_to_the_cores_and_are_bounded() {
    let c = ok("");
    assert!(c.num_network_threads >= 1);
    assert!(c.num_io_threads >= 2, "a sync runs beside the next appends");
    assert_eq!(ok("num.network.threads=3").num_network_threads, 3);
    assert_eq!(ok("num.io.threads=5").num_io_threads, 5);
    assert!(parse("num.io.threads=0").is_err());
}

#[test]
fn ignored_kafka_keys_and_unknown_keys_warn() {
    let (_, w) = parse("num.replica.fetchers=3\nlog.index.size.max.bytes=10485760\nzookeeper.connect=x:2181\nfoo.bar=1\nlog.dirs=/a,/b").unwrap();
    let kinds: Vec<(&str, &WarningKind)> = w.iter().map(|w| (w.key.as_str(), &w.kind)).collect();
    assert_eq!(kinds.len(), 5);
    assert!(kinds.contains(&("foo.bar", &WarningKind::UnknownKey)));
    assert!(kinds.contains(&(
        "num.replica.fetchers",
        &WarningKind::IgnoredKafkaKey { reason: NO_THREADS }
    )));
    assert!(kinds.contains(&(
        "zookeeper.connect",
        &WarningKind::IgnoredKafkaKey { reason: NO_ZK }
    )));
    assert!(kinds.contains(&(
        "log.dirs",
        &WarningKind::ExtraLogDirs {
            ignored: vec!["/b".into()]
        }
    )));
    let idx = w
        .iter()
        .find(|w| w.key == "log.index.size.max.bytes")
        .expect("warned");
    assert_eq!(
        idx.to_string(),
        "log.index.size.max.bytes: ignored: pipit sizes indexes from log.segment.bytes"
    );
    assert!(IGNORED_KAFKA_KEYS.len() >= 40);
}

#[test]
fn topic_defaults_carry_values_and_which_keys_came_from_the_file() {
    let c = ok("log.segment.bytes=4194304\ncompression.type=lz4\nlog.durability=replicated");
    let d = c.topic_defaults();
    let v = &d.values;
    assert_eq!(
        (v.segment_bytes, v.ring_segments, v.max_message_bytes),
        (4 << 20, 8, 1_048_588)
    );
    assert_eq!(
        (v.compression_type, v.durability),
        (CompressionType::Lz4, Durability::Replicated)
    );
    let keys: Vec<&str> = d.static_keys.iter().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["compression.type", "log.durability", "log.segment.bytes"]
    );
}

#[test]
fn producer_state_keys_have_kafkas_default_and_refuse_bad_values() {
    let c = ok("");
    assert_eq!(c.producer_limits.expiration_ms, 86_400_000);
    assert_eq!(c.producer_limits.max_producers, 1000);
    let c = ok("producer.id.expiration.ms=60000\nproducer.state.max.producers=50\n");
    assert_eq!(c.producer_limits.expiration_ms, 60_000);
    assert_eq!(c.producer_limits.max_producers, 50);
    for (key, value, allowed) in [
        ("producer.id.expiration.ms", "0", range(1, i64::MAX)),
        ("producer.state.max.producers", "0", range(1, 100_000)),
        ("producer.state.max.producers", "100001", range(1, 100_000)),
    ] {
        let err = parse(&format!("{key}={value}")).unwrap_err();
        let want = ConfigError {
            key: key.into(),
            value: value.into(),
            allowed,
        };
        assert_eq!(err, want, "{key}");
    }
}
