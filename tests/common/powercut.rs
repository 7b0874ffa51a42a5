//! The power-cut simulator: after `kill -9` of a broker that ran with the power-cut journal
//! (`src/log/powercut.rs`, cargo feature `powercut-journal`), decides write by write what a power cut at
//! that instant could have left on the medium, and makes the data directory so.
//!
//! Every journalled write not covered by a later sync of its file gets one seeded fault, applied newest
//! first: kept, dropped (its old bytes restored), torn (a prefix up to a 512 B or 4 KiB boundary kept, the
//! rest restored) or garbled (a run of its sectors replaced by random bytes). Of a directory's renames not
//! covered by a later sync of it, a random prefix is kept and the rest undone. Files are found by inode,
//! so a write to a file renamed later still lands in the right place. The journal is removed afterwards
//! (the next broker run starts a new one).

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::wire::SeededRng;

/// The environment variables the broker's journal reads (see `src/log/powercut.rs`).
pub const JOURNAL_ENV: &str = "PIPIT_POWERCUT_JOURNAL";
pub const LOSE_SYNCS_ENV: &str = "PIPIT_POWERCUT_LOSE_SYNCS";

/// What one or more cuts did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    /// Journalled writes, and those a sync had made durable.
    pub writes: usize,
    pub synced: usize,
    pub kept: usize,
    /// Of the unsynced writes, those to a ring's `.log` files (records, not indexes or state).
    pub unsynced_log: usize,
    pub dropped: usize,
    pub torn: usize,
    pub garbled: usize,
    /// Renames not yet synced, and those undone.
    pub pending_renames: usize,
    pub renames_undone: usize,
}

impl Faults {
    pub fn add(&mut self, o: Faults) {
        self.writes += o.writes;
        self.synced += o.synced;
        self.kept += o.kept;
        self.unsynced_log += o.unsynced_log;
        self.dropped += o.dropped;
        self.torn += o.torn;
        self.garbled += o.garbled;
        self.pending_renames += o.pending_renames;
        self.renames_undone += o.renames_undone;
    }

    /// Writes a power cut changed.
    pub fn applied(&self) -> usize {
        self.dropped + self.torn + self.garbled
    }
}

enum Rec {
    Write {
        ino: u64,
        pos: u64,
        old_len: u64,
        len: u64,
        old: Vec<u8>,
    },
    Sync {
        ino: u64,
        mark: u64,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    DirSync {
        dir: PathBuf,
        mark: u64,
    },
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn path(&mut self) -> Option<PathBuf> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(self.take(n)?)))
    }
    fn record(&mut self) -> Option<Rec> {
        Some(match self.take(1)?[0] {
            b'W' => {
                let (ino, pos, old_len) = (self.u64()?, self.u64()?, self.u64()?);
                let (len, n_old) = (self.u32()?, self.u32()?);
                let old = self.take(n_old as usize)?.to_vec();
                Rec::Write {
                    ino,
                    pos,
                    old_len,
                    len: u64::from(len),
                    old,
                }
            }
            b'S' => Rec::Sync {
                ino: self.u64()?,
                mark: self.u64()?,
            },
            b'R' => Rec::Rename {
                from: self.path()?,
                to: self.path()?,
            },
            b'D' => Rec::DirSync {
                dir: self.path()?,
                mark: self.u64()?,
            },
            other => panic!("power-cut journal: unknown record tag {other:#x}"),
        })
    }
}

/// Parses a journal; a record cut short by the kill ends it (its data write never happened).
fn parse(bytes: &[u8]) -> Vec<Rec> {
    let mut r = Reader(bytes);
    let mut out = Vec::new();
    while let Some(rec) = r.record() {
        out.push(rec);
    }
    out
}

fn inodes(dir: &Path, map: &mut HashMap<u64, PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.is_dir() {
            inodes(&e.path(), map);
        } else {
            map.insert(m.ino(), e.path());
        }
    }
}

/// Puts `old` back over `[from, end)` of a write at `pos` (`old` starts at `pos`), and the file's old
/// length if the write had grown it and nothing later grew it further.
fn restore(path: &Path, pos: u64, old_len: u64, len: u64, old: &[u8], from: u64) {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("power cut: open {}: {e}", path.display()));
    let skip = (from - pos) as usize;
    if let Some(back) = old.get(skip..) {
        f.write_all_at(back, from).expect("restore old bytes");
    }
    let new_len = old_len.max(pos + len);
    let cur = f.metadata().expect("stat").len();
    if new_len > old_len && cur == new_len {
        f.set_len(old_len.max(from)).expect("set_len");
    }
}

