//! Loading the node's metadata files so that damage never stops the broker.
//!
//! `pipit-meta` (topics) is read as [`StateFile`] reads it, then checked for a
//! lost newer copy: writes alternate between `.a` and `.b` with the sequence +1
//! each, so beside a newest good copy of sequence `s` the other copy is either
//! absent (`s` = 1) or starts with sequence `s - 1`. Anything else (missing,
//! unreadable header, another sequence) means a newer write may be lost. In that
//! case, when only one write ever happened (a lost second copy looks the same),
//! and when no copy is valid (the bad ones are kept as `.corrupt`) or none
//! exists, the topic list is reconciled with the `<topic>-<n>` partition
//! directories: a topic missing from it is rebuilt from its files (ring shape
//! from [`FileBackend::probe_shape`], no overrides, logged as lost) and a topic
//! with more partition directories than recorded gets them back; the caller then
//! persists the result. A healthy metadata file is never reconciled, so the
//! directories a crash left behind from a delete stay out (see `broker_admin`).
//! A stored override that no longer validates is dropped, logged with its key,
//! and the topic keeps the default for it. `pipit-producer-ids` with no valid
//! copy is kept as `.corrupt` and starts afresh (the partitions then raise it
//! above every id in their logs).

use std::collections::BTreeMap;
use std::path::Path;

use super::{META_VERSION, MetaFile, TopicMeta, meta_from_v1, new_topic_id, validate_topic_name};
use crate::log::file_backend::FileBackend;
use crate::log::producer_ids::ProducerIds;
use crate::log::state_file::{HEADER_LEN, MAGIC, StateFile, StateFileError};
use crate::log::topic_config::{BrokerDefaults, RingShape, TopicConfig};

/// The metadata as loaded, and whether it must be reconciled with the directories.
pub(super) struct LoadedMeta {
    pub file: StateFile<MetaFile>,
    pub topics: Vec<TopicMeta>,
    pub reconcile: bool,
    /// A copy was damaged or lost: rewrite the metadata even if the directories add nothing,
    /// so the bad copy is replaced and the next start is clean.
    pub damaged: bool,
}

/// Renames `<base>.a/.b` to `<base>.a/.b.corrupt` (kept for a post-mortem).
fn set_aside(base: &Path) {
    for slot in ["a", "b"] {
        let from = base.with_extension(slot);
        let to = base.with_extension(format!("{slot}.corrupt"));
        if from.exists()
            && let Err(e) = std::fs::rename(&from, &to)
        {
            log::error!("{}: could not set aside: {e}", from.display());
        }
    }
}

/// True when a copy newer than `newest` may have been written and lost.
fn newer_copy_lost(base: &Path, newest: u64) -> bool {
    let mut seqs = Vec::new();
    for slot in ["a", "b"] {
        let bytes = std::fs::read(base.with_extension(slot)).unwrap_or_default();
        if bytes.is_empty() {
            continue;
        }
        let seq = bytes
            .get(5..13)
            .filter(|_| bytes.len() >= HEADER_LEN && bytes.starts_with(&MAGIC))
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes);
        seqs.push(seq);
    }
    let other_ok = |s: &Option<u64>| *s == Some(newest) || *s == newest.checked_sub(1);
    let expected = if newest >= 2 { 2 } else { 1 };
    seqs.len() != expected || !seqs.iter().all(other_ok)
}

