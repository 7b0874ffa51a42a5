//! Checked views over Kafka RecordBatch v2 bytes.
//!
//! A batch is stored exactly as the client sent it; the broker only overwrites
//! `baseOffset` and `partitionLeaderEpoch`, both outside the CRC. The view is
//! built with [`RecordBatch::new_checked`], which validates every bound the
//! accessors rely on, so no accessor can panic on any input.
//!
//! Byte layout (big-endian), from Kafka's message-format documentation:
//!
//! | bytes  | field                | notes                                   |
//! |--------|----------------------|-----------------------------------------|
//! | 0–7    | baseOffset i64       | assigned by the broker; not in the CRC  |
//! | 8–11   | batchLength i32      | bytes after this field                  |
//! | 12–15  | partitionLeaderEpoch | stamped by the broker; not in the CRC   |
//! | 16     | magic i8             | must be 2                               |
//! | 17–20  | crc u32              | CRC-32C over bytes 21..end              |
//! | 21–22  | attributes i16       | bits 0–2 codec, 3 timestamp type, 4 txn, 5 control |
//! | 23–26  | lastOffsetDelta i32  |                                         |
//! | 27–34  | baseTimestamp i64    |                                         |
//! | 35–42  | maxTimestamp i64     |                                         |
//! | 43–50  | producerId i64       |                                         |
//! | 51–52  | producerEpoch i16    |                                         |
//! | 53–56  | baseSequence i32     |                                         |
//! | 57–60  | recordsCount i32     |                                         |
//! | 61..   | records              | compressed as one blob when codec ≠ 0   |

use core::ops::Range;

/// CRC-32C (Castagnoli), the checksum Kafka batches carry. With std it uses
/// the `crc32c` crate (SSE4.2 / ARMv8 CRC instructions, software fallback);
/// without std, the `crc` crate's slice-by-16 tables. Same results, one API.
pub const CRC32C: Crc32cAlgo = Crc32cAlgo;

/// See [`CRC32C`].
#[derive(Debug, Clone, Copy)]
pub struct Crc32cAlgo;

#[cfg(not(feature = "std"))]
static TABLES: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// A running CRC-32C over bytes fed in pieces.
pub struct Crc32cDigest {
    #[cfg(feature = "std")]
    value: u32,
    #[cfg(not(feature = "std"))]
    digest: crc::Digest<'static, u32, crc::Table<16>>,
}

impl Crc32cAlgo {
    /// CRC-32C of `data`.
    pub fn checksum(&self, data: &[u8]) -> u32 {
        let mut d = self.digest();
        d.update(data);
        d.finalize()
    }

    /// Starts a running CRC-32C.
    pub fn digest(&self) -> Crc32cDigest {
        #[cfg(feature = "std")]
        return Crc32cDigest { value: 0 };
        #[cfg(not(feature = "std"))]
        return Crc32cDigest {
            digest: TABLES.digest(),
        };
    }
}

impl Crc32cDigest {
    pub fn update(&mut self, data: &[u8]) {
        #[cfg(feature = "std")]
        {
            self.value = crc32c::crc32c_append(self.value, data);
        }
        #[cfg(not(feature = "std"))]
        self.digest.update(data);
    }

    pub fn finalize(self) -> u32 {
        #[cfg(feature = "std")]
        return self.value;
        #[cfg(not(feature = "std"))]
        return self.digest.finalize();
    }
}

/// Size of the fixed batch header; records start here.
pub const HEADER_LEN: usize = 61;
/// Bytes before and including `batchLength`: total size = batchLength + this.
pub const LOG_OVERHEAD: usize = 12;

