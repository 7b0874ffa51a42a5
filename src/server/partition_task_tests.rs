//! The owner task with real files: failure semantics and live config.

use super::*;
use crate::log::partition::sync_faults;
use crate::log::topic_config::{Durability, RingFullPolicy};
use crate::storage::batch::build_test_batch;

fn values(policy: RingFullPolicy) -> TopicValues {
    TopicValues {
        ring_full_policy: policy,
        ..TopicValues::for_tests(16 * 1024, 2)
    }
}

fn batch() -> Bytes {
    let mut b = vec![0u8; 1061];
    build_test_batch(&mut b, 1000, 1, 5, 1).unwrap();
    Bytes::from(b)
}

fn start(name: &str, v: &TopicValues) -> (PartitionHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("pipit-owner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let part = Partition::create(&dir, v).unwrap();
    let h = spawn(part, v, name.into());
    (h, dir)
}

#[test]
fn a_failed_fsync_is_never_acknowledged_and_takes_the_partition_offline() {
    let v = values(RingFullPolicy::OverwriteOldest);
    let (h, dir) = start("fsyncgate", &v);
    smol::block_on(async {
        assert_eq!(h.append(batch(), true).await.unwrap().base_offset, 0);
        assert_eq!(h.high_watermark(), 1);
        sync_faults::fail_syncs_in(&dir);
        let e = h.append(batch(), true).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::KafkaStorageError, "{e:?}");
        // The record written before the failed sync never becomes visible,
        // and nothing later is accepted or served (no silent success).
        let e = h.append(batch(), true).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::KafkaStorageError);
        assert!(e.message.contains("offline"), "{e:?}");
        assert_eq!(
            h.read(0, 1 << 20).await.unwrap_err(),
            ErrorCode::KafkaStorageError
        );
        assert_eq!(h.high_watermark(), 1);
        assert!(h.shared.offline.load(Ordering::Acquire));
        h.close().await;
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ring_full_policy_changes_apply_to_the_running_partition() {
    let v = values(RingFullPolicy::RejectNew);
    let (h, dir) = start("live-policy", &v);
    smol::block_on(async {
        let mut refused = None;
        for i in 0..100 {
            if let Err(e) = h.append(batch(), true).await {
                refused = Some((i, e));
                break;
            }
        }
        let (accepted, e) = refused.expect("a 2 x 16 KiB reject_new ring fills up");
        assert_eq!(e.code, ErrorCode::KafkaStorageError);
        assert!(accepted > 10, "{accepted}");
        h.reconfigure(&values(RingFullPolicy::OverwriteOldest));
        let ok = h.append(batch(), true).await.expect("overwrite_oldest now");
        assert_eq!(ok.base_offset, accepted as i64);
        assert!(h.log_start() > 0, "the oldest segment was recycled");
        h.close().await;
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn durability_changes_apply_to_the_running_partition() {
    let mut v = values(RingFullPolicy::OverwriteOldest);
    v.flush_ms = Some(3_600_000); // fsync: an hour's group-commit window
    let (h, dir) = start("live-durability", &v);
    smol::block_on(async {
        // acks=0-style append: not waiting; nothing visible within the window.
        h.append(batch(), false).await.unwrap();
        assert_eq!(h.high_watermark(), 0);
        v.durability = Durability::Replicated;
        h.reconfigure(&v);
        // The owner applies it at its next wake-up; a command wakes it too.
        h.append(batch(), false).await.unwrap();
        assert_eq!(h.high_watermark(), 2, "replicated: visible once written");
        h.close().await;
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failed_sync_when_a_segment_rolls_takes_the_partition_offline() {
    // replicated durability with no flush interval: the owner never syncs by
    // itself, so the only syncs are the ones a segment roll makes.
    let mut v = values(RingFullPolicy::OverwriteOldest);
    v.durability = Durability::Replicated;
    let (h, dir) = start("roll-sync", &v);
    smol::block_on(async {
        h.append(batch(), true).await.unwrap();
        sync_faults::fail_syncs_in(&dir);
        let mut failed = None;
        for i in 0..64 {
            if let Err(e) = h.append(batch(), true).await {
                failed = Some((i, e));
                break;
            }
        }
        let (i, e) = failed.expect("a roll within 64 KiB of 1 KiB batches");
        assert!(i > 5, "the roll came after the slot filled ({i})");
        assert_eq!(e.code, ErrorCode::KafkaStorageError, "{e:?}");
        assert!(h.shared.offline.load(Ordering::Acquire));
        let later = h.append(batch(), true).await.unwrap_err();
        assert!(later.message.contains("offline"), "{later:?}");
        h.close().await;
    });
    let _ = std::fs::remove_dir_all(dir);
}
