//! The storage backend on files: one partition directory, Kafka's layout.
//!
//! `<log.dirs>/<topic>-<partition>/` holds, per slot, three preallocated files
//! named by the slot's base offset as Kafka names segments:
//! `00000000000000000042.log`, `.index`, `.timeindex`. A slot that holds no
//! data yet is named `free-NN.*`. Relabelling a slot renames its three files
//! (index files first, `.log` last: the `.log` name is the authority) and
//! syncs the directory, so a label never goes back after a power cut; at open,
//! index files left behind by a torn rename are re-paired with their `.log`.
//! Creation checks free space first, then reserves every file with
//! fallocate. When fallocate fails (ENOSPC included) creation fails with
//! [`DirError::NoSpace`] or the I/O error and removes the directory: a ring is
//! never left as a sparse file that a later write could find the disk full
//! under. Only where the filesystem has no fallocate (EOPNOTSUPP, ENOSYS) is
//! a file reserved by writing zeros over it, which really allocates the
//! blocks (and costs one write of the ring, logged as a warning).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::powercut;
use crate::storage::{Backend, FileId, FileKind, RingConfig};

/// Why a partition directory could not be created or opened.
#[derive(Debug)]
pub enum DirError {
    /// Not enough free space to reserve the ring.
    NoSpace {
        dir: PathBuf,
        needed: u64,
        free: u64,
    },
    /// The directory holds a different number of slots than configured.
    SlotCount {
        dir: PathBuf,
        found: usize,
        expected: usize,
    },
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::NoSpace { dir, needed, free } => write!(
                f,
                "not enough disk space in {}: the ring needs {needed} bytes, {free} bytes are free",
                dir.display()
            ),
            DirError::SlotCount {
                dir,
                found,
                expected,
            } => write!(
                f,
                "{} holds {found} segment slots but {expected} are configured",
                dir.display()
            ),
            DirError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for DirError {}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DirError + '_ {
    move |error| DirError::Io {
        path: path.to_path_buf(),
        error,
    }
}

struct SlotFiles {
    label: Option<u64>,
    stem: String,
    files: [File; 3],
}

/// A partition directory as a [`Backend`].
pub struct FileBackend {
    dir: PathBuf,
    slots: Vec<SlotFiles>,
    caps: [u64; 3],
}

fn kind_index(k: FileKind) -> usize {
    match k {
        FileKind::Log => 0,
        FileKind::Index => 1,
        FileKind::TimeIndex => 2,
    }
}

const EXTS: [&str; 3] = ["log", "index", "timeindex"];

fn stem_for(label: Option<u64>, slot: usize) -> String {
    match label {
        Some(base) => format!("{base:020}"),
        None => format!("free-{slot:02}"),
    }
}

/// Whether `stem` names a ring slot: a 20-digit base offset or `free-NN`.
fn is_slot_stem(stem: &str) -> bool {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    (stem.len() == 20 && digits(stem)) || stem.strip_prefix("free-").is_some_and(digits)
}

/// The shape of a ring as its files show it (for topics stored without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeOnDisk {
    pub slots: u16,
    /// The size of the slots' `.log` files.
    pub segment_bytes: u64,
    /// The size of a slot's `.index` file.
    pub index_bytes: u64,
}

impl ShapeOnDisk {
    /// An `index.interval.bytes` that sizes the `.index` file as found (`preferred` if it does), if any.
    pub fn index_interval(&self, segment_bytes: u32, preferred: u32) -> Option<u32> {
        let entries = self.index_bytes / crate::storage::index::INDEX_ENTRY_LEN;
        if crate::storage::index::max_entries(segment_bytes, preferred) == entries {
            return Some(preferred);
        }
        let guess = u64::from(segment_bytes) / entries.checked_sub(1).filter(|&n| n > 0)?;
        // Integer division: the interval is any value with the same entry count; take the first that fits.
        (guess.saturating_sub(1).max(1)..=guess.saturating_add(1))
            .filter_map(|i| u32::try_from(i).ok())
            .find(|&i| crate::storage::index::max_entries(segment_bytes, i) == entries)
    }
}

