//! The broker's state: topics, their configs and their partition owners.
//!
//! Topics and their configs are persisted in `<log.dirs>/pipit-meta.a/.b`
//! (a two-copy [`StateFile`], format version 2: each topic with the ring
//! shape it was created with; version 1, without shapes, still loads and
//! takes each shape from the files on disk), written before a change is
//! acknowledged and before it is visible in memory. Damaged or lost metadata
//! never stops the broker: `broker_meta.rs` reconciles it with the partition
//! directories and drops stored overrides that no longer validate (logged).
//! Each partition has one owner task ([`super::partition_task`]) reached
//! through a bounded channel; this struct only holds handles, so handlers
//! never touch a partition's files themselves. A partition that cannot be
//! opened at start is [`PartitionEntry::Offline`]: the broker starts anyway
//! and serves every other partition. Admin changes (`broker_admin.rs`) run
//! one at a time and take the topics lock briefly; the data path takes a read
//! lock to find a handle, then talks to the owner.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use event_listener::{Event, EventListener};
use serde::{Deserialize, Serialize};

use super::config::{BrokerConfig, Listener};
use super::partition_task::{self, PartitionHandle};
use crate::log::partition::Partition;
use crate::log::producer_ids::ProducerIds;
use crate::log::state_file::StateFile;
use crate::log::topic_config::{BrokerDefaults, RingShape, TopicConfig, TopicValues};
use crate::protocol::error::ErrorCode;

/// What is persisted about a topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: [u8; 16],
    pub partitions: u32,
    pub overrides: Vec<(String, String)>,
    /// The ring shape fixed at creation; `None` only for a topic loaded from
    /// format version 1 (its shape is then read from its files).
    pub shape: Option<RingShape>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct MetaFile {
    topics: Vec<TopicMeta>,
}

/// `pipit-meta`'s format version: 2 added [`TopicMeta::shape`].
const META_VERSION: u8 = 2;

/// A topic as format version 1 stored it.
#[derive(Deserialize)]
struct TopicMetaV1 {
    name: String,
    id: [u8; 16],
    partitions: u32,
    overrides: Vec<(String, String)>,
}

fn meta_from_v1(version: u8, payload: &[u8]) -> Option<MetaFile> {
    if version != 1 {
        return None;
    }
    // Version 1's MetaFile was one field, the topics, which postcard stores as the bare sequence.
    let old: Vec<TopicMetaV1> = postcard::from_bytes(payload).ok()?;
    let topics = old
        .into_iter()
        .map(|t| TopicMeta {
            name: t.name,
            id: t.id,
            partitions: t.partitions,
            overrides: t.overrides,
            shape: None,
        })
        .collect();
    Some(MetaFile { topics })
}

/// A partition as the broker holds it.
#[derive(Clone)]
pub enum PartitionEntry {
    /// Served by its owner task.
    Online(PartitionHandle),
    /// Its directory could not be opened at start (logged once then). Nothing
    /// touches its files; produce, fetch and list-offsets on it get
    /// KAFKA_STORAGE_ERROR. A restart after a repair tries it again.
    Offline(Arc<Offline>),
}

/// Why a partition is offline.
#[derive(Debug)]
pub struct Offline {
    pub dir: PathBuf,
    pub reason: String,
}

/// A live topic.
pub struct Topic {
    pub name: String,
    pub id: [u8; 16],
    pub config: Mutex<TopicConfig>,
    pub partitions: RwLock<Vec<PartitionEntry>>,
}

impl Topic {
    /// A clone of partition `p`'s handle: UNKNOWN_TOPIC_OR_PARTITION if the
    /// topic has no such partition, KAFKA_STORAGE_ERROR if it is offline.
    pub fn partition(&self, p: i32) -> Result<PartitionHandle, ErrorCode> {
        let parts = self
            .partitions
            .read()
            .map_err(|_| ErrorCode::UnknownServerError)?;
        match usize::try_from(p).ok().and_then(|i| parts.get(i)) {
            Some(PartitionEntry::Online(h)) => Ok(h.clone()),
            Some(PartitionEntry::Offline(_)) => Err(ErrorCode::KafkaStorageError),
            None => Err(ErrorCode::UnknownTopicOrPartition),
        }
    }
    pub fn partition_count(&self) -> usize {
        self.partitions.read().map(|p| p.len()).unwrap_or(0)
    }
    /// The handles of the online partitions.
    fn online(&self) -> Vec<PartitionHandle> {
        let parts = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        parts
            .iter()
            .filter_map(|e| match e {
                PartitionEntry::Online(h) => Some(h.clone()),
                PartitionEntry::Offline(_) => None,
            })
            .collect()
    }
    fn meta(&self) -> TopicMeta {
        TopicMeta {
            name: self.name.clone(),
            id: self.id,
            partitions: self.partition_count() as u32,
            overrides: self
                .config
                .lock()
                .map(|c| c.overrides())
                .unwrap_or_default(),
            shape: self.config.lock().ok().map(|c| c.shape()),
        }
    }
}

