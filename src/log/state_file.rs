//! Small state files (checkpoints, metadata) that survive a torn write.
//!
//! A [`StateFile`] named `<base>` lives in two files, `<base>.a` and `<base>.b` (two files rather than two slots
//! of one file, so a small state costs a few bytes on flash instead of two fixed-size slots). Each write goes to
//! the slot that does not hold the newest good copy, replacing it whole, then `fdatasync`s it; so a power cut
//! mid-write can only damage the older copy. Each slot is, little-endian:
//!
//! | bytes        | field                                  |
//! |--------------|----------------------------------------|
//! | 0–3          | magic `PPST`                           |
//! | 4            | format version (1, or the payload's)   |
//! | 5–12         | sequence u64, +1 per write             |
//! | 13–16        | payload length u32 (≤ the payload cap) |
//! | 17..17+len   | postcard payload                       |
//! | last 4       | CRC-32C over every byte before it      |
//!
//! The version byte is 1 for every file whose payload type never changed. A file whose payload type gained
//! fields is opened with [`StateFile::open_versioned`]: it writes its new version and still reads slots of
//! older versions through a decoder for each, so state written by an older pipit keeps loading.
//!
//! Reading picks the valid slot with the highest sequence, so the state never regresses; a torn or corrupt slot
//! is skipped with a logged warning. Both slots absent or empty reads as `None`; no valid slot otherwise is
//! [`StateFileError::Corrupt`].

use std::fs::File;
use std::io::{self, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crc::{CRC_32_ISCSI, Crc};

use super::powercut;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub const MAGIC: [u8; 4] = *b"PPST";
pub const FORMAT_VERSION: u8 = 1;
/// magic + version + sequence + length.
pub const HEADER_LEN: usize = 4 + 1 + 8 + 4;
pub const CRC_LEN: usize = 4;
/// Default payload cap: state files are small; anything bigger is a bug or a different kind of file.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Why one slot was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotProblem {
    /// Longer than any slot this file can hold (read stopped at `limit` bytes).
    TooLong {
        limit: u64,
    },
    TooShort {
        len: usize,
    },
    BadMagic {
        found: [u8; 4],
    },
    UnsupportedVersion {
        found: u8,
    },
    /// The length field does not match the slot's size or exceeds the cap.
    BadLength {
        declared: u32,
        slot_len: usize,
    },
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// CRC-valid bytes that are not a value of this type.
    Undecodable,
}

#[derive(Debug)]
pub enum StateFileError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// Neither slot holds a valid copy and at least one is not empty.
    Corrupt {
        base: PathBuf,
        a: Option<SlotProblem>,
        b: Option<SlotProblem>,
    },
    TooLarge {
        len: usize,
        max: usize,
    },
    Encode(postcard::Error),
}

impl std::fmt::Display for StateFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateFileError::Io { path, source } => {
                write!(f, "state file {}: {source}", path.display())
            }
            StateFileError::Corrupt { base, a, b } => write!(
                f,
                "state file {} is corrupt: no valid copy (slot a: {a:?}, slot b: {b:?})",
                base.display()
            ),
            StateFileError::TooLarge { len, max } => {
                write!(
                    f,
                    "state payload of {len} bytes exceeds the cap of {max} bytes"
                )
            }
            StateFileError::Encode(e) => write!(f, "state could not be encoded: {e}"),
        }
    }
}

impl std::error::Error for StateFileError {}

/// One slot as read: `None` absent or empty, `Some(Err)` present but unusable, else (sequence, value).
type SlotRead<T> = Option<Result<(u64, T), SlotProblem>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    A,
    B,
}

/// Decodes the payload of a slot written with an older format `version` (`None`: not a value).
pub type LegacyDecoder<T> = fn(version: u8, payload: &[u8]) -> Option<T>;

