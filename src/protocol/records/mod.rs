//! Kafka RecordBatch v2, shared by the broker and the client: building a
//! batch (a producer's, or the broker's when it recompresses), and decoding
//! the records inside stored or fetched batches (ListOffsets by time, the
//! consumer). Codecs are in [`compression`].
//!
//! Owns the record layout inside a batch (Kafka's DefaultRecord): varint
//! length, attributes i8, timestampDelta varlong, offsetDelta varint, key,
//! value, headers; all varints zigzag-encoded as in Kafka's ByteUtils. The
//! fixed 61-byte header and its CRC-32C come from `crate::storage::batch`.
//! Promises: [`BatchBuilder::build`] output passes the broker's
//! `RecordBatch::new_checked`; [`decode_batches`] never panics on any input,
//! never decompresses past its cap, and ignores a truncated trailing batch as
//! Kafka clients do.

use std::fmt;

use bytes::Bytes;

use self::compression::{CodecError, Compression};

pub mod compression;
mod recompress;
mod search;

use crate::storage::batch::{
    self as layout, BatchError, CRC32C, HEADER_LEN, LOG_OVERHEAD, MAGIC_V2, RecordBatch,
};
pub use recompress::recompress;
pub use search::{TimeSearch, first_record_at_or_after};

/// Most bytes one batch's records may decompress to when the broker reads
/// inside a stored or produced batch (time search, recompression): 16 × the
/// default `message.max.bytes`; a bomb is refused, never allocated.
pub const BROKER_DECOMPRESSED_MAX: usize = 16 << 20;

