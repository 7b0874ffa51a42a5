//! Power-cut journal (test builds only: cargo feature `powercut-journal`, off by default, so release and board
//! binaries never contain it; without the feature `powercut_off.rs` compiles the same calls as plain I/O).
//!
//! With `PIPIT_POWERCUT_JOURNAL=<path>` set, every write the broker makes to its data files first appends, to
//! that journal, what the write replaces: the ring's `.log`/`.index`/`.timeindex` (through
//! `file_backend.rs`) and the two-copy state files (through `state_file.rs`: checkpoints, producer-state,
//! metadata, producer ids). A test kills the broker with SIGKILL, which keeps the page cache and so the
//! journal (it is never synced), and replays the journal backwards to decide, write by write, what a power
//! cut at that instant could have left on the medium (`tests/common/powercut.rs`).
//!
//! What it models:
//! - A data write is durable once a later `fdatasync`/`fsync` of the same file (by inode, so renames do not
//!   matter) returned successfully and it was journalled before that sync began. Until then it may be lost,
//!   torn at a sector (512 B or 4 KiB), garbled, or kept. A journalled write and its sync mark are taken
//!   under one lock, so a write journalled before a sync's mark is in the page cache before the sync starts.
//! - A state-file write replaces the whole file: the journal holds the whole old content and length; a new
//!   file's old length is 0 (an empty slot reads as absent, as a never-created one does).
//! - A rename is durable once a later sync of its target's directory returned. Until then a power cut keeps
//!   a prefix of a directory's pending renames (journalling filesystems commit metadata in order).
//!
//! What it does not model: creating a partition's ring (its files are fallocated and synced, and the
//! directory synced, before the partition is used; the test creates its topic before the first cut), the
//! removal of files, lying disks that ack an fsync they did not do (except through the test switch
//! `PIPIT_POWERCUT_LOSE_SYNCS=1`, which journals no sync of a ring file, as if the group commit did not
//! fsync, so a test can prove it notices), and
//! reordering within one kept write (a kept write is kept whole).
//!
//! Journal records, little-endian, appended with one `write` each (a record cut short by the kill is the
//! last one and its data write never happened), numbered from 0 in order:
//! - `W` ino u64, pos u64, old file length u64, write length u32, old bytes length u32, old bytes
//! - `S` ino u64, mark u64: a sync of that file covered its `W` records numbered below `mark`
//! - `R` from path, to path (each u16 length + bytes)
//! - `D` dir path, mark u64: a sync of `dir` covered its `R` records numbered below `mark`

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The environment variable naming the journal.
pub const JOURNAL_ENV: &str = "PIPIT_POWERCUT_JOURNAL";
/// Test switch: journal no sync of a ring file, as if the group commit's fsync were gone (the power-cut
/// test must then see acknowledged records lost).
pub const LOSE_SYNCS_ENV: &str = "PIPIT_POWERCUT_LOSE_SYNCS";

struct Journal {
    file: File,
    /// Records appended so far.
    records: u64,
    lose_syncs: bool,
}

fn journal() -> Option<MutexGuard<'static, Journal>> {
    static JOURNAL: OnceLock<Option<Mutex<Journal>>> = OnceLock::new();
    let j = JOURNAL.get_or_init(|| {
        let path = std::env::var_os(JOURNAL_ENV)?;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{JOURNAL_ENV}={}: {e}", Path::new(&path).display()));
        let lose_syncs = std::env::var_os(LOSE_SYNCS_ENV).is_some_and(|v| v == "1");
        ::log::warn!(
            "power-cut journal (a test build): recording every data write in {}{}",
            Path::new(&path).display(),
            if lose_syncs {
                "; ring syncs are not recorded"
            } else {
                ""
            }
        );
        Some(Mutex::new(Journal {
            file,
            records: 0,
            lose_syncs,
        }))
    });
    j.as_ref()
        .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
}

impl Journal {
    fn append(&mut self, record: &[u8]) -> io::Result<()> {
        self.file.write_all(record)?;
        self.records += 1;
        Ok(())
    }

    /// Journals a write of `len` bytes at `pos` of `file`, reading what it replaces.
    fn record_write(&mut self, file: &File, pos: u64, len: usize) -> io::Result<()> {
        let meta = file.metadata()?;
        let old_len = meta.len();
        let end = (pos + len as u64).min(old_len);
        let mut old = vec![0; end.saturating_sub(pos) as usize];
        file.read_exact_at(&mut old, pos)?;
        let mut r = Vec::with_capacity(33 + old.len());
        r.push(b'W');
        r.extend_from_slice(&meta.ino().to_le_bytes());
        r.extend_from_slice(&pos.to_le_bytes());
        r.extend_from_slice(&old_len.to_le_bytes());
        r.extend_from_slice(&(len as u32).to_le_bytes());
        r.extend_from_slice(&(old.len() as u32).to_le_bytes());
        r.extend_from_slice(&old);
        self.append(&r)
    }
}

fn push_path(r: &mut Vec<u8>, p: &Path) {
    let b = p.as_os_str().as_bytes();
    r.extend_from_slice(&(b.len() as u16).to_le_bytes());
    r.extend_from_slice(b);
}

/// `pwrite` of all of `data` at `pos`, journalled first.
pub fn write_at(file: &File, data: &[u8], pos: u64) -> io::Result<()> {
    let Some(mut j) = journal() else {
        return file.write_all_at(data, pos);
    };
    j.record_write(file, pos, data.len())?;
    file.write_all_at(data, pos)
}

/// Creates or replaces the whole content of `path` with `data` (not synced), journalled first.
pub fn rewrite(path: &Path, data: &[u8]) -> io::Result<File> {
    let mut j = journal();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let old_len = f.metadata()?.len();
    if let Some(j) = j.as_mut() {
        j.record_write(&f, 0, data.len().max(old_len as usize))?;
    }
    f.set_len(0)?;
    f.write_all_at(data, 0)?;
    Ok(f)
}

/// `fdatasync`; once it returns, the file's writes journalled before it began are durable.
pub fn sync_data(file: &File) -> io::Result<()> {
    sync(file, false)
}

/// [`sync_data`] of a ring file (the group commit): the one `PIPIT_POWERCUT_LOSE_SYNCS=1` loses.
pub fn sync_ring(file: &File) -> io::Result<()> {
    sync(file, true)
}

fn sync(file: &File, ring: bool) -> io::Result<()> {
    let mark = journal().map(|j| j.records);
    file.sync_data()?;
    if let (Some(mark), Some(mut j)) = (mark, journal())
        && !(ring && j.lose_syncs)
    {
        let mut r = vec![b'S'];
        r.extend_from_slice(&file.metadata()?.ino().to_le_bytes());
        r.extend_from_slice(&mark.to_le_bytes());
        j.append(&r)?;
    }
    Ok(())
}

/// A rename, journalled first.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(mut j) = journal() {
        let mut r = vec![b'R'];
        push_path(&mut r, from);
        push_path(&mut r, to);
        j.append(&r)?;
    }
    std::fs::rename(from, to)
}

/// `fsync` of a directory; once it returns, its renames journalled before it began are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let mark = journal().map(|j| j.records);
    File::open(dir)?.sync_all()?;
    if let (Some(mark), Some(mut j)) = (mark, journal()) {
        let mut r = vec![b'D'];
        push_path(&mut r, dir);
        r.extend_from_slice(&mark.to_le_bytes());
        j.append(&r)?;
    }
    Ok(())
}
