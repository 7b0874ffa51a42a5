//! Topic admin on the [`Broker`]: create (and auto-create), delete, add
//! partitions, alter configs, and the node-wide ring cap.
//!
//! Invariants: admin changes run one at a time (`Broker::admin`); a change is
//! written to the topic metadata before it is visible in memory, so a failed
//! metadata write leaves no phantom topic or partition; and a change that
//! fails leaves nothing behind: partition directories it created are removed,
//! metadata and memory stay as they were.

use std::ops::Range;
use std::sync::{Arc, Mutex, RwLock};

use super::{
    AdminError, Broker, MetaFile, PartitionEntry, Topic, TopicMeta, new_topic_id,
    validate_topic_name,
};
use crate::log::partition::{Partition, ring_config};
use crate::log::topic_config::{RingShape, TopicConfig, TopicValues};
use crate::server::log_limit::{self, Kind};

/// What a successful CreateTopics did.
pub enum Created {
    /// The topic was created and is visible.
    Topic(Arc<Topic>),
    /// `validate_only`: every check passed and nothing was created.
    Validated,
}

/// A topic that passed the checks that need no lock.
struct NewTopic {
    count: u32,
    config: TopicConfig,
    shape: RingShape,
}

fn unknown_topic(name: &str) -> AdminError {
    AdminError::UnknownTopic {
        name: name.to_string(),
    }
}

impl Broker {
    fn admin_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the topic metadata: every topic as it is, except `name`, which
    /// is replaced by `replacement` (or left out when `None`).
    pub(super) fn persist_change(
        &self,
        name: Option<&str>,
        replacement: Option<TopicMeta>,
    ) -> Result<(), AdminError> {
        let mut topics: Vec<TopicMeta> = {
            let live = self.topics.read().unwrap_or_else(|e| e.into_inner());
            live.values()
                .filter(|t| Some(t.name.as_str()) != name)
                .map(|t| t.meta())
                .collect()
        };
        topics.extend(replacement);
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let mut meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        meta.write(&MetaFile { topics }).map(|_| ()).map_err(|e| {
            log_limit::log(
                Kind::StorageRefused,
                log::Level::Error,
                format_args!("topic admin refused: writing topic metadata: {e}"),
            );
            AdminError::MetadataWrite {
                error: e.to_string(),
            }
        })
    }

    /// Bytes all rings on this node reserve.
    pub fn reserved_ring_bytes(&self) -> u64 {
        self.topics()
            .iter()
            .map(|t| {
                let per = t
                    .config
                    .lock()
                    .map(|c| ring_config(c.values()).reserved_bytes())
                    .unwrap_or(0);
                per * t.partition_count() as u64
            })
            .sum()
    }

    fn check_cap(&self, extra: u64) -> Result<(), AdminError> {
        let (cap, how) = (self.ring_bytes_cap.bytes, &self.ring_bytes_cap.how);
        let used = self.reserved_ring_bytes();
        if cap > 0 && used.saturating_add(extra) > cap {
            return Err(AdminError::RingCap {
                cap,
                how: how.clone(),
                used,
                extra,
            });
        }
        Ok(())
    }

    /// Reserves partitions `range` of `name` on disk; on failure removes
    /// every directory of the range and names the partition that failed.
    fn create_partition_dirs(
        &self,
        name: &str,
        range: Range<u32>,
        values: &TopicValues,
    ) -> Result<Vec<Partition>, AdminError> {
        let mut made = Vec::with_capacity(range.len());
        for p in range.clone() {
            let dir = self.partition_dir(name, p);
            // A directory not in the metadata is left over from a create or
            // delete cut short by a crash: it holds nothing anyone acked.
            let _ = std::fs::remove_dir_all(&dir);
            match Partition::create_with_limits(&dir, values, self.config.producer_limits) {
                Ok(part) => made.push(part),
                Err(e) => {
                    log_limit::log(
                        Kind::StorageRefused,
                        log::Level::Error,
                        format_args!("topic admin refused: partition {name}-{p}: {e}"),
                    );
                    drop(made);
                    self.remove_partition_dirs(name, range);
                    return Err(AdminError::PartitionCreate {
                        topic: name.to_string(),
                        partition: p,
                        error: e.to_string(),
                    });
                }
            }
        }
        Ok(made)
    }

