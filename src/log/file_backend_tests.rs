//! Unit tests of `file_backend` (kept apart to keep the module readable).
use super::*;
use crate::storage::FullPolicy;

#[test]
fn creation_beyond_free_space_names_dir_needed_and_free() {
    let parent = std::env::temp_dir().join(format!("pipit-nospace-{}", std::process::id()));
    std::fs::create_dir_all(&parent).unwrap();
    let free = free_bytes(&parent).unwrap();
    // 65,535 slots of 2 GiB (about 128 TiB with indexes): more than any disk
    // this runs on, so the check never passes by skipping.
    let cfg = RingConfig {
        slots: u16::MAX,
        segment_bytes: i32::MAX as u32,
        index_interval: 4096,
        policy: FullPolicy::OverwriteOldest,
    };
    assert!(
        cfg.reserved_bytes() > free,
        "{free} bytes free is more than the test ring"
    );
    let dir = parent.join("t-0");
    match FileBackend::create(&dir, &cfg) {
        Err(e @ DirError::NoSpace { .. }) => {
            let DirError::NoSpace {
                dir: d,
                needed,
                free: f,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(d, &dir);
            assert_eq!(*needed, cfg.reserved_bytes());
            assert!(*f < *needed);
            let msg = e.to_string();
            assert!(msg.contains(&dir.display().to_string()) && msg.contains(&needed.to_string()));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("created a ring larger than the disk"),
    }
    assert!(!dir.exists(), "nothing is written when the check fails");
    let _ = std::fs::remove_dir_all(parent);
}

fn small_ring() -> RingConfig {
    RingConfig {
        slots: 2,
        segment_bytes: 64 * 1024,
        index_interval: 4096,
        policy: FullPolicy::OverwriteOldest,
    }
}

fn fresh(name: &str) -> PathBuf {
    let parent = std::env::temp_dir().join(format!("pipit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    parent.join("t-0")
}

#[test]
fn a_reservation_refused_for_space_fails_creation_and_leaves_nothing() {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // The third file finds the disk full (free space changed after the check).
    fn full_on_third(f: &File, len: u64) -> io::Result<()> {
        if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 2 {
            return Err(io::Error::from(rustix::io::Errno::NOSPC));
        }
        fallocate(f, len)
    }
    let dir = fresh("enospc");
    let cfg = small_ring();
    match FileBackend::create_with(&dir, &cfg, full_on_third) {
        Err(DirError::NoSpace { dir: d, needed, .. }) => {
            assert_eq!((d, needed), (dir.clone(), cfg.reserved_bytes()));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("created a ring on a full disk"),
    }
    assert!(!dir.exists(), "nothing half-reserved stays behind");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn without_fallocate_the_ring_is_reserved_by_writing_zeros_never_sparse() {
    use std::os::unix::fs::MetadataExt;
    fn unsupported(_: &File, _: u64) -> io::Result<()> {
        Err(io::Error::from(rustix::io::Errno::OPNOTSUPP))
    }
    let dir = fresh("nofallocate");
    let cfg = small_ring();
    FileBackend::create_with(&dir, &cfg, unsupported).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let m = entry.metadata().unwrap();
        if entry.file_name().to_string_lossy().ends_with(".log") {
            assert_eq!(m.len(), 64 * 1024);
        }
        assert!(
            m.blocks() * 512 >= m.len(),
            "{:?} is sparse: {} blocks for {} bytes",
            entry.file_name(),
            m.blocks(),
            m.len()
        );
    }
    // Any other failure is an error, not a fallback.
    fn broken(_: &File, _: u64) -> io::Result<()> {
        Err(io::Error::from(rustix::io::Errno::IO))
    }
    let other = fresh("eio");
    assert!(matches!(
        FileBackend::create_with(&other, &cfg, broken),
        Err(DirError::Io { .. })
    ));
    assert!(!other.exists());
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    let _ = std::fs::remove_dir_all(other.parent().unwrap());
}

#[test]
fn relabel_renames_all_three_files_and_reopen_keeps_labels() {
    let dir = std::env::temp_dir().join(format!("pipit-relabel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = RingConfig {
        slots: 2,
        segment_bytes: 4096,
        index_interval: 512,
        policy: FullPolicy::OverwriteOldest,
    };
    let mut b = FileBackend::create(&dir, &cfg).unwrap();
    b.relabel(1, Some(42)).unwrap();
    for ext in ["log", "index", "timeindex"] {
        assert!(dir.join(format!("00000000000000000042.{ext}")).exists());
    }
    // A crash between renames leaves index files behind: they are re-paired.
    std::fs::rename(
        dir.join("00000000000000000042.index"),
        dir.join("free-07.index"),
    )
    .unwrap();
    let b = FileBackend::open(&dir, &cfg).unwrap();
    let labels: Vec<Option<u64>> = (0..2).map(|n| b.label(n)).collect();
    assert!(labels.contains(&Some(42)) && labels.contains(&None));
    assert!(dir.join("00000000000000000042.index").exists());
    let _ = std::fs::remove_dir_all(dir);
}