/// Simulates a power cut on `data_dir` of a broker killed with SIGKILL, from the journal at `journal`.
pub fn cut(journal: &Path, data_dir: &Path, rng: &mut SeededRng) -> Faults {
    // No journal: this run wrote nothing yet (the caller checks once that the broker journals at all).
    let bytes = match fs::read(journal) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Faults::default(),
        Err(e) => panic!("power-cut journal {}: {e}", journal.display()),
    };
    let recs = parse(&bytes);
    let mut synced_below: HashMap<u64, u64> = HashMap::new();
    let mut dir_synced_below: HashMap<PathBuf, u64> = HashMap::new();
    for r in &recs {
        match r {
            Rec::Sync { ino, mark } => {
                let e = synced_below.entry(*ino).or_default();
                *e = (*e).max(*mark);
            }
            Rec::DirSync { dir, mark } => {
                let e = dir_synced_below.entry(dir.clone()).or_default();
                *e = (*e).max(*mark);
            }
            _ => {}
        }
    }
    let mut files = HashMap::new();
    inodes(data_dir, &mut files);
    let mut f = Faults::default();
    for (i, r) in recs.iter().enumerate().rev() {
        let Rec::Write {
            ino,
            pos,
            old_len,
            len,
            old,
        } = r
        else {
            continue;
        };
        let (pos, old_len, len) = (*pos, *old_len, *len);
        f.writes += 1;
        if (i as u64) < synced_below.get(ino).copied().unwrap_or(0) {
            f.synced += 1;
            continue;
        }
        let Some(path) = files.get(ino) else {
            continue; // the file is gone (removed later)
        };
        let end = pos + len;
        f.unsynced_log += usize::from(path.extension().is_some_and(|e| e == "log"));
        match rng.next_u64() % 4 {
            0 => f.kept += 1,
            1 => {
                f.dropped += 1;
                restore(path, pos, old_len, len, old, pos);
            }
            2 => {
                // At a 4 KiB page or a 512 B sector boundary inside the write (512 B if no page one is).
                let inside =
                    |gran: u64| ((pos / gran + 1) * gran, end.saturating_sub(1) / gran * gran);
                let page = rng.next_u64().is_multiple_of(2) && inside(4096).0 <= inside(4096).1;
                let gran = if page { 4096 } else { 512 };
                let (first, last) = inside(gran);
                if first > last || len == 0 {
                    f.dropped += 1;
                    restore(path, pos, old_len, len, old, pos);
                } else {
                    f.torn += 1;
                    let at = first + rng.next_u64() % ((last - first) / gran + 1) * gran;
                    restore(path, pos, old_len, len, old, at);
                }
            }
            _ => {
                f.garbled += 1;
                let start = (pos + rng.next_u64() % len.max(1)) / 512 * 512;
                let stop = (start + 512 * (1 + rng.next_u64() % 8)).min(end);
                let start = start.max(pos);
                let file = OpenOptions::new().write(true).open(path).expect("open");
                file.write_all_at(&rng.bytes((stop - start) as usize), start)
                    .expect("garble");
            }
        }
    }
    // Renames: per directory, a prefix of the unsynced ones stays.
    let mut pending: HashMap<PathBuf, Vec<(&Path, &Path)>> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        if let Rec::Rename { from, to } = r {
            let dir = to.parent().unwrap_or(Path::new("")).to_path_buf();
            if (i as u64) >= dir_synced_below.get(&dir).copied().unwrap_or(0) {
                pending.entry(dir).or_default().push((from, to));
            }
        }
    }
    let mut dirs: Vec<_> = pending.into_iter().collect();
    dirs.sort();
    for (_, renames) in dirs {
        f.pending_renames += renames.len();
        let keep = (rng.next_u64() % (renames.len() as u64 + 1)) as usize;
        for (from, to) in renames[keep..].iter().rev() {
            if to.exists() && !from.exists() {
                fs::rename(to, from).expect("undo rename");
                f.renames_undone += 1;
            }
        }
    }
    fs::remove_file(journal).expect("remove the journal");
    f
}