pub const BASE_OFFSET: Range<usize> = 0..8;
pub const BATCH_LENGTH: Range<usize> = 8..12;
pub const LEADER_EPOCH: Range<usize> = 12..16;
pub const MAGIC: usize = 16;
pub const CRC: Range<usize> = 17..21;
/// First byte the CRC covers.
pub const CRC_START: usize = 21;
pub const ATTRIBUTES: Range<usize> = 21..23;
pub const LAST_OFFSET_DELTA: Range<usize> = 23..27;
pub const BASE_TIMESTAMP: Range<usize> = 27..35;
pub const MAX_TIMESTAMP: Range<usize> = 35..43;
pub const PRODUCER_ID: Range<usize> = 43..51;
pub const PRODUCER_EPOCH: Range<usize> = 51..53;
pub const BASE_SEQUENCE: Range<usize> = 53..57;
pub const RECORDS_COUNT: Range<usize> = 57..61;

/// The only record-batch format pipit stores.
pub const MAGIC_V2: u8 = 2;

/// Why bytes are not a valid batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than the fixed header or than `batchLength` announces.
    Truncated { have: usize, need: usize },
    /// `batchLength` below the header size or otherwise impossible.
    BadLength { batch_length: i32 },
    /// Not a v2 record batch.
    BadMagic { magic: u8 },
    /// The CRC-32C over attributes..end does not match.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// `lastOffsetDelta` or `recordsCount` negative.
    BadCounts {
        last_offset_delta: i32,
        records_count: i32,
    },
}

/// The header fields needed to place a batch, readable from the first
/// [`HEADER_LEN`] bytes alone (no CRC check: see [`RecordBatch`] for that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: u8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the fixed header and checks the fields that can be checked
    /// without the body: length bounds, magic and counts.
    pub fn parse(head: &[u8; HEADER_LEN]) -> Result<Self, BatchError> {
        let h = BatchHeader {
            base_offset: i64::from_be_bytes(arr(head, BASE_OFFSET.start)),
            batch_length: i32::from_be_bytes(arr(head, BATCH_LENGTH.start)),
            partition_leader_epoch: i32::from_be_bytes(arr(head, LEADER_EPOCH.start)),
            magic: head[MAGIC],
            crc: u32::from_be_bytes(arr(head, CRC.start)),
            attributes: i16::from_be_bytes(arr(head, ATTRIBUTES.start)),
            last_offset_delta: i32::from_be_bytes(arr(head, LAST_OFFSET_DELTA.start)),
            base_timestamp: i64::from_be_bytes(arr(head, BASE_TIMESTAMP.start)),
            max_timestamp: i64::from_be_bytes(arr(head, MAX_TIMESTAMP.start)),
            producer_id: i64::from_be_bytes(arr(head, PRODUCER_ID.start)),
            producer_epoch: i16::from_be_bytes(arr(head, PRODUCER_EPOCH.start)),
            base_sequence: i32::from_be_bytes(arr(head, BASE_SEQUENCE.start)),
            records_count: i32::from_be_bytes(arr(head, RECORDS_COUNT.start)),
        };
        if (h.batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(BatchError::BadLength {
                batch_length: h.batch_length,
            });
        }
        if h.magic != MAGIC_V2 {
            return Err(BatchError::BadMagic { magic: h.magic });
        }
        if h.last_offset_delta < 0 || h.records_count < 0 {
            return Err(BatchError::BadCounts {
                last_offset_delta: h.last_offset_delta,
                records_count: h.records_count,
            });
        }
        Ok(h)
    }

    /// Total size in bytes, header included.
    pub fn total_len(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// Offset of the last record, `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(self.last_offset_delta as i64)
    }

    /// Compression codec from attribute bits 0–2 (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn codec(&self) -> u8 {
        (self.attributes & 0x7) as u8
    }

    /// Whether the transactional bit (4) is set.
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Whether the control bit (5) is set.
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