/// Loads `<dir>/pipit-meta`; never fails for damaged contents, only for I/O.
pub(super) fn load_meta(dir: &Path) -> Result<LoadedMeta, String> {
    let base = dir.join("pipit-meta");
    let open = || StateFile::<MetaFile>::open_versioned(&base, META_VERSION, meta_from_v1);
    match open() {
        Ok((file, Some(saved))) => {
            let lost = newer_copy_lost(&base, file.sequence());
            if lost {
                log::error!(
                    "{}: the copy beside the newest good one (sequence {}) is missing or damaged: a newer topic change may be lost; checking the partition directories",
                    base.display(),
                    file.sequence()
                );
            }
            // After a single write, a lost second copy cannot be told from none: check the
            // directories (no delete has happened yet, so none is a deleted topic's).
            let single = file.sequence() <= 1;
            Ok(LoadedMeta {
                file,
                topics: saved.topics,
                reconcile: lost || single,
                damaged: lost,
            })
        }
        Ok((file, None)) => Ok(LoadedMeta {
            file,
            topics: Vec::new(),
            reconcile: true,
            damaged: false,
        }),
        Err(e @ StateFileError::Corrupt { .. }) => {
            log::error!(
                "{e}: rebuilding the topic list from the partition directories (the bad copies are kept as pipit-meta.a.corrupt / .b.corrupt)"
            );
            set_aside(&base);
            let (file, _) = open().map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(LoadedMeta {
                file,
                topics: Vec::new(),
                reconcile: true,
                damaged: true,
            })
        }
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Opens `<dir>/pipit-producer-ids`, starting afresh when no copy is valid.
pub(super) fn open_producer_ids(dir: &Path) -> Result<ProducerIds, String> {
    match ProducerIds::open(dir) {
        Err(e @ StateFileError::Corrupt { .. }) => {
            log::error!(
                "{e}: starting the producer id counter afresh above every id in the logs (the bad copies are kept as .corrupt)"
            );
            set_aside(&dir.join("pipit-producer-ids"));
            ProducerIds::open(dir).map_err(|e| format!("{}: {e}", dir.display()))
        }
        other => other.map_err(|e| format!("{}: {e}", dir.display())),
    }
}

/// The ring shape `pdir`'s files have, `fallback` supplying what they do not say.
pub(super) fn shape_from_files(pdir: &Path, fallback: RingShape) -> Option<RingShape> {
    let found = FileBackend::probe_shape(pdir)?;
    let segment_bytes = u32::try_from(found.segment_bytes).unwrap_or(fallback.segment_bytes);
    let index_interval_bytes = found
        .index_interval(segment_bytes, fallback.index_interval_bytes)
        .unwrap_or(fallback.index_interval_bytes);
    Some(RingShape {
        segment_bytes,
        ring_segments: u32::from(found.slots),
        index_interval_bytes,
    })
}

/// Adds the topics and partitions `dir`'s `<topic>-<n>` directories hold that
/// `topics` lacks; returns whether anything was added.
pub(super) fn adopt_partition_dirs(
    dir: &Path,
    topics: &mut Vec<TopicMeta>,
    defaults: &BrokerDefaults,
) -> bool {
    let mut found: BTreeMap<String, u32> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((topic, n)) = name.rsplit_once('-') else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        if entry.path().is_dir() && validate_topic_name(topic).is_ok() {
            let count = found.entry(topic.to_string()).or_default();
            *count = (*count).max(n.saturating_add(1));
        }
    }
    let mut changed = false;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for (name, count) in found {
        if let Some(t) = topics.iter_mut().find(|t| t.name == name) {
            if count > t.partitions {
                log::error!(
                    "topic {name}: {count} partition directories, the metadata records {}: keeping all {count}",
                    t.partitions
                );
                t.partitions = count;
                changed = true;
            }
            continue;
        }
        let fallback = TopicConfig::with_overrides(defaults, &[])
            .map(|c| c.shape())
            .ok();
        let shape =
            (0..count).find_map(|p| shape_from_files(&dir.join(format!("{name}-{p}")), fallback?));
        let Some(shape) = shape else {
            log::warn!("topic {name}: its directories hold no ring files: left alone");
            continue;
        };
        log::error!(
            "topic {name}: not in the topic metadata: rebuilt from its {count} partition directories with ring shape {shape:?}; its config overrides are LOST (defaults apply): set them again"
        );
        topics.push(TopicMeta {
            id: new_topic_id(&name, now),
            name,
            partitions: count,
            overrides: Vec::new(),
            shape: Some(shape),
        });
        changed = true;
    }
    changed
}

/// A stored topic's config; overrides that no longer validate are dropped
/// (each logged) and the topic keeps the defaults for them; `true` when
/// something was dropped (the caller persists the cleaned config).
pub(super) fn restore_config(
    defaults: &BrokerDefaults,
    t: &TopicMeta,
    shape: RingShape,
) -> Result<(TopicConfig, bool), String> {
    if let Ok(cfg) = TopicConfig::restore(defaults, &t.overrides, shape) {
        return Ok((cfg, false));
    }
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in &t.overrides {
        let mut next = kept.clone();
        next.push((key.clone(), value.clone()));
        match TopicConfig::restore(defaults, &next, shape) {
            Ok(_) => kept = next,
            Err(e) => log::error!(
                "topic {}: stored config {key}={value} no longer validates ({e}): dropped, the default applies",
                t.name
            ),
        }
    }
    let cfg = TopicConfig::restore(defaults, &kept, shape)
        .or_else(|_| TopicConfig::restore(defaults, &[], shape));
    // Only the broker's own defaults can fail here: a config error, not damage.
    cfg.map(|cfg| (cfg, true))
        .map_err(|e| format!("topic {}: the broker's topic defaults: {e}", t.name))
}
