//! Unit tests of `broker`'s topic metadata, open and create paths, on temporary log directories.
use super::*;
use std::path::Path;
use std::sync::atomic::AtomicU32;

/// A log directory of its own per test; removed by the test when it passes.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pipit-broker-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A broker on `dir` whose topics default to `slots` x `segment_bytes` rings.
fn open(dir: &Path, segment_bytes: u32, slots: u32) -> Arc<Broker> {
    let config = BrokerConfig {
        log_dir: dir.to_path_buf(),
        log_segment_bytes: segment_bytes,
        log_ring_segments: slots,
        message_max_bytes: 32 * 1024,
        ..BrokerConfig::default()
    };
    let at = Listener {
        host: "127.0.0.1".into(),
        port: 19092,
    };
    Broker::open(config, at).unwrap_or_else(|e| panic!("open broker: {e}"))
}

fn stop(b: Arc<Broker>) {
    smol::block_on(b.close_all());
}

/// A topic as format version 1 wrote it.
#[derive(Serialize, Deserialize)]
struct V1Topic {
    name: String,
    id: [u8; 16],
    partitions: u32,
    overrides: Vec<(String, String)>,
}

#[test]
fn metadata_of_format_1_loads_and_takes_each_ring_shape_from_its_files() {
    let dir = temp_dir("v1meta");
    let b = open(&dir, 64 * 1024, 2);
    b.create_topic("old", 1, 1, &[], false).unwrap();
    stop(b);
    // Rewrite the metadata as the previous format had it: no shapes.
    for slot in ["a", "b"] {
        let _ = std::fs::remove_file(dir.join(format!("pipit-meta.{slot}")));
    }
    let v1 = vec![V1Topic {
        name: "old".into(),
        id: [3; 16],
        partitions: 1,
        overrides: vec![],
    }];
    StateFile::<Vec<V1Topic>>::open(dir.join("pipit-meta"))
        .unwrap()
        .0
        .write(&v1)
        .unwrap();
    // The defaults changed since: the topic keeps what its files have.
    let b = open(&dir, 128 * 1024, 3);
    let t = b.topic("old").expect("the topic loads");
    let shape = t.config.lock().unwrap().shape();
    assert_eq!((shape.segment_bytes, shape.ring_segments), (64 * 1024, 2));
    assert_eq!(t.id, [3; 16]);
    b.create_topic("new", 1, 1, &[], false).unwrap();
    stop(b);
    // The shape read from disk is now stored: the next start does not need the files to say it.
    let (_, saved) =
        StateFile::<MetaFile>::open_versioned(dir.join("pipit-meta"), META_VERSION, meta_from_v1)
            .unwrap();
    let shapes: Vec<(String, Option<(u32, u32)>)> = saved
        .unwrap()
        .topics
        .into_iter()
        .map(|t| (t.name, t.shape.map(|s| (s.segment_bytes, s.ring_segments))))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("new".to_string(), Some((128 * 1024, 3))),
            ("old".to_string(), Some((64 * 1024, 2)))
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failed_metadata_write_leaves_no_phantom_topic_partition_or_config() {
    let dir = temp_dir("metafail");
    let b = open(&dir, 64 * 1024, 2);
    b.create_topic("a", 1, 1, &[], false).unwrap(); // metadata copy a
    // The next metadata write goes to copy b: make it impossible.
    std::fs::create_dir(dir.join("pipit-meta.b")).unwrap();

    let e = b
        .create_topic("b", 2, 1, &[], false)
        .err()
        .expect("refused");
    assert!(matches!(e, AdminError::MetadataWrite { .. }), "{e:?}");
    assert!(b.topic("b").is_none(), "no phantom topic");
    assert!(!dir.join("b-0").exists() && !dir.join("b-1").exists());

    let e = b.create_partitions("a", 3, false).unwrap_err();
    assert!(matches!(e, AdminError::MetadataWrite { .. }), "{e:?}");
    assert_eq!(b.topic("a").unwrap().partition_count(), 1);
    assert!(!dir.join("a-1").exists() && !dir.join("a-2").exists());

    let e = b
        .alter_topic_config("a", false, |c| Ok(c.set("retention.ms", "5000")?))
        .unwrap_err();
    assert!(matches!(e, AdminError::MetadataWrite { .. }), "{e:?}");
    let retention = b
        .topic("a")
        .unwrap()
        .config
        .lock()
        .unwrap()
        .values()
        .retention_ms;
    assert_eq!(retention, None, "the config is as it was");

    assert!(smol::block_on(b.delete_topic("a")).is_err());
    assert!(b.topic("a").is_some() && dir.join("a-0").exists());
    stop(b);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_stored_override_that_no_longer_validates_is_dropped_and_the_topic_kept() {
    let dir = temp_dir("badcfg");
    let b = open(&dir, 64 * 1024, 2);
    b.create_topic("t", 1, 1, &[("retention.ms".into(), "60000".into())], false)
        .unwrap();
    let shape = b.topic("t").unwrap().config.lock().unwrap().shape();
    stop(b);
    // As a later version that no longer accepts a value (or a key) would find it.
    let (mut meta, saved) =
        StateFile::<MetaFile>::open_versioned(dir.join("pipit-meta"), META_VERSION, meta_from_v1)
            .unwrap();
    let mut saved = saved.unwrap();
    saved.topics[0].overrides = vec![
        ("retention.ms".into(), "not-a-number".into()),
        ("cleanup.policy".into(), "delete".into()),
        ("no.such.key".into(), "1".into()),
    ];
    meta.write(&saved).unwrap();
    drop(meta);
    let b = open(&dir, 64 * 1024, 2);
    let t = b.topic("t").expect("the topic is kept");
    let overrides = t.config.lock().unwrap().overrides();
    assert_eq!(
        overrides,
        vec![("cleanup.policy".to_string(), "delete".to_string())]
    );
    assert_eq!(t.config.lock().unwrap().shape(), shape);
    assert!(t.partition(0).is_ok(), "its partition is served");
    stop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
