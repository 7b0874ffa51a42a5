//! Unit tests of `state_file` (kept apart to keep the module readable).
use super::*;
use serde::Deserialize;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    epoch: u32,
    offsets: Vec<(String, i64)>,
}

fn value(n: u32) -> Checkpoint {
    Checkpoint {
        epoch: n,
        offsets: vec![("topic-0".into(), i64::from(n) * 10)],
    }
}

/// A fresh directory per test; removed by the test when it passes.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pipit-state-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn round_trip_and_absent_reads_none() {
    let dir = temp_dir("roundtrip");
    let base = dir.join("state");
    let (mut f, loaded) = StateFile::<Checkpoint>::open(&base).unwrap();
    assert_eq!((loaded, f.sequence()), (None, 0));
    assert_eq!(f.write(&value(1)).unwrap(), 1);
    assert_eq!(f.write(&value(2)).unwrap(), 2);
    let (g, loaded) = StateFile::<Checkpoint>::open(&base).unwrap();
    assert_eq!((loaded, g.sequence()), (Some(value(2)), 2));
    assert!(dir.join("state.a").exists() && dir.join("state.b").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_torn_newest_write_at_any_byte_reads_the_previous_value() {
    let dir = temp_dir("torn");
    let base = dir.join("state");
    let (mut f, _) = StateFile::<Checkpoint>::open(&base).unwrap();
    f.write(&value(1)).unwrap(); // slot a
    f.write(&value(2)).unwrap(); // slot b, the newest
    let newest = dir.join("state.b");
    let good = std::fs::read(&newest).unwrap();
    for cut in 0..good.len() {
        std::fs::write(&newest, &good[..cut]).unwrap();
        let (g, loaded) = StateFile::<Checkpoint>::open(&base).unwrap();
        assert_eq!(
            (loaded, g.sequence()),
            (Some(value(1)), 1),
            "truncated at {cut}"
        );
    }
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        std::fs::write(&newest, &bad).unwrap();
        let (mut g, loaded) = StateFile::<Checkpoint>::open(&base).unwrap();
        assert_eq!(loaded, Some(value(1)), "garbage at {at}");
        // The next write replaces the damaged slot, never the good one, and the sequence moves on.
        assert_eq!(g.write(&value(3)).unwrap(), 2);
        assert_eq!(
            StateFile::<Checkpoint>::open(&base).unwrap().1,
            Some(value(3))
        );
        std::fs::write(&newest, &good).unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sequence_is_monotonic_over_many_writes_and_reopens() {
    let dir = temp_dir("seq");
    let base = dir.join("state");
    let mut last = 0;
    for n in 1..=100u32 {
        let (mut f, loaded) = StateFile::<Checkpoint>::open(&base).unwrap();
        assert_eq!(loaded, (n > 1).then(|| value(n - 1)));
        let seq = f.write(&value(n)).unwrap();
        assert!(seq > last, "sequence regressed: {seq} after {last}");
        last = seq;
    }
    assert_eq!(last, 100);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn both_slots_corrupt_is_an_error_not_none() {
    let dir = temp_dir("corrupt");
    let base = dir.join("state");
    let (mut f, _) = StateFile::<Checkpoint>::open(&base).unwrap();
    f.write(&value(1)).unwrap();
    f.write(&value(2)).unwrap();
    std::fs::write(dir.join("state.a"), [b'X'; 40]).unwrap();
    let mut b = std::fs::read(dir.join("state.b")).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(dir.join("state.b"), &b).unwrap();
    match StateFile::<Checkpoint>::open(&base) {
        Err(StateFileError::Corrupt {
            a: Some(SlotProblem::BadMagic { .. }),
            b: Some(SlotProblem::ChecksumMismatch { .. }),
            ..
        }) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // One corrupt slot and one absent is corrupt too: something was written and is lost.
    std::fs::remove_file(dir.join("state.a")).unwrap();
    assert!(matches!(
        StateFile::<Checkpoint>::open(&base),
        Err(StateFileError::Corrupt { a: None, .. })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn oversized_payload_is_refused_before_touching_disk() {
    let dir = temp_dir("cap");
    let base = dir.join("state");
    let (mut f, _) = StateFile::<Vec<u8>>::open_with_cap(&base, 16).unwrap();
    let err = f.write(&vec![7u8; 100]).unwrap_err();
    assert!(
        matches!(err, StateFileError::TooLarge { len: 101, max: 16 }),
        "{err:?}"
    );
    assert!(!dir.join("state.a").exists());
    assert_eq!(f.write(&vec![7u8; 4]).unwrap(), 1);
    std::fs::write(dir.join("state.b"), [0u8; 100]).unwrap();
    let (g, loaded) = StateFile::<Vec<u8>>::open_with_cap(&base, 16).unwrap();
    assert_eq!(
        (loaded, g.sequence()),
        (Some(vec![7u8; 4]), 1),
        "an overlong slot is skipped"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_format_version_is_a_bad_slot() {
    let dir = temp_dir("version");
    let base = dir.join("state");
    let (mut f, _) = StateFile::<u32>::open(&base).unwrap();
    f.write(&1).unwrap();
    f.write(&2).unwrap();
    let mut b = std::fs::read(dir.join("state.b")).unwrap();
    b[4] = 9;
    std::fs::write(dir.join("state.b"), &b).unwrap();
    assert_eq!(StateFile::<u32>::open(&base).unwrap().1, Some(1));
    assert_eq!(
        decode_slot::<u32>(&b, 16).unwrap_err(),
        SlotProblem::UnsupportedVersion { found: 9 }
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Grown {
    epoch: u32,
    offsets: Vec<(String, i64)>,
    added: Option<u16>,
}

fn from_v1(version: u8, payload: &[u8]) -> Option<Grown> {
    (version == 1).then_some(())?;
    let old: Checkpoint = postcard::from_bytes(payload).ok()?;
    Some(Grown {
        epoch: old.epoch,
        offsets: old.offsets,
        added: None,
    })
}

#[test]
fn a_grown_payload_reads_slots_of_the_older_version_and_writes_its_own() {
    let dir = temp_dir("grown");
    let base = dir.join("state");
    let (mut f, _) = StateFile::<Checkpoint>::open(&base).unwrap();
    f.write(&value(1)).unwrap();
    let (mut g, loaded) = StateFile::<Grown>::open_versioned(&base, 2, from_v1).unwrap();
    let v = loaded.expect("the version 1 slot is read");
    assert_eq!((v.epoch, v.added), (1, None));
    let grown = Grown {
        added: Some(7),
        ..v
    };
    assert_eq!(g.write(&grown).unwrap(), 2, "the sequence carries on");
    assert_eq!(std::fs::read(dir.join("state.b")).unwrap()[4], 2);
    let (_, again) = StateFile::<Grown>::open_versioned(&base, 2, from_v1).unwrap();
    assert_eq!(again, Some(grown));
    // A reader of version 1 only does not mistake the newer slot for its own type.
    assert_eq!(
        StateFile::<Checkpoint>::open(&base).unwrap().1,
        Some(value(1))
    );
    std::fs::remove_dir_all(dir).unwrap();
}
