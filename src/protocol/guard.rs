//! The guard: a schema-driven pre-decode walk of a request or response body.
//!
//! kafka-protocol 0.18.0 reserves `Vec::with_capacity(n)` and `vec![0; n]` with `n` taken
//! straight off the wire, so a 19-byte request can ask for a 154 GB allocation and abort
//! the process, and a 12-byte response from a hostile broker can do the same to a client.
//! [`check_request`] (the broker, before decoding a request) and [`check_response`] (the
//! client, before decoding a response) walk a body exactly as the decoder would, field by
//! field from the generated tables in `schemas.rs` and `response_schemas.rs` (their types in
//! `schema_model.rs`), and accept it only if every array count,
//! string length and bytes length fits in the bytes that remain (an array needs
//! `count × minimum element size` bytes, the minimum never taken below 1), every varint is
//! well formed (at most 5 bytes, fits a u32), no non-nullable length is negative, and every
//! known tagged field parses to exactly its declared size. Promise: after `Ok(())` the
//! decoder's allocations are bounded by a small multiple of the body length; the walk itself
//! never allocates, never panics and does work linear in the body length.

use super::schema_model::MessageSchema;
use super::schema_model::{FieldSchema, NO, T};
use super::{response_schemas, schemas};

/// A generated struct table: `T::Struct(i)` indexes it.
type Structs = &'static [(&'static str, &'static [FieldSchema])];

/// Why a body was refused; `at` is a byte offset into the walked buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardError {
    /// No schema for this API key.
    UnknownApi { api_key: i16 },
    /// The schema does not cover this version.
    UnsupportedVersion { api_key: i16, api_version: i16 },
    /// A fixed-size value or varint runs past the end.
    Truncated { at: usize },
    /// A string or bytes length does not fit in what remains.
    LengthPastEnd {
        at: usize,
        len: u64,
        remaining: usize,
    },
    /// `count × min_element` exceeds what remains.
    ArrayTooLong {
        at: usize,
        count: u64,
        min_element: usize,
        remaining: usize,
    },
    /// A negative (or null) length where the field is not nullable.
    NegativeLength { at: usize, len: i64 },
    /// A varint longer than 5 bytes or larger than u32.
    BadVarint { at: usize },
    /// A known tagged field that is invalid for this version or not exactly its size.
    BadTaggedField { at: usize, tag: u32 },
}

impl core::fmt::Display for GuardError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            GuardError::UnknownApi { api_key } => write!(f, "no schema for API key {api_key}"),
            GuardError::UnsupportedVersion {
                api_key,
                api_version,
            } => write!(f, "no schema for API key {api_key} v{api_version}"),
            GuardError::Truncated { at } => write!(f, "truncated at byte {at}"),
            GuardError::LengthPastEnd { at, len, remaining } => write!(
                f,
                "length {len} at byte {at} runs past the end ({remaining} bytes remain)"
            ),
            GuardError::ArrayTooLong {
                at,
                count,
                min_element,
                remaining,
            } => write!(
                f,
                "array of {count} elements at byte {at} needs at least {min_element} bytes \
                 each, {remaining} bytes remain"
            ),
            GuardError::NegativeLength { at, len } => {
                write!(f, "length {len} at byte {at} where null is not allowed")
            }
            GuardError::BadVarint { at } => write!(f, "malformed varint at byte {at}"),
            GuardError::BadTaggedField { at, tag } => {
                write!(f, "invalid tagged field {tag} at byte {at}")
            }
        }
    }
}

impl std::error::Error for GuardError {}

/// Checks `body` (the bytes after the request header) of `api_key` at `api_version`.
pub fn check_request(api_key: i16, api_version: i16, body: &[u8]) -> Result<(), GuardError> {
    check(
        &schemas::MESSAGES,
        &schemas::STRUCTS,
        api_key,
        api_version,
        body,
    )
}

/// Checks `body` (the bytes after the response header, whichever its version) of the
/// response to a request of `api_key` at `api_version`.
pub fn check_response(api_key: i16, api_version: i16, body: &[u8]) -> Result<(), GuardError> {
    check(
        &response_schemas::MESSAGES,
        &response_schemas::STRUCTS,
        api_key,
        api_version,
        body,
    )
}