/// A value of type `T` persisted in two alternating slots.
#[derive(Debug)]
pub struct StateFile<T> {
    base: PathBuf,
    max_payload: usize,
    /// The format version written (and read as `T`).
    version: u8,
    /// Reads slots of versions below `version`.
    legacy: Option<LegacyDecoder<T>>,
    /// The slot holding the newest good copy, and its sequence.
    newest: Option<(Slot, u64)>,
    _value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> StateFile<T> {
    /// Opens `<base>.a`/`<base>.b` and loads the newest good copy, if any.
    pub fn open(base: impl AsRef<Path>) -> Result<(Self, Option<T>), StateFileError> {
        Self::open_with_cap(base, DEFAULT_MAX_PAYLOAD)
    }

    /// As [`StateFile::open`], with a payload cap of `max_payload` bytes.
    pub fn open_with_cap(
        base: impl AsRef<Path>,
        max_payload: usize,
    ) -> Result<(Self, Option<T>), StateFileError> {
        let mut file = StateFile {
            base: base.as_ref().to_path_buf(),
            max_payload,
            version: FORMAT_VERSION,
            legacy: None,
            newest: None,
            _value: PhantomData,
        };
        let loaded = file.load()?;
        Ok((file, loaded))
    }

    /// Opens a file whose payload type is at format `version` (above 1): slots of that version decode as
    /// `T`, older ones through `legacy`; writes use `version`.
    pub fn open_versioned(
        base: impl AsRef<Path>,
        version: u8,
        legacy: LegacyDecoder<T>,
    ) -> Result<(Self, Option<T>), StateFileError> {
        let mut file = StateFile {
            base: base.as_ref().to_path_buf(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            version,
            legacy: Some(legacy),
            newest: None,
            _value: PhantomData,
        };
        let loaded = file.load()?;
        Ok((file, loaded))
    }

    /// Re-reads both slots and returns the newest good copy.
    pub fn read(&mut self) -> Result<Option<T>, StateFileError> {
        self.load()
    }

    /// The sequence of the newest good copy (0 when none was ever written).
    pub fn sequence(&self) -> u64 {
        self.newest.map_or(0, |(_, seq)| seq)
    }

    /// Writes `value` over the older slot and syncs it; returns the new sequence.
    pub fn write(&mut self, value: &T) -> Result<u64, StateFileError> {
        let payload = postcard::to_stdvec(value).map_err(StateFileError::Encode)?;
        if payload.len() > self.max_payload {
            return Err(StateFileError::TooLarge {
                len: payload.len(),
                max: self.max_payload,
            });
        }
        let len = u32::try_from(payload.len()).map_err(|_| StateFileError::TooLarge {
            len: payload.len(),
            max: self.max_payload,
        })?;
        let (slot, seq) = match self.newest {
            Some((Slot::A, s)) => (Slot::B, s + 1),
            Some((Slot::B, s)) => (Slot::A, s + 1),
            None => (Slot::A, 1),
        };
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + CRC_LEN);
        bytes.extend_from_slice(&MAGIC);
        bytes.push(self.version);
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&payload);
        let crc = CRC32C.checksum(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());

        let path = self.slot_path(slot);
        let io_err = |source| StateFileError::Io {
            path: path.clone(),
            source,
        };
        let existed = path.exists();
        // Through the power-cut journal in test builds (plain create/truncate + write otherwise).
        let f = powercut::rewrite(&path, &bytes).map_err(io_err)?;
        powercut::sync_data(&f).map_err(io_err)?;
        if !existed {
            // A new file's directory entry must be durable too, or the slot can vanish after a power cut.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                powercut::sync_dir(dir).map_err(io_err)?;
            }
        }
        self.newest = Some((slot, seq));
        Ok(seq)
    }

    fn slot_path(&self, slot: Slot) -> PathBuf {
        let mut name = self.base.as_os_str().to_owned();
        name.push(match slot {
            Slot::A => ".a",
            Slot::B => ".b",
        });
        PathBuf::from(name)
    }

    /// `Ok(None)`: slot absent or empty. `Ok(Some(Err(_)))`: present but unusable.
    fn read_slot(&self, slot: Slot) -> Result<SlotRead<T>, StateFileError> {
        let path = self.slot_path(slot);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateFileError::Io { path, source }),
        };
        // Bounded read: a slot is never longer than a maximal payload plus framing.
        let limit = (HEADER_LEN + self.max_payload + CRC_LEN) as u64;
        let mut bytes = Vec::new();
        let read = file.take(limit + 1).read_to_end(&mut bytes);
        read.map_err(|source| StateFileError::Io {
            path: path.clone(),
            source,
        })?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let checked = if bytes.len() as u64 > limit {
            Err(SlotProblem::TooLong { limit })
        } else {
            decode_slot_versioned(&bytes, self.max_payload, self.version, self.legacy)
        };
        if let Err(problem) = &checked {
            ::log::warn!(
                "state file {}: ignoring a bad copy: {problem:?}",
                path.display()
            );
        }
        Ok(Some(checked))
    }

    fn load(&mut self) -> Result<Option<T>, StateFileError> {
        let a = self.read_slot(Slot::A)?;
        let b = self.read_slot(Slot::B)?;
        let (a_problem, b_problem) = (problem(&a), problem(&b));
        let best = match (a, b) {
            (Some(Ok((sa, va))), Some(Ok((sb, _)))) if sa > sb => Some((Slot::A, sa, va)),
            (_, Some(Ok((sb, vb)))) => Some((Slot::B, sb, vb)),
            (Some(Ok((sa, va))), _) => Some((Slot::A, sa, va)),
            (None, None) => None,
            _ => {
                return Err(StateFileError::Corrupt {
                    base: self.base.clone(),
                    a: a_problem,
                    b: b_problem,
                });
            }
        };
        self.newest = best.as_ref().map(|(slot, seq, _)| (*slot, *seq));
        Ok(best.map(|(_, _, v)| v))
    }
}