/// Reads a fixed-size array at `at`; callers pass offsets inside the header,
/// which [`HEADER_LEN`]-sized input guarantees.
fn arr<const N: usize>(head: &[u8; HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = head.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Splits the fixed header off a buffer, if it is long enough.
pub fn header_bytes(buf: &[u8]) -> Option<&[u8; HEADER_LEN]> {
    buf.get(..HEADER_LEN).and_then(|s| s.try_into().ok())
}

/// A validated view of exactly one record batch at the start of a buffer.
#[derive(Debug)]
pub struct RecordBatch<T> {
    buf: T,
    header: BatchHeader,
}

impl<T: AsRef<[u8]>> RecordBatch<T> {
    /// Validates the batch at the start of `buf`: header bounds, magic, counts,
    /// that `buf` holds all `batchLength + 12` bytes, and the CRC-32C.
    /// Bytes after the batch are allowed and ignored.
    pub fn new_checked(buf: T) -> Result<Self, BatchError> {
        let bytes = buf.as_ref();
        let head = header_bytes(bytes).ok_or(BatchError::Truncated {
            have: bytes.len(),
            need: HEADER_LEN,
        })?;
        let header = BatchHeader::parse(head)?;
        let total = header.total_len();
        let body = bytes.get(CRC_START..total).ok_or(BatchError::Truncated {
            have: bytes.len(),
            need: total,
        })?;
        let computed = CRC32C.checksum(body);
        if computed != header.crc {
            return Err(BatchError::ChecksumMismatch {
                stored: header.crc,
                computed,
            });
        }
        Ok(RecordBatch { buf, header })
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Total size of the batch in bytes.
    pub fn total_len(&self) -> usize {
        self.header.total_len()
    }

    /// The batch's bytes, exactly `total_len()` long.
    pub fn as_bytes(&self) -> &[u8] {
        let b = self.buf.as_ref();
        b.get(..self.header.total_len()).unwrap_or(b)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RecordBatch<T> {
    /// Overwrites `baseOffset`; outside the CRC, so the CRC stays valid.
    pub fn set_base_offset(&mut self, offset: i64) {
        if let Some(dst) = self.buf.as_mut().get_mut(BASE_OFFSET) {
            dst.copy_from_slice(&offset.to_be_bytes());
            self.header.base_offset = offset;
        }
    }

    /// Overwrites `partitionLeaderEpoch`; outside the CRC.
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        if let Some(dst) = self.buf.as_mut().get_mut(LEADER_EPOCH) {
            dst.copy_from_slice(&epoch.to_be_bytes());
            self.header.partition_leader_epoch = epoch;
        }
    }
}

/// Writes `base_offset` and `leader_epoch` into a batch's header, as the
/// ring stores it (both lie outside the CRC). Tests use it to know the bytes
/// an append stores; the ring itself stamps a copy of the prefix.
pub fn stamp(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if let Some(dst) = batch.get_mut(BASE_OFFSET) {
        dst.copy_from_slice(&base_offset.to_be_bytes());
    }
    if let Some(dst) = batch.get_mut(LEADER_EPOCH) {
        dst.copy_from_slice(&leader_epoch.to_be_bytes());
    }
}

/// Builds a valid uncompressed v2 batch with `records_count` empty-ish
/// records into `out` (for tests and benchmarks; no alloc). The records
/// section is filled with `fill` bytes and is not record-structured, which the
/// storage layer never looks at. Returns the total length written.
pub fn build_test_batch(
    out: &mut [u8],
    body_len: usize,
    records_count: i32,
    max_timestamp: i64,
    fill: u8,
) -> Option<usize> {
    let total = HEADER_LEN + body_len;
    let buf = out.get_mut(..total)?;
    buf.fill(0);
    buf.get_mut(BATCH_LENGTH)?
        .copy_from_slice(&((total - LOG_OVERHEAD) as i32).to_be_bytes());
    buf.get_mut(LEADER_EPOCH)?
        .copy_from_slice(&(-1i32).to_be_bytes());
    *buf.get_mut(MAGIC)? = MAGIC_V2;
    let delta = records_count.saturating_sub(1).max(0);
    buf.get_mut(LAST_OFFSET_DELTA)?
        .copy_from_slice(&delta.to_be_bytes());
    buf.get_mut(BASE_TIMESTAMP)?
        .copy_from_slice(&max_timestamp.to_be_bytes());
    buf.get_mut(MAX_TIMESTAMP)?
        .copy_from_slice(&max_timestamp.to_be_bytes());
    buf.get_mut(PRODUCER_ID)?
        .copy_from_slice(&(-1i64).to_be_bytes());
    buf.get_mut(PRODUCER_EPOCH)?
        .copy_from_slice(&(-1i16).to_be_bytes());
    buf.get_mut(BASE_SEQUENCE)?
        .copy_from_slice(&(-1i32).to_be_bytes());
    buf.get_mut(RECORDS_COUNT)?
        .copy_from_slice(&records_count.to_be_bytes());
    buf.get_mut(HEADER_LEN..)?.fill(fill);
    let crc = CRC32C.checksum(buf.get(CRC_START..)?);
    buf.get_mut(CRC)?.copy_from_slice(&crc.to_be_bytes());
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(body: usize, count: i32) -> [u8; 256] {
        let mut b = [0u8; 256];
        build_test_batch(&mut b, body, count, 1_700_000_000_000, 7).unwrap();
        b
    }

    #[test]
    fn crc32c_matches_the_castagnoli_check_value_in_pieces_too() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
        let mut d = CRC32C.digest();
        d.update(b"1234");
        d.update(b"56789");
        assert_eq!(d.finalize(), 0xE306_9283);
        let tables = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let data: std::vec::Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(CRC32C.checksum(&data), tables.checksum(&data));
    }

    #[test]
    fn valid_batch_is_accepted_and_fields_read_back() {
        let b = batch(20, 3);
        let v = RecordBatch::new_checked(&b[..]).unwrap();
        assert_eq!(v.total_len(), 81);
        assert_eq!(v.header().last_offset_delta, 2);
        assert_eq!(v.header().records_count, 3);
        assert_eq!(v.header().max_timestamp, 1_700_000_000_000);
    }

    #[test]
    fn stamping_offset_and_epoch_keeps_crc_valid() {
        let mut b = batch(20, 3);
        let mut v = RecordBatch::new_checked(&mut b[..]).unwrap();
        v.set_base_offset(123_456);
        v.set_partition_leader_epoch(9);
        let again = RecordBatch::new_checked(&b[..]).unwrap();
        assert_eq!(again.header().base_offset, 123_456);
        assert_eq!(again.header().partition_leader_epoch, 9);
    }

    #[test]
    fn every_flipped_byte_in_crc_range_is_detected() {
        let b = batch(30, 1);
        for i in CRC_START..91 {
            let mut c = b;
            c[i] ^= 0x5a;
            assert!(RecordBatch::new_checked(&c[..]).is_err(), "byte {i}");
        }
    }

    #[test]
    fn truncated_bad_magic_and_bad_length_are_typed_errors() {
        let b = batch(30, 1);
        assert!(matches!(
            RecordBatch::new_checked(&b[..60]),
            Err(BatchError::Truncated { .. })
        ));
        assert!(matches!(
            RecordBatch::new_checked(&b[..90]),
            Err(BatchError::Truncated { need: 91, .. })
        ));
        let mut m = b;
        m[MAGIC] = 1;
        assert!(matches!(
            RecordBatch::new_checked(&m[..]),
            Err(BatchError::BadMagic { magic: 1 })
        ));
        let mut l = b;
        l[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            RecordBatch::new_checked(&l[..]),
            Err(BatchError::BadLength { .. })
        ));
    }

    #[test]
    fn no_input_panics() {
        // Every prefix and a sweep of mutations of the length field.
        let b = batch(40, 2);
        for n in 0..b.len() {
            let _ = RecordBatch::new_checked(&b[..n]);
        }
        for v in [i32::MIN, -1, 0, 48, 49, 50, i32::MAX] {
            let mut c = b;
            c[8..12].copy_from_slice(&v.to_be_bytes());
            let _ = RecordBatch::new_checked(&c[..]);
        }
    }
}