fn check(
    messages: &[MessageSchema],
    structs: Structs,
    api_key: i16,
    api_version: i16,
    body: &[u8],
) -> Result<(), GuardError> {
    let msg = messages
        .iter()
        .find(|m| m.api_key == api_key)
        .ok_or(GuardError::UnknownApi { api_key })?;
    if !msg.valid.contains(api_version) {
        return Err(GuardError::UnsupportedVersion {
            api_key,
            api_version,
        });
    }
    let mut r = Reader::new(body);
    let mut w = Walker {
        structs,
        version: api_version,
        flexible: msg.flexible.contains(api_version),
    };
    w.walk_struct(&mut r, msg.root)
}

/// A bounds-checked cursor; every read returns a typed error instead of panicking.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], GuardError> {
        let at = self.pos;
        let end = at.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                self.pos = end;
                self.buf.get(at..end).ok_or(GuardError::Truncated { at })
            }
            None => Err(GuardError::Truncated { at }),
        }
    }

    pub(crate) fn i16(&mut self) -> Result<i16, GuardError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, GuardError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Unsigned varint: at most 5 bytes and at most u32::MAX, else `BadVarint`.
    pub(crate) fn uvarint(&mut self) -> Result<u32, GuardError> {
        let at = self.pos;
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = u64::from(self.take(1)?[0]);
            value |= (b & 0x7f) << (i * 7);
            if b < 0x80 {
                return u32::try_from(value).map_err(|_| GuardError::BadVarint { at });
            }
        }
        Err(GuardError::BadVarint { at })
    }

    /// Takes a length-prefixed blob of `len` bytes, or reports the length as past the end.
    fn blob(&mut self, at: usize, len: u64) -> Result<(), GuardError> {
        let remaining = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => self.take(n).map(|_| ()),
            _ => Err(GuardError::LengthPastEnd { at, len, remaining }),
        }
    }

    /// Skips a tagged-field section whose tags are all unknown (request header v2).
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), GuardError> {
        let at = self.pos;
        let n = self.uvarint()?;
        check_count(at, u64::from(n), 2, self.remaining())?;
        for _ in 0..n {
            self.uvarint()?;
            let at = self.pos;
            let size = self.uvarint()?;
            self.blob(at, u64::from(size))?;
        }
        Ok(())
    }
}

pub(crate) fn check_count(
    at: usize,
    count: u64,
    min_element: usize,
    remaining: usize,
) -> Result<(), GuardError> {
    let min_element = min_element.max(1);
    if count.saturating_mul(min_element as u64) > remaining as u64 {
        return Err(GuardError::ArrayTooLong {
            at,
            count,
            min_element,
            remaining,
        });
    }
    Ok(())
}

struct Walker {
    structs: Structs,
    version: i16,
    flexible: bool,
}

