//! Finding records by time inside stored batches (ListOffsets by timestamp).
//!
//! The partition's time index only knows batches; Kafka answers at record
//! granularity: the first record, at or after a starting offset, whose
//! timestamp is at least the one asked for. Batches whose `maxTimestamp` is
//! older are skipped without decompressing; the rest are decoded (capped at
//! the caller's `max_decompressed`) one at a time. Never panics on any input.

use super::{RecordsError, decode_one};
use crate::storage::batch::{self as layout, HEADER_LEN, LOG_OVERHEAD, RecordBatch};

/// Where a time search over some batches ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSearch {
    /// The first record at or after the start with `timestamp ≥ ts`.
    Found { offset: i64, timestamp: i64 },
    /// None of these batches holds one: continue at `next_offset`.
    NotHere { next_offset: i64 },
}

/// Searches back-to-back v2 batches (as a partition read returns them) for
/// the first record with offset ≥ `from_offset` and timestamp ≥ `ts`.
pub fn first_record_at_or_after(
    bytes: &[u8],
    from_offset: i64,
    ts: i64,
    max_decompressed: usize,
) -> Result<TimeSearch, RecordsError> {
    let mut next_offset = from_offset;
    let mut rest = bytes;
    while let Some(head) = layout::header_bytes(rest) {
        let base_offset = i64::from_be_bytes(super::arr8(head, layout::BASE_OFFSET.start));
        let batch_length = i32::from_be_bytes(super::arr4(head, layout::BATCH_LENGTH.start));
        if batch_length > 0 && batch_length as usize + LOG_OVERHEAD > rest.len() {
            break;
        }
        let batch = RecordBatch::new_checked(rest)
            .map_err(|error| RecordsError::Batch { base_offset, error })?;
        let h = *batch.header();
        let total = batch.total_len();
        let last = h.last_offset();
        if !h.is_control() && last >= from_offset && h.max_timestamp >= ts {
            let section = batch.as_bytes().get(HEADER_LEN..).unwrap_or_default();
            let mut records = Vec::new();
            decode_one(&h, section, max_decompressed, &mut records)?;
            if let Some(r) = records
                .iter()
                .find(|r| r.offset >= from_offset && r.timestamp >= ts)
            {
                return Ok(TimeSearch::Found {
                    offset: r.offset,
                    timestamp: r.timestamp,
                });
            }
        }
        next_offset = next_offset.max(last.saturating_add(1));
        rest = rest.get(total..).unwrap_or_default();
    }
    Ok(TimeSearch::NotHere { next_offset })
}

#[cfg(test)]
mod tests {
    use super::super::compression::Compression;
    use super::super::{BatchBuilder, Record};
    use super::*;

    /// Four records stamped 1000..=4000 in one batch at `base`.
    fn batch(c: Compression, base: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(c);
        for i in 1..=4 {
            b.push(Record {
                value: Some(bytes::Bytes::from(vec![b'x'; 100])),
                timestamp: i * 1000,
                ..Record::default()
            });
        }
        let mut out = b.build().unwrap();
        RecordBatch::new_checked(&mut out[..])
            .unwrap()
            .set_base_offset(base);
        out
    }

    #[test]
    fn finds_the_first_record_at_or_after_a_time_inside_a_batch_for_every_codec() {
        for c in Compression::ALL {
            let b = batch(c, 10);
            let at = |ts| first_record_at_or_after(&b, 10, ts, 1 << 20).unwrap();
            let found = |offset, timestamp| TimeSearch::Found { offset, timestamp };
            assert_eq!(at(0), found(10, 1000), "{c}");
            assert_eq!(at(1500), found(11, 2000), "{c}");
            assert_eq!(at(2500), found(12, 3000), "{c}");
            assert_eq!(at(3500), found(13, 4000), "{c}");
            assert_eq!(at(4001), TimeSearch::NotHere { next_offset: 14 }, "{c}");
        }
    }

    #[test]
    fn records_before_the_start_offset_are_not_answers_and_later_batches_are_searched() {
        let mut two = batch(Compression::None, 0);
        two.extend(batch(Compression::Lz4, 4));
        let found = |offset, timestamp| TimeSearch::Found { offset, timestamp };
        assert_eq!(
            first_record_at_or_after(&two, 2, 0, 1 << 20).unwrap(),
            found(2, 3000)
        );
        assert_eq!(
            first_record_at_or_after(&two, 4, 1500, 1 << 20).unwrap(),
            found(5, 2000)
        );
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let mut b = batch(Compression::Gzip, 0);
        let n = b.len();
        b[n - 3] ^= 0xff;
        assert!(first_record_at_or_after(&b, 0, 0, 1 << 20).is_err());
        assert_eq!(
            first_record_at_or_after(&b[..30], 0, 0, 1 << 20).unwrap(),
            TimeSearch::NotHere { next_offset: 0 }
        );
    }
}