    fn remove_partition_dirs(&self, name: &str, range: Range<u32>) {
        remove_dirs(range.map(|p| self.partition_dir(name, p)).collect());
    }

    /// Creates a topic: validates name, counts and configs, checks the
    /// node-wide ring cap, reserves every partition's ring, persists the
    /// topic, and only then makes it visible. With `validate_only` every
    /// check runs and nothing is created: the answer is [`Created::Validated`].
    pub fn create_topic(
        self: &Arc<Self>,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
        validate_only: bool,
    ) -> Result<Created, AdminError> {
        let plan = self.plan_topic(name, partitions, replication_factor, configs)?;
        let _admin = self.admin_lock();
        self.check_new_topic(name, &plan)?;
        if validate_only {
            return Ok(Created::Validated);
        }
        self.create_planned(name, plan).map(Created::Topic)
    }

    /// The checks that need no lock: name, counts and configs.
    fn plan_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<NewTopic, AdminError> {
        validate_topic_name(name)?;
        let partitions = if partitions == -1 {
            self.config.num_partitions as i32
        } else {
            partitions
        };
        if !(1..=10_000).contains(&partitions) {
            return Err(AdminError::InvalidPartitions { got: partitions });
        }
        let rf = if replication_factor == -1 {
            self.config.default_replication_factor as i16
        } else {
            replication_factor
        };
        if rf != 1 {
            return Err(AdminError::ReplicationFactor { got: rf });
        }
        let mut config = TopicConfig::with_overrides(&self.defaults, configs)?;
        let shape = config.pin_shape();
        Ok(NewTopic {
            count: partitions as u32,
            config,
            shape,
        })
    }

    /// The checks made under the admin lock: the name is free and the rings fit the cap.
    fn check_new_topic(&self, name: &str, plan: &NewTopic) -> Result<(), AdminError> {
        if self.topic(name).is_some() {
            return Err(AdminError::AlreadyExists {
                name: name.to_string(),
            });
        }
        let per = ring_config(plan.config.values()).reserved_bytes();
        self.check_cap(per * u64::from(plan.count))
    }