/// One record to produce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    /// CreateTime, milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// One record read back from a batch, with its absolute offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Accumulates records for one partition and encodes them as they arrive, so
/// [`BatchBuilder::estimated_size`] is exact and `build` only compresses.
/// The buffer starts with room for the batch header, so [`BatchBuilder::finish`]
/// of an uncompressed batch fills the header in place and copies nothing.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    /// `HEADER_LEN` placeholder bytes, then the encoded records, uncompressed.
    body: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// Idempotent producer id, epoch and base sequence (-1/-1/-1 when not idempotent).
    producer: (i64, i16, i32),
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        Self::with_buffer(compression, Vec::new())
    }

    /// A builder that writes into `buf`'s allocation (its contents are dropped):
    /// the producer recycles the buffers of acknowledged batches this way.
    pub fn with_buffer(compression: Compression, mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.resize(HEADER_LEN, 0);
        BatchBuilder {
            compression,
            body: buf,
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            producer: (-1, -1, -1),
        }
    }

    /// Stamps the batch with an idempotent producer's id, epoch and base sequence
    /// (header bytes 43..57); call before `finish`/`build`, since the CRC covers them.
    pub fn set_producer(&mut self, producer_id: i64, epoch: i16, base_sequence: i32) {
        self.producer = (producer_id, epoch, base_sequence);
    }

    /// Appends a record; its offset delta is its position in the batch and its
    /// timestamp delta is relative to the first record's timestamp.
    pub fn push(&mut self, rec: Record) {
        if self.count == 0 {
            self.base_timestamp = rec.timestamp;
            self.max_timestamp = rec.timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(rec.timestamp);
        let ts_delta = rec.timestamp.wrapping_sub(self.base_timestamp);
        let (key, value) = (rec.key.as_deref(), rec.value.as_deref());
        // Sized up front so the record is written straight into the batch body.
        let mut len = 1 + uvar_len(zigzag64(ts_delta)) + uvar_len(zigzag64(self.count.into()));
        len +=
            nullable_len(key) + nullable_len(value) + uvar_len(zigzag64(rec.headers.len() as i64));
        for (k, v) in &rec.headers {
            len += nullable_len(Some(k.as_bytes())) + nullable_len(v.as_deref());
        }
        if self.body.len() < HEADER_LEN {
            self.body.resize(HEADER_LEN, 0); // only after finish(): keep the layout valid
        }
        self.body.reserve(len + 5);
        put_varint(&mut self.body, len as i32);
        let start = self.body.len();
        self.body.push(0); // record attributes: unused by Kafka
        put_varlong(&mut self.body, ts_delta);
        put_varint(&mut self.body, self.count);
        put_nullable(&mut self.body, key);
        put_nullable(&mut self.body, value);
        put_varint(&mut self.body, rec.headers.len() as i32);
        for (k, v) in &rec.headers {
            put_nullable(&mut self.body, Some(k.as_bytes()));
            put_nullable(&mut self.body, v.as_deref());
        }
        debug_assert_eq!(self.body.len() - start, len);
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Uncompressed size of the batch so far, header included.
    pub fn estimated_size(&self) -> usize {
        self.body.len().max(HEADER_LEN)
    }

    /// The encoded records section, uncompressed.
    fn records(&self) -> &[u8] {
        self.body.get(HEADER_LEN..).unwrap_or_default()
    }

    /// The same bytes as [`BatchBuilder::build`], but an uncompressed batch is
    /// finished in the builder's own buffer (header and CRC written in place),
    /// without a copy. The builder is spent afterwards: push nothing more.
    pub fn finish(&mut self) -> Result<Vec<u8>, CodecError> {
        if self.compression != Compression::None {
            return self.build();
        }
        let mut b = std::mem::take(&mut self.body);
        if b.len() < HEADER_LEN {
            b.resize(HEADER_LEN, 0);
        }
        let header = self.header(b.len());
        if let Some(dst) = b.get_mut(..HEADER_LEN) {
            dst.copy_from_slice(&header);
        }
        fill_crc(&mut b);
        Ok(b)
    }

    /// The 61-byte v2 header of a batch of `total` bytes, CRC still zero.
    fn header(&self, total: usize) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let fields: [&[u8]; 13] = [
            &0i64.to_be_bytes(), // baseOffset
            &((total - LOG_OVERHEAD) as i32).to_be_bytes(),
            &(-1i32).to_be_bytes(), // partitionLeaderEpoch
            &[MAGIC_V2],
            &[0; 4], // crc, filled by fill_crc
            &self.compression.attribute_bits().to_be_bytes(),
            &(self.count - 1).max(0).to_be_bytes(),
            &self.base_timestamp.to_be_bytes(),
            &self.max_timestamp.to_be_bytes(),
            &self.producer.0.to_be_bytes(), // producerId
            &self.producer.1.to_be_bytes(), // producerEpoch
            &self.producer.2.to_be_bytes(), // baseSequence
            &self.count.to_be_bytes(),
        ];
        let mut at = 0;
        for f in fields {
            if let Some(dst) = h.get_mut(at..at + f.len()) {
                dst.copy_from_slice(f);
            }
            at += f.len();
        }
        debug_assert_eq!(at, HEADER_LEN);
        h
    }

    /// A complete v2 batch: baseOffset 0, partitionLeaderEpoch -1, CreateTime,
    /// producer id/epoch/sequence as set (default -1/-1/-1), records compressed with the builder's codec.
    /// An empty builder yields a valid batch with no records (lastOffsetDelta 0).
    pub fn build(&self) -> Result<Vec<u8>, CodecError> {
        let records = compression::compress(self.compression, self.records())?;
        let total = HEADER_LEN + records.len();
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(&self.header(total));
        b.extend_from_slice(&records);
        fill_crc(&mut b);
        Ok(b)
    }
}

/// Writes the CRC-32C of attributes..end into a complete batch.
fn fill_crc(b: &mut [u8]) {
    let crc = CRC32C.checksum(b.get(layout::CRC_START..).unwrap_or_default());
    if let Some(dst) = b.get_mut(layout::CRC) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
}

/// Why fetched bytes could not be decoded.
#[derive(Debug)]
pub enum RecordsError {
    /// The batch header or CRC is invalid (also: not magic 2).
    Batch { base_offset: i64, error: BatchError },
    /// Attribute bits 0–2 name no known codec.
    UnknownCodec { base_offset: i64, attributes: i16 },
    /// Decompression failed or exceeded the cap.
    Codec { base_offset: i64, error: CodecError },
    /// The records section does not parse as `recordsCount` records.
    Malformed {
        base_offset: i64,
        what: &'static str,
    },
}