fn problem<T>(slot: &SlotRead<T>) -> Option<SlotProblem> {
    match slot {
        Some(Err(p)) => Some(p.clone()),
        _ => None,
    }
}

/// Checks one slot's bytes and decodes its payload (format version 1).
#[cfg(test)]
fn decode_slot<T: DeserializeOwned>(
    bytes: &[u8],
    max_payload: usize,
) -> Result<(u64, T), SlotProblem> {
    decode_slot_versioned(bytes, max_payload, FORMAT_VERSION, None)
}

/// Checks one slot's bytes and decodes its payload: as `T` at `version`, through `legacy` below it.
fn decode_slot_versioned<T: DeserializeOwned>(
    bytes: &[u8],
    max_payload: usize,
    version: u8,
    legacy: Option<LegacyDecoder<T>>,
) -> Result<(u64, T), SlotProblem> {
    let too_short = SlotProblem::TooShort { len: bytes.len() };
    let (header, rest) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(too_short.clone())?;
    let (body, stored) = bytes.split_last_chunk::<CRC_LEN>().ok_or(too_short)?;
    let magic: [u8; 4] = header_field(header, 0);
    if magic != MAGIC {
        return Err(SlotProblem::BadMagic { found: magic });
    }
    let found = header[4];
    let old = legacy.filter(|_| (1..version).contains(&found));
    if found != version && old.is_none() {
        return Err(SlotProblem::UnsupportedVersion { found });
    }
    let seq = u64::from_le_bytes(header_field(header, 5));
    let declared = u32::from_le_bytes(header_field(header, 13));
    let len = declared as usize;
    if len > max_payload || rest.len() != len + CRC_LEN {
        return Err(SlotProblem::BadLength {
            declared,
            slot_len: bytes.len(),
        });
    }
    let stored = u32::from_le_bytes(*stored);
    let computed = CRC32C.checksum(body);
    if stored != computed {
        return Err(SlotProblem::ChecksumMismatch { stored, computed });
    }
    let payload = rest.get(..len).ok_or(SlotProblem::Undecodable)?;
    let value = match old {
        Some(decode) => decode(found, payload),
        None => postcard::from_bytes(payload).ok(),
    };
    Ok((seq, value.ok_or(SlotProblem::Undecodable)?))
}

/// `N` bytes of the header at `at`; every call site's `at + N` is within HEADER_LEN.
fn header_field<const N: usize>(header: &[u8; HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = header.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
#[path = "state_file_tests.rs"]
mod tests;