impl Walker {
    fn fields(&self, idx: u16) -> &'static [FieldSchema] {
        self.structs
            .get(usize::from(idx))
            .map(|s| s.1)
            .unwrap_or(&[])
    }

    fn in_body(&self, fs: &FieldSchema) -> bool {
        fs.versions.contains(self.version) && !(self.flexible && fs.tagged.contains(self.version))
    }

    fn walk_struct(&mut self, r: &mut Reader<'_>, idx: u16) -> Result<(), GuardError> {
        for fs in self.fields(idx) {
            if self.in_body(fs) {
                self.walk_field(r, fs)?;
            }
        }
        if self.flexible {
            self.walk_tagged_section(r, idx)?;
        }
        Ok(())
    }

    fn walk_tagged_section(&mut self, r: &mut Reader<'_>, idx: u16) -> Result<(), GuardError> {
        let at = r.pos();
        let n = r.uvarint()?;
        check_count(at, u64::from(n), 2, r.remaining())?;
        for _ in 0..n {
            let at = r.pos();
            let tag = r.uvarint()?;
            let size_at = r.pos();
            let size = r.uvarint()?;
            let known = self
                .fields(idx)
                .iter()
                .find(|fs| fs.tagged != NO && fs.tag == tag);
            let Some(fs) = known else {
                r.blob(size_at, u64::from(size))?;
                continue;
            };
            // The decoder refuses a known tag outside its versions and decodes the value
            // from the stream ignoring `size`, so it must be exactly `size` bytes long.
            if !(fs.versions.contains(self.version) && fs.tagged.contains(self.version)) {
                return Err(GuardError::BadTaggedField { at, tag });
            }
            let remaining = r.remaining();
            let len = size as usize;
            if len > remaining {
                return Err(GuardError::LengthPastEnd {
                    at: size_at,
                    len: u64::from(size),
                    remaining,
                });
            }
            let mut sub = Reader::new(r.take(len)?);
            match self.walk_field(&mut sub, fs) {
                Ok(()) if sub.remaining() == 0 => {}
                _ => return Err(GuardError::BadTaggedField { at, tag }),
            }
        }
        Ok(())
    }

    fn walk_field(&mut self, r: &mut Reader<'_>, fs: &FieldSchema) -> Result<(), GuardError> {
        let nullable = fs.nullable.contains(self.version);
        if !fs.array {
            return self.walk_value(r, fs.ty, nullable);
        }
        let at = r.pos();
        let Some(count) = self.length(r, nullable, true)? else {
            return Ok(());
        };
        check_count(at, count, self.min_size(fs.ty), r.remaining())?;
        for _ in 0..count {
            self.walk_value(r, fs.ty, false)?;
        }
        Ok(())
    }

    /// Reads an array/string/bytes length in this version's encoding; `None` is null.
    fn length(
        &self,
        r: &mut Reader<'_>,
        nullable: bool,
        wide: bool,
    ) -> Result<Option<u64>, GuardError> {
        let at = r.pos();
        let len: i64 = if self.flexible {
            i64::from(r.uvarint()?) - 1
        } else if wide {
            i64::from(r.i32()?)
        } else {
            i64::from(r.i16()?)
        };
        match len {
            -1 if nullable => Ok(None),
            n if n < 0 => Err(GuardError::NegativeLength { at, len: n }),
            n => Ok(Some(n as u64)),
        }
    }

    fn walk_value(&mut self, r: &mut Reader<'_>, ty: T, nullable: bool) -> Result<(), GuardError> {
        match ty {
            T::Str | T::Bytes | T::Records => {
                let at = r.pos();
                if let Some(len) = self.length(r, nullable, ty != T::Str)? {
                    r.blob(at, len)?;
                }
                Ok(())
            }
            T::Struct(idx) => {
                // A nullable struct carries an int8 presence marker; like the decoder,
                // only 1 means present.
                if nullable && r.take(1)?.first() != Some(&1) {
                    return Ok(());
                }
                self.walk_struct(r, idx)
            }
            fixed => r.take(fixed_size(fixed)).map(|_| ()),
        }
    }

    /// The fewest bytes one value of `ty` can occupy in this version.
    fn min_size(&self, ty: T) -> usize {
        match ty {
            T::Str => {
                if self.flexible {
                    1
                } else {
                    2
                }
            }
            T::Bytes | T::Records => {
                if self.flexible {
                    1
                } else {
                    4
                }
            }
            T::Struct(idx) => {
                let mut n = usize::from(self.flexible);
                for fs in self.fields(idx) {
                    if self.in_body(fs) {
                        n += if fs.array {
                            if self.flexible { 1 } else { 4 }
                        } else if matches!(fs.ty, T::Struct(_))
                            && fs.nullable.contains(self.version)
                        {
                            1
                        } else {
                            self.min_size(fs.ty)
                        };
                    }
                }
                n
            }
            fixed => fixed_size(fixed),
        }
    }
}

fn fixed_size(ty: T) -> usize {
    match ty {
        T::Bool | T::Int8 => 1,
        T::Int16 | T::Uint16 => 2,
        T::Int32 | T::Uint32 => 4,
        T::Int64 | T::Float64 => 8,
        T::Uuid => 16,
        T::Str | T::Bytes | T::Records | T::Struct(_) => 0,
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