impl fmt::Display for RecordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordsError::Batch { base_offset, error } => {
                write!(f, "invalid record batch at offset {base_offset}: {error:?}")
            }
            RecordsError::UnknownCodec {
                base_offset,
                attributes,
            } => write!(
                f,
                "record batch at offset {base_offset} uses unknown codec (attributes {attributes:#x})"
            ),
            RecordsError::Codec { base_offset, error } => {
                write!(f, "record batch at offset {base_offset}: {error}")
            }
            RecordsError::Malformed { base_offset, what } => {
                write!(
                    f,
                    "malformed record in batch at offset {base_offset}: {what}"
                )
            }
        }
    }
}

impl std::error::Error for RecordsError {}

/// Decodes back-to-back v2 batches (a Fetch partition's `records`). A batch
/// cut off at the end of `bytes` is ignored; control batches are skipped;
/// each batch's records may decompress to at most `max_decompressed` bytes.
pub fn decode_batches(
    bytes: &[u8],
    max_decompressed: usize,
) -> Result<Vec<ConsumerRecord>, RecordsError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(head) = layout::header_bytes(rest) {
        let base_offset = i64::from_be_bytes(arr8(head, layout::BASE_OFFSET.start));
        let batch_length = i32::from_be_bytes(arr4(head, layout::BATCH_LENGTH.start));
        // A length past the end is the partial batch Fetch may return: stop.
        // (A negative or tiny length falls through to new_checked's error.)
        if batch_length > 0 && batch_length as usize + LOG_OVERHEAD > rest.len() {
            break;
        }
        let batch = RecordBatch::new_checked(rest)
            .map_err(|error| RecordsError::Batch { base_offset, error })?;
        let h = *batch.header();
        let total = batch.total_len();
        if !h.is_control() {
            let section = batch.as_bytes().get(HEADER_LEN..).unwrap_or_default();
            decode_one(&h, section, max_decompressed, &mut out)?;
        }
        rest = rest.get(total..).unwrap_or_default();
    }
    Ok(out)
}

fn decode_one(
    h: &layout::BatchHeader,
    section: &[u8],
    max_decompressed: usize,
    out: &mut Vec<ConsumerRecord>,
) -> Result<(), RecordsError> {
    let base_offset = h.base_offset;
    let codec =
        Compression::from_attributes(h.attributes).map_err(|_| RecordsError::UnknownCodec {
            base_offset,
            attributes: h.attributes,
        })?;
    // One allocation per batch; keys and values are zero-copy slices of it.
    let body = match codec {
        Compression::None => Bytes::copy_from_slice(section),
        c => Bytes::from(
            compression::decompress(c, section, max_decompressed)
                .map_err(|error| RecordsError::Codec { base_offset, error })?,
        ),
    };
    let bad = |what| RecordsError::Malformed { base_offset, what };
    // LogAppendTime (attribute bit 3): every record carries the batch's maxTimestamp.
    let log_append_time = h.attributes & 0x8 != 0;
    let mut cur = Cursor { buf: &body, pos: 0 };
    // Each record takes at least 7 bytes, so the count cannot over-allocate.
    out.reserve((h.records_count as usize).min(body.len() / 7));
    for _ in 0..h.records_count {
        let len = cur.varint().ok_or(bad("record length"))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| cur.pos.checked_add(l));
        let end = end
            .filter(|&e| e <= body.len())
            .ok_or(bad("record length"))?;
        let mut r = Cursor {
            buf: body.get(..end).unwrap_or_default(),
            pos: cur.pos,
        };
        r.take(1).ok_or(bad("record attributes"))?;
        let ts_delta = r.varlong().ok_or(bad("timestamp delta"))?;
        let offset_delta = r.varint().ok_or(bad("offset delta"))?;
        let key = r.nullable(&body).ok_or(bad("key"))?;
        let value = r.nullable(&body).ok_or(bad("value"))?;
        let n_headers = r.varint().filter(|n| *n >= 0).ok_or(bad("header count"))?;
        let mut headers = Vec::with_capacity((n_headers as usize).min(end - r.pos));
        for _ in 0..n_headers {
            let k = r.nullable(&body).flatten().ok_or(bad("header key"))?;
            let v = r.nullable(&body).ok_or(bad("header value"))?;
            headers.push((String::from_utf8_lossy(&k).into_owned(), v));
        }
        if r.pos != end {
            return Err(bad("record length does not match its fields"));
        }
        cur.pos = end;
        out.push(ConsumerRecord {
            offset: base_offset.wrapping_add(offset_delta as i64),
            timestamp: if log_append_time {
                h.max_timestamp
            } else {
                h.base_timestamp.wrapping_add(ts_delta)
            },
            key,
            value,
            headers,
        });
    }
    Ok(())
}

