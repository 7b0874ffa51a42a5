//! The one seam between the storage core and the world: a small backend trait.
//!
//! A partition's ring is `slots` fixed-size slots; each slot is three files
//! (`.log`, `.index`, `.timeindex`), addressed by [`FileId`], and carries a
//! label: the base offset it currently holds, or none when free. The std
//! shell (src/log) maps this onto Kafka's directory layout, where the label is
//! the file name; tests use the in-memory and crash-injecting backends of
//! [`super::sim`].
//!
//! Contract:
//! - files are preallocated: `write_at` never grows a file beyond
//!   [`Backend::capacity`], reads past what was written return stale or zero
//!   bytes (the core never trusts them without checks);
//! - `sync(file)` makes every earlier write to that file durable;
//! - `relabel` is durable when it returns (the file backend renames and syncs
//!   the directory), so a slot's label never goes back after a crash.

/// Which of a slot's three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Log,
    Index,
    TimeIndex,
}

/// A file of the ring: slot number and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub slot: u16,
    pub kind: FileKind,
}

impl FileId {
    pub const fn log(slot: u16) -> Self {
        FileId {
            slot,
            kind: FileKind::Log,
        }
    }
    pub const fn index(slot: u16) -> Self {
        FileId {
            slot,
            kind: FileKind::Index,
        }
    }
    pub const fn time_index(slot: u16) -> Self {
        FileId {
            slot,
            kind: FileKind::TimeIndex,
        }
    }
}

/// Storage for one ring's files.
pub trait Backend {
    type Error: core::fmt::Debug;

    /// Fills `buf` from `file` at byte `pos`. Reading past the capacity is an error.
    fn read_at(&mut self, file: FileId, pos: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Writes `data` to `file` at byte `pos`; not durable until `sync`.
    fn write_at(&mut self, file: FileId, pos: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Writes `parts` back to back at byte `pos`, as one write where the
    /// backend can (a batch's stamped prefix and the caller's bytes, without
    /// copying them together first). Not durable until `sync`.
    fn write_vectored_at(
        &mut self,
        file: FileId,
        pos: u64,
        parts: &[&[u8]],
    ) -> Result<(), Self::Error> {
        let mut at = pos;
        for part in parts {
            self.write_at(file, at, part)?;
            at += part.len() as u64;
        }
        Ok(())
    }
    /// Makes every earlier write to `file` durable.
    fn sync(&mut self, file: FileId) -> Result<(), Self::Error>;
    /// The preallocated size of `file` in bytes.
    fn capacity(&self, file: FileId) -> u64;
    /// The base offset a slot holds, or `None` when the slot is free.
    fn label(&self, slot: u16) -> Option<u64>;
    /// Durably sets a slot's label (a rename for files).
    fn relabel(&mut self, slot: u16, base: Option<u64>) -> Result<(), Self::Error>;
}