/// The broker.
pub struct Broker {
    pub config: BrokerConfig,
    /// Where clients reach this broker (advertised listener, real port).
    pub advertised: Listener,
    pub cluster_id: String,
    defaults: BrokerDefaults,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    meta: Mutex<StateFile<MetaFile>>,
    /// Fires once, when shutdown begins (ends long polls, stops connections reading).
    shutdown: Event,
    shutting_down: AtomicBool,
    /// Idempotent producer ids handed out, and their epochs.
    producer_ids: Mutex<ProducerIds>,
    /// Serializes topic admin changes (see `broker_admin.rs`).
    admin: Mutex<()>,
    ring_bytes_cap: RingBytesCap,
}

/// The node-wide cap on reserved ring bytes (`log.ring.bytes.max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingBytesCap {
    /// 0: no cap.
    pub bytes: u64,
    /// Where the value comes from, for messages.
    pub how: String,
}

/// Share of the log dir's filesystem that rings may reserve when
/// `log.ring.bytes.max` is not set, in percent.
pub const DEFAULT_RING_SHARE_PERCENT: u64 = 90;

impl RingBytesCap {
    /// The cap `config` sets, or [`DEFAULT_RING_SHARE_PERCENT`] of the total
    /// size of the filesystem holding the log dir, measured now.
    pub fn of(config: &BrokerConfig) -> Result<Self, String> {
        if config.explicit_keys.contains("log.ring.bytes.max") {
            let bytes = config.log_ring_bytes_max;
            let how = if bytes == 0 {
                "no cap: set to 0"
            } else {
                "set"
            };
            return Ok(RingBytesCap {
                bytes,
                how: how.into(),
            });
        }
        let dir = &config.log_dir;
        let total = crate::log::file_backend::filesystem_bytes(dir).map_err(|e| {
            format!(
                "log.dirs {}: cannot measure its filesystem: {e}",
                dir.display()
            )
        })?;
        Ok(RingBytesCap {
            bytes: total / 100 * DEFAULT_RING_SHARE_PERCENT,
            how: format!(
                "not set: {DEFAULT_RING_SHARE_PERCENT}% of the {total}-byte filesystem holding {}",
                dir.display()
            ),
        })
    }
}

