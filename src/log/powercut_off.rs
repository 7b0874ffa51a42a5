//! The file operations the power-cut journal watches, as plain calls: what every
//! build without the `powercut-journal` feature compiles (see `powercut.rs`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// `pwrite` of all of `data` at `pos`.
pub fn write_at(file: &File, data: &[u8], pos: u64) -> io::Result<()> {
    file.write_all_at(data, pos)
}

/// Creates or truncates `path` and writes `data` into it (not synced).
pub fn rewrite(path: &Path, data: &[u8]) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)?;
    Ok(f)
}

/// `fdatasync`.
pub fn sync_data(file: &File) -> io::Result<()> {
    file.sync_data()
}

/// `fdatasync` of a ring file (the group commit).
pub fn sync_ring(file: &File) -> io::Result<()> {
    file.sync_data()
}

pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)
}

/// `fsync` of a directory (its entries: creates and renames).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
