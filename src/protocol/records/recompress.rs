//! Re-encoding a stored batch with another codec (a topic's
//! `compression.type` other than `producer`, as Kafka's broker does).
//!
//! The records section of a v2 batch is the same bytes whichever codec wraps
//! it, so recompressing is: check the batch, decompress its records (at most
//! the caller's cap: a bomb is an error, never an allocation), check that they
//! parse as `recordsCount` records, compress them with the target codec, and
//! write a new header that differs only in batchLength, the codec bits and the
//! CRC. Offsets, timestamps, keys, values, headers and the producer id, epoch
//! and sequence are kept byte for byte.

use super::compression::{self, Compression};
use super::{RecordsError, decode_one, fill_crc};
use crate::storage::batch::{self as layout, HEADER_LEN, LOG_OVERHEAD, RecordBatch};

/// `batch` (exactly one v2 batch) with its records under `target`; `None` when
/// it already uses `target` (nothing to do).
pub fn recompress(
    batch: &[u8],
    target: Compression,
    max_decompressed: usize,
) -> Result<Option<Vec<u8>>, RecordsError> {
    let base_offset = layout::header_bytes(batch)
        .map(|h| i64::from_be_bytes(super::arr8(h, layout::BASE_OFFSET.start)))
        .unwrap_or(-1);
    let checked = RecordBatch::new_checked(batch)
        .map_err(|error| RecordsError::Batch { base_offset, error })?;
    let h = *checked.header();
    let source =
        Compression::from_attributes(h.attributes).map_err(|_| RecordsError::UnknownCodec {
            base_offset,
            attributes: h.attributes,
        })?;
    if source == target {
        return Ok(None);
    }
    let section = checked.as_bytes().get(HEADER_LEN..).unwrap_or_default();
    let raw = match source {
        Compression::None => section.to_vec(),
        c => compression::decompress(c, section, max_decompressed)
            .map_err(|error| RecordsError::Codec { base_offset, error })?,
    };
    // The records must parse before the broker vouches for them with a CRC.
    let mut parsed = Vec::new();
    let mut plain = h;
    plain.attributes &= !0x07;
    decode_one(&plain, &raw, max_decompressed, &mut parsed)?;
    drop(parsed);
    let packed = match target {
        Compression::None => raw,
        c => compression::compress(c, &raw)
            .map_err(|error| RecordsError::Codec { base_offset, error })?,
    };
    let head = checked.as_bytes().get(..HEADER_LEN).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + packed.len());
    out.extend_from_slice(head);
    out.extend_from_slice(&packed);
    let batch_length = (out.len() - LOG_OVERHEAD) as i32;
    if let Some(dst) = out.get_mut(layout::BATCH_LENGTH) {
        dst.copy_from_slice(&batch_length.to_be_bytes());
    }
    let attributes = (h.attributes & !0x07) | target.attribute_bits();
    if let Some(dst) = out.get_mut(layout::ATTRIBUTES) {
        dst.copy_from_slice(&attributes.to_be_bytes());
    }
    fill_crc(&mut out);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::super::{BatchBuilder, Record, decode_batches};
    use super::*;
    use bytes::Bytes;

    fn records() -> Vec<Record> {
        (0..5)
            .map(|i| Record {
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("value {i} ").repeat(30))),
                headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
                timestamp: 1_700_000_000_000 + i * 7,
            })
            .collect()
    }

    #[test]
    fn every_codec_to_every_codec_keeps_records_producer_fields_and_a_valid_crc() {
        for from in Compression::ALL {
            let mut b = BatchBuilder::new(from);
            b.set_producer(42, 3, 100);
            for r in records() {
                b.push(r);
            }
            let original = b.build().unwrap();
            let want = decode_batches(&original, 1 << 20).unwrap();
            for to in Compression::ALL {
                let got = recompress(&original, to, 1 << 20).unwrap();
                let Some(got) = got else {
                    assert_eq!(from, to);
                    continue;
                };
                let batch = RecordBatch::new_checked(&got[..]).expect("valid CRC and length");
                let h = batch.header();
                assert_eq!(Compression::from_attributes(h.attributes), Ok(to));
                assert_eq!(
                    &got[43..57],
                    &original[43..57],
                    "producer id/epoch/sequence"
                );
                assert_eq!(&got[23..43], &original[23..43], "offset delta, timestamps");
                assert_eq!(
                    decode_batches(&got, 1 << 20).unwrap(),
                    want,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_bomb_or_garbage_is_an_error_not_an_allocation() {
        let mut b = BatchBuilder::new(Compression::Gzip);
        b.push(Record {
            value: Some(Bytes::from(vec![0u8; 1 << 20])),
            ..Record::default()
        });
        let bomb = b.build().unwrap();
        assert!(bomb.len() < 10_000);
        assert!(matches!(
            recompress(&bomb, Compression::Lz4, 64 << 10),
            Err(RecordsError::Codec { .. })
        ));
        assert!(recompress(&bomb[..40], Compression::Lz4, 1 << 20).is_err());
    }
}
