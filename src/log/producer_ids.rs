//! The broker's idempotent producer ids: which ids InitProducerId handed out,
//! and the current epoch of the ones handed out (or bumped) since start.
//!
//! Invariants:
//! - an id is never handed out twice, across restarts: ids are reserved in
//!   blocks of [`BLOCK`] (as Kafka's ProducerIdManager does), and a block's
//!   end is persisted in `pipit-producer-ids.a/.b` before any id of it is
//!   handed out; after a restart allocation resumes at the persisted end;
//! - an id is *issued* when it is below the next id to hand out. After a
//!   restart that includes the unused rest of the last block (at most
//!   [`BLOCK`] ids never handed out); anything at or above it was never
//!   handed out by this broker and its batches are refused;
//! - epochs are known for at most [`EPOCHS_KEPT`] ids (the most recently
//!   handed out or bumped); they are not persisted.
//!
//! Epoch bumps follow KIP-360 (InitProducerId v3+ naming the current id and
//! epoch): the current epoch is bumped; a repeat of the last bump (the epoch
//! before it) gets the current epoch again; any other epoch, or an id never
//! handed out, is fenced. An issued id whose epoch is not known (handed out
//! before a restart, or forgotten) gets a fresh id with epoch 0, which is
//! what Kafka answers when it has no mapping; so does an exhausted epoch.

use std::collections::BTreeMap;
use std::path::Path;

use super::state_file::{StateFile, StateFileError};

/// Ids reserved per write of the counter file.
pub const BLOCK: i64 = 1000;
/// Ids whose current epoch is remembered.
pub const EPOCHS_KEPT: usize = 4096;
/// The counter file's base name in `log.dirs`.
pub const FILE: &str = "pipit-producer-ids";

/// Why an epoch bump was refused (Kafka: PRODUCER_FENCED / INVALID_PRODUCER_EPOCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BumpRefused {
    /// This broker never handed out the id.
    NeverIssued { id: i64, next: i64 },
    /// The epoch is neither the current one nor the one before the last bump.
    WrongEpoch { id: i64, current: i16, got: i16 },
}

impl std::fmt::Display for BumpRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BumpRefused::NeverIssued { id, next } => {
                write!(f, "producer id {id} was never handed out (next is {next})")
            }
            BumpRefused::WrongEpoch { id, current, got } => write!(
                f,
                "producer id {id} is at epoch {current}; a bump from epoch {got} is fenced"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Epochs {
    current: i16,
    /// The epoch before the last bump (-1: none).
    last: i16,
}

/// The id allocator and epoch table.
#[derive(Debug)]
pub struct ProducerIds {
    file: StateFile<i64>,
    next: i64,
    /// End of the persisted block: ids below it may be handed out.
    reserved: i64,
    epochs: BTreeMap<i64, Epochs>,
}

impl ProducerIds {
    /// Opens the counter file in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateFileError> {
        let (file, saved) = StateFile::<i64>::open(dir.join(FILE))?;
        let next = saved.unwrap_or(0).max(0);
        Ok(ProducerIds {
            file,
            next,
            reserved: next,
            epochs: BTreeMap::new(),
        })
    }

    /// Hands out a new id at epoch 0 (persisting a new block first when needed).
    pub fn allocate(&mut self) -> Result<i64, StateFileError> {
        if self.next >= self.reserved {
            let end = self.next.saturating_add(BLOCK);
            self.file.write(&end)?;
            self.reserved = end;
        }
        let id = self.next;
        self.next += 1;
        self.remember(
            id,
            Epochs {
                current: 0,
                last: -1,
            },
        );
        Ok(id)
    }

    /// Whether `id` may have been handed out by this broker.
    pub fn issued(&self, id: i64) -> bool {
        (0..self.next).contains(&id)
    }

    /// Makes sure no id at or below `id` is handed out later (ids found in
    /// the logs at open, should the counter file have been lost).
    pub fn ensure_above(&mut self, id: i64) -> Result<(), StateFileError> {
        if id >= self.next {
            let end = id.saturating_add(1);
            self.file.write(&end)?;
            self.next = end;
            self.reserved = end;
        }
        Ok(())
    }

    /// InitProducerId v3+ with the producer's current `id` and `epoch`:
    /// returns the id and epoch to use from now on.
    pub fn bump(
        &mut self,
        id: i64,
        epoch: i16,
    ) -> Result<Result<(i64, i16), BumpRefused>, StateFileError> {
        if !self.issued(id) {
            return Ok(Err(BumpRefused::NeverIssued {
                id,
                next: self.next,
            }));
        }
        let Some(e) = self.epochs.get(&id).copied() else {
            return Ok(Ok((self.allocate()?, 0)));
        };
        if epoch == e.current {
            if e.current >= i16::MAX - 1 {
                return Ok(Ok((self.allocate()?, 0)));
            }
            let bumped = Epochs {
                current: e.current + 1,
                last: e.current,
            };
            self.remember(id, bumped);
            return Ok(Ok((id, bumped.current)));
        }
        if e.last >= 0 && epoch == e.last {
            return Ok(Ok((id, e.current)));
        }
        Ok(Err(BumpRefused::WrongEpoch {
            id,
            current: e.current,
            got: epoch,
        }))
    }

    fn remember(&mut self, id: i64, e: Epochs) {
        self.epochs.insert(id, e);
        while self.epochs.len() > EPOCHS_KEPT {
            // The oldest id goes first; a bump of it later gets a fresh id.
            self.epochs.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pipit-pids-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn ids_are_never_reused_and_only_handed_out_ones_are_issued() {
        let dir = tmpdir("reuse");
        let mut ids = ProducerIds::open(&dir).unwrap();
        assert!(!ids.issued(0));
        assert_eq!(ids.allocate().unwrap(), 0);
        assert_eq!(ids.allocate().unwrap(), 1);
        assert!(ids.issued(1) && !ids.issued(2) && !ids.issued(-1));
        let mut again = ProducerIds::open(&dir).unwrap();
        assert_eq!(
            again.allocate().unwrap(),
            BLOCK,
            "a new run starts past the block"
        );
        assert!(again.issued(BLOCK - 1) && !again.issued(BLOCK + 1));
        again.ensure_above(5 * BLOCK).unwrap();
        assert!(ProducerIds::open(&dir).unwrap().allocate().unwrap() > 5 * BLOCK);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bumps_follow_kip_360() {
        let dir = tmpdir("bump");
        let mut ids = ProducerIds::open(&dir).unwrap();
        let id = ids.allocate().unwrap();
        assert_eq!(ids.bump(id, 0).unwrap(), Ok((id, 1)));
        assert_eq!(ids.bump(id, 0).unwrap(), Ok((id, 1)), "a retried bump");
        assert_eq!(
            ids.bump(id, 7).unwrap(),
            Err(BumpRefused::WrongEpoch {
                id,
                current: 1,
                got: 7
            })
        );
        assert_eq!(
            ids.bump(id + 1, 0).unwrap(),
            Err(BumpRefused::NeverIssued {
                id: id + 1,
                next: 1
            })
        );
        // Known id, unknown epoch (handed out before a restart): a fresh id.
        let mut later = ProducerIds::open(&dir).unwrap();
        let (fresh, epoch) = later.bump(id, 1).unwrap().unwrap();
        assert!(fresh > id && epoch == 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