/// Kafka's legal topic names: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), AdminError> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if name.is_empty() || name.len() > 249 || name == "." || name == ".." || !ok_chars {
        return Err(AdminError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

fn new_topic_id(name: &str, now: u128) -> [u8; 16] {
    // Unique per creation (name and time mixed); not a security token.
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes().chain(now.to_le_bytes()) {
        h ^= b as u128;
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
    }
    h.to_le_bytes()
}

impl Broker {
    /// Opens the log directory: loads topic metadata and recovers every
    /// partition (logging what recovery found).
    pub fn open(config: BrokerConfig, advertised: Listener) -> Result<Arc<Broker>, String> {
        let dir = config.log_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| format!("log.dirs {}: {e}", dir.display()))?;
        let loaded = meta_load::load_meta(&dir)?;
        let defaults = config.topic_defaults();
        let producer_ids = meta_load::open_producer_ids(&dir)?;
        let ring_bytes_cap = RingBytesCap::of(&config)?;
        log::info!(
            "log.ring.bytes.max: rings may reserve {} bytes in all ({})",
            ring_bytes_cap.bytes,
            ring_bytes_cap.how
        );
        let broker = Arc::new(Broker {
            admin: Mutex::new(()),
            ring_bytes_cap,
            cluster_id: format!("pipit-{}", config.broker_id),
            advertised,
            defaults,
            topics: RwLock::new(BTreeMap::new()),
            meta: Mutex::new(loaded.file),
            shutdown: Event::new(),
            shutting_down: AtomicBool::new(false),
            producer_ids: Mutex::new(producer_ids),
            config,
        });
        let mut topics = loaded.topics;
        // Rewrite the metadata when it lost something or its shapes come from disk.
        let adopted = loaded.reconcile
            && meta_load::adopt_partition_dirs(&dir, &mut topics, &broker.defaults);
        let mut rewrite = adopted || loaded.damaged;
        for t in topics {
            let shape = match t.shape {
                Some(shape) => shape,
                None => {
                    rewrite = true;
                    broker.shape_on_disk(&t)
                }
            };
            let (cfg, dropped) = meta_load::restore_config(&broker.defaults, &t, shape)?;
            rewrite |= dropped;
            let mut handles = Vec::new();
            for p in 0..t.partitions {
                let pdir = broker.partition_dir(&t.name, p);
                let limits = broker.config.producer_limits;
                let (part, report) = match Partition::open_with_limits(&pdir, cfg.values(), limits)
                {
                    Ok(opened) => opened,
                    Err(e) => {
                        let reason = e.to_string();
                        log::error!(
                            "{}: partition {}-{p} is offline (KAFKA_STORAGE_ERROR to clients; the others are served): {reason}",
                            pdir.display(),
                            t.name
                        );
                        let dir = pdir;
                        handles.push(PartitionEntry::Offline(Arc::new(Offline { dir, reason })));
                        continue;
                    }
                };
                if let Some(id) = part.max_producer_id() {
                    // Never hand out an id the logs already hold.
                    broker
                        .producer_ids()
                        .ensure_above(id)
                        .map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                if report.torn_tails > 0 || !report.holes.is_empty() || report.holes_dropped > 0 {
                    log::warn!(
                        "{}: recovery cut {} torn tail(s), quarantined {:?} (+{} more), scanned {} batches",
                        pdir.display(),
                        report.torn_tails,
                        report.holes.as_slice(),
                        report.holes_dropped,
                        report.batches_scanned
                    );
                }
                let h = broker.spawn_partition(part, cfg.values(), &t.name, p);
                handles.push(PartitionEntry::Online(h));
            }
            let topic = Arc::new(Topic {
                name: t.name.clone(),
                id: t.id,
                config: Mutex::new(cfg),
                partitions: RwLock::new(handles),
            });
            broker.write_topics().insert(t.name, topic);
        }
        if rewrite {
            // Pin shapes read from disk, rebuilt topics and cleaned configs; a
            // failed write is logged and retried by the next admin change.
            if let Err(e) = broker.persist_change(None, None) {
                let why = match e {
                    AdminError::MetadataWrite { error } => error,
                    other => format!("{other:?}"),
                };
                log::error!("{}: writing topic metadata: {why}", dir.display());
            }
        }
        Ok(broker)
    }

    /// The idempotent producer ids (see `log/producer_ids.rs`).
    pub fn producer_ids(&self) -> std::sync::MutexGuard<'_, ProducerIds> {
        self.producer_ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ring shape of a topic stored without one (format version 1): its
    /// config as today (defaults and overrides), corrected by what its first
    /// partition's files say (slot count, segment size, index size).
    fn shape_on_disk(&self, t: &TopicMeta) -> RingShape {
        let shape = match TopicConfig::with_overrides(&self.defaults, &t.overrides) {
            Ok(cfg) => cfg.shape(),
            Err(_) => TopicConfig::from_broker(&self.defaults).shape(),
        };
        let dir = self.partition_dir(&t.name, 0);
        let Some(on_disk) = meta_load::shape_from_files(&dir, shape) else {
            return shape;
        };
        if on_disk != shape {
            log::warn!(
                "topic {}: its files have {on_disk:?}, the current defaults {shape:?}: keeping the files' shape",
                t.name
            );
        }
        on_disk
    }

    /// Starts partition `p`'s owner task.
    fn spawn_partition(
        &self,
        part: Partition,
        values: &TopicValues,
        topic: &str,
        p: u32,
    ) -> PartitionHandle {
        let name = format!("{topic}-{p}");
        partition_task::spawn(part, values, name)
    }

    /// Marks the broker as stopping: long polls return, connections stop
    /// reading new requests.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.shutdown.notify(usize::MAX);
    }

    /// A listener that fires when shutdown begins; take it, then check
    /// [`Self::is_shutting_down`], so a shutdown between the two is not missed.
    pub fn shutdown_listener(&self) -> EventListener {
        self.shutdown.listen()
    }

    /// Returns once shutdown has begun.
    pub async fn shutdown_begun(&self) {
        while !self.is_shutting_down() {
            let l = self.shutdown_listener();
            if self.is_shutting_down() {
                break;
            }
            l.await;
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub fn defaults(&self) -> &BrokerDefaults {
        &self.defaults
    }

    fn partition_dir(&self, topic: &str, p: u32) -> PathBuf {
        self.config.log_dir.join(format!("{topic}-{p}"))
    }

    fn write_topics(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().ok()?.get(name).cloned()
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Closes every partition (sync + checkpoint); used at shutdown.
    pub async fn close_all(&self) {
        for t in self.topics() {
            for h in t.online() {
                h.close().await;
            }
        }
    }
}

#[path = "admin_error.rs"]
mod admin_error;
pub use admin_error::AdminError;

#[path = "broker_admin.rs"]
mod admin;
pub use admin::Created;
#[path = "broker_meta.rs"]
mod meta_load;

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
