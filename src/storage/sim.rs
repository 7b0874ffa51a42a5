//! Test backends (std only): an in-memory backend and a crash-injecting one.
//!
//! [`MemBackend`] allocates every file once at creation, so appends through it
//! allocate nothing. [`CrashBackend`] keeps, per file, the synced image apart
//! from the writes made since the last sync; [`CrashBackend::crash`] throws
//! the unsynced writes away, keeps some, or tears one, as a seeded RNG says,
//! which is what a power cut does to a page cache.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::backend::{Backend, FileId, FileKind};

/// Errors of the test backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    OutOfBounds {
        pos: u64,
        len: usize,
        capacity: u64,
    },
    NoSuchSlot(u16),
    /// [`CrashBackend::fail_after`] ran out: the disk "died".
    Injected,
}

fn kind_index(kind: FileKind) -> usize {
    match kind {
        FileKind::Log => 0,
        FileKind::Index => 1,
        FileKind::TimeIndex => 2,
    }
}

/// File capacities for a ring of `slots` slots.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub slots: u16,
    pub log: u64,
    pub index: u64,
    pub time_index: u64,
}

impl Sizes {
    fn of(&self, kind: FileKind) -> u64 {
        match kind {
            FileKind::Log => self.log,
            FileKind::Index => self.index,
            FileKind::TimeIndex => self.time_index,
        }
    }
}

/// Every file in memory, preallocated (zero-filled) at creation.
#[derive(Debug, Clone)]
pub struct MemBackend {
    files: Vec<[Vec<u8>; 3]>,
    labels: Vec<Option<u64>>,
}

impl MemBackend {
    pub fn new(sizes: Sizes) -> Self {
        let files = (0..sizes.slots)
            .map(|_| {
                [
                    vec![0u8; sizes.log as usize],
                    vec![0u8; sizes.index as usize],
                    vec![0u8; sizes.time_index as usize],
                ]
            })
            .collect();
        MemBackend {
            files,
            labels: vec![None; sizes.slots as usize],
        }
    }

    fn file(&mut self, f: FileId) -> Result<&mut Vec<u8>, SimError> {
        self.files
            .get_mut(f.slot as usize)
            .map(|s| &mut s[kind_index(f.kind)])
            .ok_or(SimError::NoSuchSlot(f.slot))
    }

    /// Direct access for tests that corrupt bytes on purpose.
    pub fn bytes_mut(&mut self, f: FileId) -> &mut [u8] {
        &mut self.files[f.slot as usize][kind_index(f.kind)]
    }
}

fn range(pos: u64, len: usize, cap: usize) -> Result<core::ops::Range<usize>, SimError> {
    let start = usize::try_from(pos).unwrap_or(usize::MAX);
    match start.checked_add(len) {
        Some(end) if end <= cap => Ok(start..end),
        _ => Err(SimError::OutOfBounds {
            pos,
            len,
            capacity: cap as u64,
        }),
    }
}

impl Backend for MemBackend {
    type Error = SimError;
    fn read_at(&mut self, f: FileId, pos: u64, buf: &mut [u8]) -> Result<(), SimError> {
        let file = self.file(f)?;
        let r = range(pos, buf.len(), file.len())?;
        buf.copy_from_slice(&file[r]);
        Ok(())
    }
    fn write_at(&mut self, f: FileId, pos: u64, data: &[u8]) -> Result<(), SimError> {
        let file = self.file(f)?;
        let r = range(pos, data.len(), file.len())?;
        file[r].copy_from_slice(data);
        Ok(())
    }
    fn sync(&mut self, _f: FileId) -> Result<(), SimError> {
        Ok(())
    }
    fn capacity(&self, f: FileId) -> u64 {
        self.files
            .get(f.slot as usize)
            .map(|s| s[kind_index(f.kind)].len() as u64)
            .unwrap_or(0)
    }
    fn label(&self, slot: u16) -> Option<u64> {
        self.labels.get(slot as usize).copied().flatten()
    }
    fn relabel(&mut self, slot: u16, base: Option<u64>) -> Result<(), SimError> {
        let l = self
            .labels
            .get_mut(slot as usize)
            .ok_or(SimError::NoSuchSlot(slot))?;
        *l = base;
        Ok(())
    }
}

/// A tiny deterministic RNG (xorshift64*), so crash runs replay by seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// How a crash treats the writes made since the last sync of each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashModel {
    /// A random prefix of the unsynced writes survives, the last one possibly torn.
    OrderedPrefix,
    /// Each unsynced write independently survives, is lost, or is torn.
    AnySubset,
}