fn arr8(head: &[u8; HEADER_LEN], at: usize) -> [u8; 8] {
    head.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_default()
}

fn arr4(head: &[u8; HEADER_LEN], at: usize) -> [u8; 4] {
    head.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_default()
}

/// Kafka's ByteUtils.writeVarint: zigzag, then 7 bits per byte, low first.
/// (An i32 widened to i64 zigzags to the same value.)
fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_uvarlong(out, zigzag64(v.into()));
}

/// Kafka's ByteUtils.writeVarlong.
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_uvarlong(out, zigzag64(v));
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Bytes `put_uvarlong` writes for `u`.
fn uvar_len(u: u64) -> usize {
    (64 - u.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes `put_nullable` writes.
fn nullable_len(b: Option<&[u8]>) -> usize {
    match b {
        None => 1,
        Some(b) => uvar_len(zigzag64(b.len() as i64)) + b.len(),
    }
}

fn put_uvarlong(out: &mut Vec<u8>, mut u: u64) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// Varint length (-1 = null) then the bytes.
fn put_nullable(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// A bounds-checked reader over one record; every method returns `None`
/// instead of reading past `buf`.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<(usize, usize)> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len())?;
        let start = self.pos;
        self.pos = end;
        Some((start, end))
    }

    /// Unsigned LEB128 of at most `max_bytes` bytes.
    fn uvar(&mut self, max_bytes: u32) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None // too long: Kafka rejects > 5 (varint) / > 10 (varlong) bytes
    }

    fn varint(&mut self) -> Option<i32> {
        let u = u32::try_from(self.uvar(5)?).ok()?;
        Some(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    fn varlong(&mut self) -> Option<i64> {
        let u = self.uvar(10)?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Length-prefixed bytes, `Some(None)` for length -1, as a slice of `body`
    /// (whose prefix `buf` is).
    fn nullable(&mut self, body: &Bytes) -> Option<Option<Bytes>> {
        match self.varint()? {
            -1 => Some(None),
            n if n < 0 => None,
            n => {
                let (s, e) = self.take(n as usize)?;
                Some(Some(body.slice(s..e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 8 << 20;

    fn rec(key: Option<&[u8]>, value: Option<&[u8]>, ts: i64) -> Record {
        Record {
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
            timestamp: ts,
        }
    }

    /// Null key, null value, empty value, 1 MiB value, many headers, and
    /// timestamps that go backwards (negative deltas).
    fn sample() -> Vec<Record> {
        let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let mut many = rec(Some(b"k"), Some(b"v"), 1_700_000_000_500);
        many.headers = (0..300)
            .map(|i| {
                (
                    format!("h{i}-\u{e9}"),
                    (i % 3 != 0).then(|| Bytes::from(vec![i as u8; i % 7])),
                )
            })
            .collect();
        many.headers.push((String::new(), Some(Bytes::new())));
        vec![
            rec(Some(b"key-1"), Some(b"value-1"), 1_700_000_000_000),
            rec(None, Some(b"no key"), 1_700_000_000_007),
            rec(Some(b"tombstone"), None, 1_699_999_999_000),
            rec(Some(b""), Some(b""), 1_700_000_000_001),
            rec(None, Some(&big), 1_700_000_000_002),
            many,
        ]
    }

    fn build(c: Compression, recs: &[Record]) -> Vec<u8> {
        let mut b = BatchBuilder::new(c);
        for r in recs {
            b.push(r.clone());
        }
        assert_eq!(b.len(), recs.len());
        b.build().unwrap()
    }

    fn assert_same(got: &[ConsumerRecord], want: &[Record], first_offset: i64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.offset, first_offset + i as i64);
            assert_eq!(
                (g.timestamp, &g.key, &g.value),
                (w.timestamp, &w.key, &w.value),
                "record {i}"
            );
            assert_eq!(g.headers, w.headers, "record {i}");
        }
    }

    #[test]
    fn every_codec_round_trips_keys_values_headers_timestamps_and_offsets() {
        let recs = sample();
        for c in Compression::ALL {
            let bytes = build(c, &recs);
            let got = decode_batches(&bytes, CAP).unwrap();
            assert_same(&got, &recs, 0);
        }
    }

    #[test]
    fn built_batches_pass_the_brokers_check_with_correct_header_fields() {
        let recs = sample();
        for c in Compression::ALL {
            let bytes = build(c, &recs);
            let v = RecordBatch::new_checked(&bytes[..]).unwrap();
            let h = v.header();
            assert_eq!(v.total_len(), bytes.len());
            assert_eq!(
                (h.base_offset, h.partition_leader_epoch, h.magic),
                (0, -1, 2)
            );
            assert_eq!(
                h.attributes,
                c.attribute_bits(),
                "CreateTime, codec bits only"
            );
            assert_eq!((h.last_offset_delta, h.records_count), (5, 6));
            assert_eq!(
                (h.base_timestamp, h.max_timestamp),
                (1_700_000_000_000, 1_700_000_000_500)
            );
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (-1, -1, -1)
            );
            if c != Compression::None {
                assert!(bytes.len() < 600_000, "{c} compressed the 1 MiB value");
            }
        }
    }

    #[test]
    fn producer_id_epoch_and_sequence_are_stamped_under_the_crc() {
        for c in [Compression::None, Compression::Lz4] {
            let mut b = BatchBuilder::with_buffer(c, vec![0xCD; 4096]);
            b.push(rec(None, Some(b"v"), 1));
            b.set_producer(4242, 3, 17);
            let bytes = b.finish().unwrap();
            // new_checked verifies the CRC, so the stamped fields are covered by it.
            let v = RecordBatch::new_checked(&bytes[..]).unwrap();
            let h = v.header();
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (4242, 3, 17)
            );
        }
    }

    #[test]
    fn estimated_size_is_the_uncompressed_batch_size() {
        let recs = sample();
        let mut b = BatchBuilder::new(Compression::None);
        assert!(b.is_empty());
        assert_eq!(b.estimated_size(), HEADER_LEN);
        for r in &recs {
            b.push(r.clone());
        }
        assert_eq!(b.estimated_size(), b.build().unwrap().len());
    }

    #[test]
    fn finish_in_place_equals_build_for_every_codec_and_recycled_buffers() {
        let recs = sample();
        for c in Compression::ALL {
            let want = build(c, &recs);
            // A dirty recycled buffer must not leak into the batch.
            let mut b = BatchBuilder::with_buffer(c, vec![0xAB; 3 << 20]);
            for r in &recs {
                b.push(r.clone());
            }
            let got = b.finish().unwrap();
            assert_eq!(got, want, "{c}");
            assert_same(&decode_batches(&got, CAP).unwrap(), &recs, 0);
        }
        // An uncompressed finish hands back the builder's own allocation.
        let mut b = BatchBuilder::with_buffer(Compression::None, Vec::with_capacity(1 << 16));
        b.push(rec(None, Some(b"v"), 1));
        let got = b.finish().unwrap();
        assert_eq!(got.capacity(), 1 << 16);
    }

    #[test]
    fn record_bytes_match_kafkas_layout() {
        // key "k", value "v", one header ("h", null), timestamp delta 0, offset delta 0.
        let mut b = BatchBuilder::new(Compression::None);
        let mut r = rec(Some(b"k"), Some(b"v"), 5);
        r.headers.push(("h".into(), None));
        b.push(r);
        let bytes = b.build().unwrap();
        // len 11 -> zigzag 22; attrs 0; ts 0; off 0; key len 1 -> 2; value; 1 header -> 2; "h"; null -> 1.
        assert_eq!(
            &bytes[HEADER_LEN..],
            b"\x16\x00\x00\x00\x02k\x02v\x02\x02h\x01"
        );
    }

    #[test]
    fn varints_match_kafka_bytes_utils() {
        // Zigzag then LEB128, as ByteUtils.writeVarint writes them (worked by hand).
        for (v, enc) in [
            (0, &b"\x00"[..]),
            (-1, b"\x01"),
            (1, b"\x02"),
            (63, b"\x7e"),
            (-64, b"\x7f"),
            (64, b"\x80\x01"),
            (i32::MAX, b"\xfe\xff\xff\xff\x0f"),
            (i32::MIN, b"\xff\xff\xff\xff\x0f"),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, enc, "{v}");
            assert_eq!(uvar_len(zigzag64(v.into())), out.len(), "{v}");
            assert_eq!(Cursor { buf: &out, pos: 0 }.varint(), Some(v));
        }
        for v in [0, -1, i64::MAX, i64::MIN, 1_700_000_000_000] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            assert_eq!(Cursor { buf: &out, pos: 0 }.varlong(), Some(v));
        }
        assert_eq!(
            Cursor {
                buf: b"\x80\x80\x80\x80\x80\x01",
                pos: 0
            }
            .varint(),
            None
        );
    }

    #[test]
    fn back_to_back_batches_decode_with_broker_offsets_and_a_cut_tail_is_ignored() {
        let mut a = build(Compression::None, &sample()[..2]);
        let mut b = build(Compression::Lz4, &sample()[..3]);
        // The broker stamps base offsets outside the CRC.
        RecordBatch::new_checked(&mut a[..])
            .unwrap()
            .set_base_offset(100);
        RecordBatch::new_checked(&mut b[..])
            .unwrap()
            .set_base_offset(102);
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let got = decode_batches(&all, CAP).unwrap();
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [100, 101, 102, 103, 104]
        );
        for cut in [a.len() + 1, a.len() + 30, a.len() + 61, all.len() - 1] {
            let got = decode_batches(&all[..cut], CAP).unwrap();
            assert_eq!(got.len(), 2, "cut at {cut}");
        }
        assert!(decode_batches(&[], CAP).unwrap().is_empty());
    }

    #[test]
    fn corrupt_crc_control_batches_and_caps_are_handled() {
        let recs = sample();
        let mut bad = build(Compression::Gzip, &recs[..2]);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            decode_batches(&bad, CAP),
            Err(RecordsError::Batch {
                error: BatchError::ChecksumMismatch { .. },
                ..
            })
        ));
        let big = build(Compression::Zstd, &recs);
        assert!(matches!(
            decode_batches(&big, 64 << 10),
            Err(RecordsError::Codec {
                error: CodecError::TooLarge { .. },
                ..
            })
        ));
        // A control batch (attribute bit 5) is skipped; the next batch still decodes.
        let mut ctrl = build(Compression::None, &recs[..1]);
        ctrl[22] |= 0x20;
        let crc = CRC32C.checksum(&ctrl[layout::CRC_START..]);
        ctrl[layout::CRC].copy_from_slice(&crc.to_be_bytes());
        ctrl.extend_from_slice(&build(Compression::None, &recs[..1]));
        assert_eq!(decode_batches(&ctrl, CAP).unwrap().len(), 1);
    }

    #[test]
    fn log_append_time_batches_report_the_batch_max_timestamp() {
        let mut b = build(Compression::None, &sample()[..3]);
        b[22] |= 0x08;
        let crc = CRC32C.checksum(&b[layout::CRC_START..]);
        b[layout::CRC].copy_from_slice(&crc.to_be_bytes());
        let got = decode_batches(&b, CAP).unwrap();
        assert!(got.iter().all(|r| r.timestamp == 1_700_000_000_007));
    }

    #[test]
    fn no_mutation_of_a_batch_panics_or_overallocates() {
        let base = build(Compression::None, &sample()[..4]);
        for i in layout::CRC_START..base.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut m = base.clone();
                m[i] ^= x;
                // Re-seal the CRC so the record parser sees the damage.
                let crc = CRC32C.checksum(&m[layout::CRC_START..]);
                m[layout::CRC].copy_from_slice(&crc.to_be_bytes());
                if let Ok(recs) = decode_batches(&m, CAP) {
                    assert!(recs.len() <= 4, "byte {i}");
                }
            }
        }
    }
}