    /// Reserves, persists and publishes a checked topic (admin lock held).
    fn create_planned(
        self: &Arc<Self>,
        name: &str,
        plan: NewTopic,
    ) -> Result<Arc<Topic>, AdminError> {
        let NewTopic {
            count,
            config: cfg,
            shape,
        } = plan;
        let parts = self.create_partition_dirs(name, 0..count, cfg.values())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let meta = TopicMeta {
            name: name.to_string(),
            id: new_topic_id(name, now),
            partitions: count,
            overrides: cfg.overrides(),
            shape: Some(shape),
        };
        let id = meta.id;
        if let Err(e) = self.persist_change(Some(name), Some(meta)) {
            drop(parts);
            self.remove_partition_dirs(name, 0..count);
            return Err(e);
        }
        let handles = (0..count)
            .zip(parts)
            .map(|(p, part)| {
                PartitionEntry::Online(self.spawn_partition(part, cfg.values(), name, p))
            })
            .collect();
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id,
            config: Mutex::new(cfg),
            partitions: RwLock::new(handles),
        });
        self.write_topics().insert(name.to_string(), topic.clone());
        log::info!("created topic {name} with {count} partition(s)");
        Ok(topic)
    }

    /// The topic if it exists, else creates it with broker defaults when
    /// `auto.create.topics.enable` allows it.
    pub fn get_or_auto_create(
        self: &Arc<Self>,
        name: &str,
        allow: bool,
    ) -> Result<Arc<Topic>, AdminError> {
        if let Some(t) = self.topic(name) {
            return Ok(t);
        }
        if !(allow && self.config.auto_create_topics_enable) {
            return Err(unknown_topic(name));
        }
        let plan = self.plan_topic(name, -1, -1, &[])?;
        let _admin = self.admin_lock();
        // Another connection may have created it since the first look.
        if let Some(t) = self.topic(name) {
            return Ok(t);
        }
        self.check_new_topic(name, &plan)?;
        self.create_planned(name, plan)
    }

    /// Deletes a topic: persists its removal, then stops its partition owners
    /// and removes its directories.
    pub async fn delete_topic(&self, name: &str) -> Result<(), AdminError> {
        let topic = {
            let _admin = self.admin_lock();
            let t = self.topic(name).ok_or_else(|| unknown_topic(name))?;
            self.persist_change(Some(name), None)?;
            self.write_topics().remove(name);
            t
        };
        for h in topic.online() {
            h.close().await;
        }
        let dirs: Vec<_> = (0..topic.partition_count() as u32)
            .map(|p| self.partition_dir(name, p))
            .collect();
        crate::server::rt::io(move || remove_dirs(dirs)).await;
        log::info!("deleted topic {name}");
        Ok(())
    }

    /// Grows a topic to `total` partitions: all new rings are reserved and
    /// the new count persisted, or nothing changes.
    pub fn create_partitions(
        self: &Arc<Self>,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let _admin = self.admin_lock();
        let topic = self.topic(name).ok_or_else(|| unknown_topic(name))?;
        let have = topic.partition_count() as i32;
        if total <= have || total > 10_000 {
            return Err(AdminError::CannotGrow {
                name: name.to_string(),
                have,
                got: total,
            });
        }
        let values = topic
            .config
            .lock()
            .map(|c| c.values().clone())
            .map_err(|_| AdminError::ConfigLock)?;
        self.check_cap(ring_config(&values).reserved_bytes() * (total - have) as u64)?;
        if validate_only {
            return Ok(());
        }
        let new = have as u32..total as u32;
        let parts = self.create_partition_dirs(name, new.clone(), &values)?;
        let mut meta = topic.meta();
        meta.partitions = total as u32;
        if let Err(e) = self.persist_change(Some(name), Some(meta)) {
            drop(parts);
            self.remove_partition_dirs(name, new);
            return Err(e);
        }
        let mut entries = topic.partitions.write().unwrap_or_else(|e| e.into_inner());
        for (p, part) in new.zip(parts) {
            let h = self.spawn_partition(part, &values, name, p);
            entries.push(PartitionEntry::Online(h));
        }
        log::info!("topic {name} now has {total} partitions");
        Ok(())
    }

    /// Applies config changes to a topic (`apply` edits a copy; nothing
    /// changes unless it succeeds and is persisted). Ring shape keys cannot
    /// change on a topic whose rings are already reserved.
    pub fn alter_topic_config(
        &self,
        name: &str,
        validate_only: bool,
        apply: impl FnOnce(&mut TopicConfig) -> Result<(), AdminError>,
    ) -> Result<(), AdminError> {
        let _admin = self.admin_lock();
        let topic = self.topic(name).ok_or_else(|| unknown_topic(name))?;
        // Edited on a copy, persisted without holding the topic's config lock
        // (produce reads it); the admin lock keeps changes one at a time.
        let current = topic
            .config
            .lock()
            .map_err(|_| AdminError::ConfigLock)?
            .clone();
        let mut next = current.clone();
        apply(&mut next)?;
        if current.shape() != next.shape() {
            return Err(AdminError::ShapeFixed);
        }
        if validate_only {
            return Ok(());
        }
        let meta = TopicMeta {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partition_count() as u32,
            overrides: next.overrides(),
            shape: Some(next.shape()),
        };
        self.persist_change(Some(name), Some(meta))?;
        let values = next.values().clone();
        *topic.config.lock().unwrap_or_else(|e| e.into_inner()) = next;
        // Durability, flush.*, retention.ms and ring.full.policy apply to the
        // running partitions at once, not at the next restart.
        for h in topic.online() {
            h.reconfigure(&values);
        }
        Ok(())
    }
}

fn remove_dirs(dirs: Vec<std::path::PathBuf>) {
    for dir in dirs {
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::error!("{}: could not remove: {e}", dir.display());
        }
    }
}