/// The total size of the filesystem holding `dir`.
pub fn filesystem_bytes(dir: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(dir).map_err(io::Error::from)?;
    Ok(st.f_blocks.saturating_mul(st.f_frsize))
}

/// Free bytes for unprivileged users on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(dir).map_err(io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Reserves `len` bytes of a file: the real `fallocate(2)`, or a fault in tests.
pub type Fallocate = fn(&File, u64) -> io::Result<()>;

fn fallocate(file: &File, len: u64) -> io::Result<()> {
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len)
        .map_err(io::Error::from)
}

/// How a file's bytes were reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reserved {
    Fallocated,
    /// The filesystem has no fallocate: zeros were written.
    Zeroed,
}

fn unsupported(e: &io::Error) -> bool {
    use rustix::io::Errno;
    let errno = Errno::from_io_error(e);
    errno == Some(Errno::OPNOTSUPP) || errno == Some(Errno::NOSYS)
}

fn no_space(e: &io::Error) -> bool {
    rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::NOSPC)
}

/// Allocates `len` bytes of a new, empty `file` for real; never leaves it sparse.
fn reserve(file: &File, len: u64, fallocate: Fallocate) -> io::Result<Reserved> {
    match fallocate(file, len) {
        Ok(()) => Ok(Reserved::Fallocated),
        Err(e) if unsupported(&e) => {
            const CHUNK: u64 = 64 * 1024;
            let zeros = [0u8; CHUNK as usize];
            let mut at = 0;
            while at < len {
                let n = (len - at).min(CHUNK) as usize;
                file.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
            Ok(Reserved::Zeroed)
        }
        Err(e) => Err(e),
    }
}

impl FileBackend {
    /// Creates `dir` with a fresh, preallocated ring. Fails with
    /// [`DirError::NoSpace`] before writing anything if the disk cannot hold it.
    pub fn create(dir: &Path, cfg: &RingConfig) -> Result<Self, DirError> {
        Self::create_with(dir, cfg, fallocate)
    }

    /// [`FileBackend::create`] with the reservation call given (tests inject faults).
    pub fn create_with(
        dir: &Path,
        cfg: &RingConfig,
        fallocate: Fallocate,
    ) -> Result<Self, DirError> {
        let parent = dir.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        let needed = cfg.reserved_bytes();
        let free = free_bytes(parent).map_err(io_err(parent))?;
        if needed > free {
            return Err(DirError::NoSpace {
                dir: dir.to_path_buf(),
                needed,
                free,
            });
        }
        // A directory of its own: on failure it is removed whole, so it must not hold anything else.
        fs::create_dir(dir).map_err(io_err(dir))?;
        let made = Self::reserve_files(dir, cfg, fallocate).and_then(|_| Self::open(dir, cfg));
        match made {
            Ok(b) => Ok(b),
            Err(e) => {
                // Nothing half-reserved stays behind.
                let _ = fs::remove_dir_all(dir);
                Err(match e {
                    DirError::Io { error, .. } if no_space(&error) => DirError::NoSpace {
                        dir: dir.to_path_buf(),
                        needed,
                        free: free_bytes(parent).unwrap_or(0),
                    },
                    other => other,
                })
            }
        }
    }

    fn reserve_files(dir: &Path, cfg: &RingConfig, fallocate: Fallocate) -> Result<(), DirError> {
        let caps = [
            cfg.segment_bytes as u64,
            cfg.index_bytes(),
            cfg.time_index_bytes(),
        ];
        let mut zeroed = false;
        for slot in 0..cfg.slots as usize {
            let stem = stem_for(None, slot);
            for (ext, cap) in EXTS.iter().zip(caps) {
                let path = dir.join(format!("{stem}.{ext}"));
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                zeroed |= reserve(&f, cap, fallocate).map_err(io_err(&path))? == Reserved::Zeroed;
                f.sync_all().map_err(io_err(&path))?;
            }
        }
        if zeroed {
            ::log::warn!(
                "{}: the filesystem has no fallocate: reserved the ring's {} bytes by writing zeros",
                dir.display(),
                cfg.reserved_bytes()
            );
        }
        sync_dir(dir)?;
        // The partition directory's own entry in `log.dirs` must be durable
        // too, or a power cut right after creation loses the whole ring.
        sync_dir(dir.parent().unwrap_or(Path::new(".")))
    }

    /// Opens an existing partition directory.
    pub fn open(dir: &Path, cfg: &RingConfig) -> Result<Self, DirError> {
        let logs = slot_logs(dir, cfg)?;
        let mut orphans: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        if logs.len() != cfg.slots as usize {
            return Err(DirError::SlotCount {
                dir: dir.to_path_buf(),
                found: logs.len(),
                expected: cfg.slots as usize,
            });
        }
        // Index files whose `.log` moved on (a rename cut short by a crash).
        for (i, ext) in ["index", "timeindex"].iter().enumerate() {
            for entry in fs::read_dir(dir).map_err(io_err(dir))? {
                let entry = entry.map_err(io_err(dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(&format!(".{ext}"))
                    && is_slot_stem(stem)
                    && !logs.iter().any(|l| l == stem)
                {
                    orphans[i].push(stem.to_string());
                }
            }
        }
        let mut slots = Vec::with_capacity(logs.len());
        for stem in logs {
            for (i, ext) in ["index", "timeindex"].iter().enumerate() {
                let want = dir.join(format!("{stem}.{ext}"));
                if !want.exists()
                    && let Some(orphan) = orphans[i].pop()
                {
                    let from = dir.join(format!("{orphan}.{ext}"));
                    powercut::rename(&from, &want).map_err(io_err(&from))?;
                }
            }
            let label = stem.parse::<u64>().ok();
            // A lost or cut index only loses hints; a cut `.log` keeps its offsets and recovery
            // quarantines what is gone: both are restored to size, not refused.
            let open = |ext: &str, cap: u64| {
                let path = dir.join(format!("{stem}.{ext}"));
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(ext != "log")
                    .open(&path)
                    .map_err(io_err(&path))?;
                let len = file.metadata().map_err(io_err(&path))?.len();
                if len < cap {
                    log::warn!(
                        "{}: {len} bytes, {cap} expected: restored to size",
                        path.display()
                    );
                    file.set_len(cap).map_err(io_err(&path))?;
                }
                Ok::<_, DirError>(file)
            };
            slots.push(SlotFiles {
                label,
                files: [
                    open("log", u64::from(cfg.segment_bytes))?,
                    open("index", cfg.index_bytes())?,
                    open("timeindex", cfg.time_index_bytes())?,
                ],
                stem,
            });
        }
        sync_dir(dir)?;
        Ok(FileBackend {
            dir: dir.to_path_buf(),
            slots,
            caps: [
                cfg.segment_bytes as u64,
                cfg.index_bytes(),
                cfg.time_index_bytes(),
            ],
        })
    }

    /// Reads a ring's shape from its files: the slots are the slot-named
    /// `.log` files of the largest size. `None` if there are none.
    pub fn probe_shape(dir: &Path) -> Option<ShapeOnDisk> {
        let mut logs: Vec<(String, u64)> = Vec::new();
        for entry in fs::read_dir(dir).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".log").filter(|s| is_slot_stem(s)) {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                logs.push((stem.to_string(), len));
            }
        }
        let segment_bytes = logs.iter().map(|(_, len)| *len).max()?;
        logs.retain(|(_, len)| *len == segment_bytes);
        let (stem, _) = logs.first()?;
        let index_bytes = fs::metadata(dir.join(format!("{stem}.index")))
            .map(|m| m.len())
            .unwrap_or(0);
        Some(ShapeOnDisk {
            slots: u16::try_from(logs.len()).ok()?,
            segment_bytes,
            index_bytes,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A second handle on one of the ring's files (a sync on it can run on
    /// another thread while appends go on through this backend).
    pub fn clone_file(&self, f: FileId) -> io::Result<File> {
        self.file(f)?.try_clone()
    }

    fn file(&self, f: FileId) -> io::Result<&File> {
        self.slots
            .get(f.slot as usize)
            .map(|s| &s.files[kind_index(f.kind)])
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no slot {}", f.slot)))
    }
}

/// The stems of the ring's slot files in `dir`, sorted. A `.log` file that
/// cannot be a slot (not named like one, or, when there are more slot-named
/// files than slots, not of the slot size) is logged and left alone.
fn slot_logs(dir: &Path, cfg: &RingConfig) -> Result<Vec<String>, DirError> {
    let mut logs: Vec<(String, u64)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        if !is_slot_stem(stem) {
            ::log::warn!(
                "{}: {name} is not a segment slot's name; left alone",
                dir.display()
            );
            continue;
        }
        let len = entry.metadata().map_err(io_err(&entry.path()))?.len();
        logs.push((stem.to_string(), len));
    }
    if logs.len() > cfg.slots as usize {
        logs.retain(|(stem, len)| {
            let slot_sized = *len == u64::from(cfg.segment_bytes);
            if !slot_sized {
                ::log::warn!(
                    "{}: {stem}.log is {len} bytes, not a {}-byte segment slot; left alone",
                    dir.display(),
                    cfg.segment_bytes
                );
            }
            slot_sized
        });
    }
    let mut stems: Vec<String> = logs.into_iter().map(|(stem, _)| stem).collect();
    stems.sort();
    Ok(stems)
}

fn sync_dir(dir: &Path) -> Result<(), DirError> {
    powercut::sync_dir(dir).map_err(io_err(dir))
}

impl Backend for FileBackend {
    type Error = io::Error;

    fn read_at(&mut self, f: FileId, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file(f)?.read_exact_at(buf, pos)
    }

    fn write_at(&mut self, f: FileId, pos: u64, data: &[u8]) -> io::Result<()> {
        if pos + data.len() as u64 > self.caps[kind_index(f.kind)] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write past the preallocated size",
            ));
        }
        powercut::write_at(self.file(f)?, data, pos)
    }

    fn sync(&mut self, f: FileId) -> io::Result<()> {
        #[cfg(test)]
        if crate::log::partition::sync_faults::failing(&self.dir) {
            return Err(io::Error::from_raw_os_error(5)); // EIO
        }
        powercut::sync_ring(self.file(f)?)
    }

    fn capacity(&self, f: FileId) -> u64 {
        self.file(f)
            .and_then(|file| file.metadata())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn label(&self, slot: u16) -> Option<u64> {
        self.slots.get(slot as usize).and_then(|s| s.label)
    }

    fn relabel(&mut self, slot: u16, base: Option<u64>) -> io::Result<()> {
        let new_stem = match base {
            Some(_) => stem_for(base, slot as usize),
            // Free names must be unique: take the first unused free-NN.
            None => (0..1000)
                .map(|n| stem_for(None, n))
                .find(|c| !self.dir.join(format!("{c}.log")).exists())
                .ok_or_else(|| io::Error::other("no free slot name left"))?,
        };
        let dir = self.dir.clone();
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no slot {slot}"),
            ));
        };
        for ext in ["index", "timeindex", "log"] {
            powercut::rename(
                &dir.join(format!("{}.{ext}", s.stem)),
                &dir.join(format!("{new_stem}.{ext}")),
            )?;
        }
        powercut::sync_dir(&dir)?;
        s.stem = new_stem;
        s.label = base;
        Ok(())
    }
}

#[cfg(test)]
#[path = "file_backend_tests.rs"]
mod tests;