#[derive(Debug, Clone)]
struct PendingWrite {
    file: FileId,
    pos: u64,
    data: Vec<u8>,
}

/// A backend whose synced bytes survive [`CrashBackend::crash`] and whose
/// unsynced bytes may not.
#[derive(Debug, Clone)]
pub struct CrashBackend {
    synced: MemBackend,
    /// What reads see: synced image plus pending writes.
    live: MemBackend,
    pending: Vec<PendingWrite>,
    /// Writes, syncs and relabels left before every call fails.
    budget: Option<usize>,
}

impl CrashBackend {
    pub fn new(sizes: Sizes) -> Self {
        let m = MemBackend::new(sizes);
        CrashBackend {
            synced: m.clone(),
            live: m,
            pending: Vec::new(),
            budget: None,
        }
    }

    /// After `ops` more writes, syncs or relabels, every call fails with
    /// [`SimError::Injected`] (until [`CrashBackend::crash`]): a crash in
    /// the middle of an operation.
    pub fn fail_after(&mut self, ops: usize) {
        self.budget = Some(ops);
    }

    fn spend(&mut self) -> Result<(), SimError> {
        match &mut self.budget {
            Some(0) => Err(SimError::Injected),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Simulates a power cut: unsynced writes are kept, dropped or torn as
    /// `model` and `rng` decide. Afterwards the backend holds only what a
    /// restarted machine would find.
    pub fn crash(&mut self, rng: &mut Rng, model: CrashModel) {
        let pending = core::mem::take(&mut self.pending);
        let keep_upto = match model {
            CrashModel::OrderedPrefix => rng.below(pending.len() as u64 + 1) as usize,
            CrashModel::AnySubset => pending.len(),
        };
        for (i, w) in pending.into_iter().enumerate() {
            if i > keep_upto {
                break;
            }
            let fate = rng.below(4);
            let keep = match (model, i == keep_upto, fate) {
                (CrashModel::OrderedPrefix, false, _) => w.data.len(),
                (CrashModel::OrderedPrefix, true, _) => rng.below(w.data.len() as u64 + 1) as usize,
                (CrashModel::AnySubset, _, 0) => 0,
                (CrashModel::AnySubset, _, 1) => rng.below(w.data.len() as u64 + 1) as usize,
                (CrashModel::AnySubset, _, _) => w.data.len(),
            };
            if keep > 0 {
                let _ = self.synced.write_at(w.file, w.pos, &w.data[..keep]);
            }
        }
        self.live = self.synced.clone();
        self.budget = None;
    }

    /// Number of writes not yet synced.
    pub fn unsynced_writes(&self) -> usize {
        self.pending.len()
    }

    /// The bytes a reader sees now (for corrupting tests).
    pub fn live_mut(&mut self) -> &mut MemBackend {
        &mut self.live
    }
}

impl Backend for CrashBackend {
    type Error = SimError;
    fn read_at(&mut self, f: FileId, pos: u64, buf: &mut [u8]) -> Result<(), SimError> {
        self.live.read_at(f, pos, buf)
    }
    fn write_at(&mut self, f: FileId, pos: u64, data: &[u8]) -> Result<(), SimError> {
        self.spend()?;
        self.live.write_at(f, pos, data)?;
        self.pending.push(PendingWrite {
            file: f,
            pos,
            data: data.to_vec(),
        });
        Ok(())
    }
    fn sync(&mut self, f: FileId) -> Result<(), SimError> {
        self.spend()?;
        let mut rest = Vec::with_capacity(self.pending.len());
        for w in core::mem::take(&mut self.pending) {
            if w.file == f {
                self.synced.write_at(w.file, w.pos, &w.data)?;
            } else {
                rest.push(w);
            }
        }
        self.pending = rest;
        Ok(())
    }
    fn capacity(&self, f: FileId) -> u64 {
        self.live.capacity(f)
    }
    fn label(&self, slot: u16) -> Option<u64> {
        self.live.label(slot)
    }
    fn relabel(&mut self, slot: u16, base: Option<u64>) -> Result<(), SimError> {
        self.spend()?;
        self.synced.relabel(slot, base)?;
        self.live.relabel(slot, base)
    }
}

impl Sizes {
    /// Capacity of a file of this ring.
    pub fn capacity(&self, kind: FileKind) -> u64 {
        self.of(kind)
    }
}
