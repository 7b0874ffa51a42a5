//! Corruption injector for a STOPPED broker's data dir (issue 10, "Corruption of
//! real data dirs").
//!
//! [`inject`] applies exactly one damage, chosen with the file by a seed: flip a few
//! bits, zero one 512-byte sector, truncate, or delete. Targets are the files pipit
//! keeps: a partition's segment `.log`, `.index` and `.timeindex` (slot-named or
//! `free-NN`), `producer-state.a/.b`, `recovery-point-checkpoint.a/.b`, and the
//! node's `pipit-meta.a/.b` and `pipit-producer-ids.a/.b`. Bit flips and zeroed
//! sectors land in the part of the file that holds data (up to its last non-zero
//! byte), so damage to a preallocated, mostly empty slot still hits records. The
//! returned [`Damage`] names the seed, the file and what was done; its `Display`
//! is the line a failing run prints so it can be replayed with the same seed.
//! The same seed on the same data dir always does the same thing (files are
//! listed in sorted order).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::wire::SeededRng;

/// What was done to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Bits flipped at these byte offsets (one bit each).
    FlipBits(Vec<u64>),
    /// 512 zero bytes written at this 512-aligned offset.
    ZeroSector(u64),
    /// Cut from `from` bytes to `to` bytes.
    Truncate { from: u64, to: u64 },
    /// Removed.
    Delete,
}

/// One injected damage.
#[derive(Debug, Clone)]
pub struct Damage {
    pub seed: u64,
    /// The damaged file.
    pub file: PathBuf,
    pub kind: Kind,
}

impl Damage {
    /// The file's name (`00000000000000000540.log`, `pipit-meta.a`, ...).
    pub fn file_name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The partition directory's name (`<topic>-<n>`) when the file is in one.
    pub fn partition_dir(&self) -> Option<String> {
        let parent = self
            .file
            .parent()?
            .file_name()?
            .to_string_lossy()
            .into_owned();
        let (_, n) = parent.rsplit_once('-')?;
        n.parse::<u32>().ok().map(|_| parent)
    }

    /// The slot's base offset when the file is a slot-named segment file of any kind.
    pub fn slot_base(&self) -> Option<u64> {
        let name = self.file_name();
        let stem = name.split('.').next()?;
        (stem.len() == 20).then(|| stem.parse().ok()).flatten()
    }

    /// True for a segment `.log` (the only files holding records).
    pub fn is_log(&self) -> bool {
        self.file_name().ends_with(".log")
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {:#x}: {} ", self.seed, self.file.display())?;
        match &self.kind {
            Kind::FlipBits(at) => write!(f, "bits flipped at byte offsets {at:?}"),
            Kind::ZeroSector(at) => write!(f, "512 bytes zeroed at {at}"),
            Kind::Truncate { from, to } => write!(f, "truncated from {from} to {to} bytes"),
            Kind::Delete => write!(f, "deleted"),
        }
    }
}

/// Whether `name` is a file the injector may damage.
pub fn is_target(name: &str) -> bool {
    const NODE: [&str; 6] = [
        "pipit-meta.a",
        "pipit-meta.b",
        "pipit-producer-ids.a",
        "pipit-producer-ids.b",
        "producer-state.a",
        "producer-state.b",
    ];
    const CHECKPOINT: [&str; 2] = ["recovery-point-checkpoint.a", "recovery-point-checkpoint.b"];
    if NODE.contains(&name) || CHECKPOINT.contains(&name) {
        return true;
    }
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    let slot = (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        || stem
            .strip_prefix("free-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    slot && matches!(ext, "log" | "index" | "timeindex")
}

/// Every target file under `data` (the node's files and each partition dir's), sorted.
pub fn targets(data: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![data.to_path_buf()];
    if let Ok(entries) = fs::read_dir(data) {
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() && is_target(&name) {
                found.push(e.path());
            }
        }
    }
    found.sort();
    found
}

/// Length of `bytes` up to and including its last non-zero byte.
fn used_len(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

/// Applies one seeded damage to one of `data`'s target files (the broker must be
/// stopped). Panics only if `data` has no target file or a write fails.
pub fn inject(data: &Path, seed: u64) -> Damage {
    let files = targets(data);
    assert!(!files.is_empty(), "no file to damage in {}", data.display());
    let mut rng = SeededRng::new(seed);
    let file = files[(rng.next_u64() % files.len() as u64) as usize].clone();
    let bytes = fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let len = bytes.len() as u64;
    // Where the data is: damage there, not in a slot's preallocated zeros.
    let used = used_len(&bytes).clamp(1, len.max(1));
    let kind = match rng.next_u64() % 4 {
        _ if len == 0 => Kind::Delete,
        0 => Kind::FlipBits(
            (0..1 + rng.next_u64() % 8)
                .map(|_| rng.next_u64() % used)
                .collect(),
        ),
        1 => Kind::ZeroSector((rng.next_u64() % used) / 512 * 512),
        2 => Kind::Truncate {
            from: len,
            to: rng.next_u64() % len,
        },
        _ => Kind::Delete,
    };
    apply(&file, kind, seed)
}

/// Does `kind` to `file` (a bit flip flips bit `offset % 8` of the byte at `offset`).
pub fn apply(file: &Path, kind: Kind, seed: u64) -> Damage {
    let mut bytes = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let written = match &kind {
        Kind::FlipBits(at) => {
            for &pos in at {
                bytes[pos as usize] ^= 1 << (pos % 8);
            }
            fs::write(file, &bytes)
        }
        Kind::ZeroSector(at) => {
            let end = (*at as usize + 512).min(bytes.len());
            bytes[*at as usize..end].fill(0);
            fs::write(file, &bytes)
        }
        Kind::Truncate { to, .. } => fs::OpenOptions::new()
            .write(true)
            .open(file)
            .and_then(|f| f.set_len(*to)),
        Kind::Delete => fs::remove_file(file),
    };
    written.unwrap_or_else(|e| panic!("damage {}: {e}", file.display()));
    Damage {
        seed,
        file: file.to_path_buf(),
        kind,
    }
}
