//! Answers for requests pipit recognises but does not serve at the requested version.
//!
//! [`unsupported_version_response`] takes a frame that `decode_request` refused with
//! `DecodeError::UnsupportedVersion` and builds the whole response frame where Kafka
//! clients expect one: ApiVersions of any version gets the v0 fallback (error 35 plus
//! the supported ranges), and Produce v0–2 (advertised so librdkafka keeps its codecs,
//! never accepted) gets every partition of the request answered with
//! UNSUPPORTED_VERSION, in the v0–2 response layout written here by hand because
//! kafka-protocol 0.18 no longer knows those versions. Anything else returns `None`:
//! close the connection, as Kafka does. The Produce v0–2 body is parsed with the same
//! bounds checks as the guard, so this path cannot be used to exhaust memory either.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::ApiKey;

use super::error::ErrorCode;
use super::frame::parse_frame;
use super::guard::{GuardError, Reader, check_count};
use super::response::unsupported_api_versions_response;

/// The response frame (size prefix included) for a refused-but-known request, if any.
pub fn unsupported_version_response(frame: &[u8]) -> Option<BytesMut> {
    let h = parse_frame(frame).ok()?;
    match h.api_key {
        ApiKey::ApiVersions => unsupported_api_versions_response(h.correlation_id).ok(),
        ApiKey::Produce if (0..=2).contains(&h.api_version) => {
            let body = frame.get(h.body_offset..)?;
            legacy_produce_error(h.api_version, h.correlation_id, body).ok()
        }
        _ => None,
    }
}

/// Produce v0–2 request: acks i16, timeout i32, [name string, [index i32, records bytes]].
/// Response: [name, [index, error i16, base_offset i64, (v2) log_append_time i64]],
/// (v1+) throttle_time_ms i32; response header v0.
fn legacy_produce_error(
    version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Result<BytesMut, GuardError> {
    let mut r = Reader::new(body);
    r.i16()?; // acks
    r.i32()?; // timeout
    let mut out = BytesMut::new();
    out.put_i32(0); // size, patched below
    out.put_i32(correlation_id);
    let topics = count(&mut r, 2 + 4)?;
    out.put_i32(topics as i32);
    for _ in 0..topics {
        let at = r.pos();
        let len = r.i16()?;
        let name = usize::try_from(len).map_err(|_| GuardError::NegativeLength {
            at,
            len: len.into(),
        })?;
        out.put_i16(len);
        out.put_slice(r.take(name)?);
        let partitions = count(&mut r, 4 + 4)?;
        out.put_i32(partitions as i32);
        for _ in 0..partitions {
            out.put_i32(r.i32()?);
            let at = r.pos();
            let len = r.i32()?;
            if len != -1 {
                let n = usize::try_from(len).map_err(|_| GuardError::NegativeLength {
                    at,
                    len: len.into(),
                })?;
                r.take(n)?;
            }
            out.put_i16(ErrorCode::UnsupportedVersion.code());
            out.put_i64(-1); // base_offset
            if version >= 2 {
                out.put_i64(-1); // log_append_time_ms
            }
        }
    }
    if version >= 1 {
        out.put_i32(0); // throttle_time_ms
    }
    let size = (out.len() - 4) as i32;
    if let Some(prefix) = out.get_mut(0..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(out)
}

fn count(r: &mut Reader<'_>, min_element: usize) -> Result<u32, GuardError> {
    let at = r.pos();
    let n = r.i32()?;
    let n = u32::try_from(n).map_err(|_| GuardError::NegativeLength { at, len: n.into() })?;
    check_count(at, n.into(), min_element, r.remaining())?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce_v0_2(version: i16, records: i32) -> Vec<u8> {
        let mut f = vec![0, 0, 0, version as u8, 0, 0, 0, 11, 0, 0]; // header v1, client ""
        f.extend_from_slice(&[0, 1, 0, 0, 0x75, 0x30]); // acks 1, timeout 30000
        f.extend_from_slice(&[0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2]); // topic "t", 2 partitions
        for p in [0u8, 1] {
            f.extend_from_slice(&[0, 0, 0, p]);
            f.extend_from_slice(&records.to_be_bytes());
            f.extend(std::iter::repeat_n(0, records.max(0) as usize));
        }
        f
    }

    #[test]
    fn produce_v0_to_2_gets_unsupported_version_per_partition() {
        for (v, per_partition, throttle) in [(0, 14, 0), (1, 14, 4), (2, 22, 4)] {
            let out = unsupported_version_response(&produce_v0_2(v, 3)).expect("answered");
            let b = &out[..];
            assert_eq!(b.get(4..8), Some(&11i32.to_be_bytes()[..]), "v{v}");
            // topics count, name "t", partitions count, then per partition.
            assert_eq!(
                b.len(),
                8 + 4 + 3 + 4 + 2 * per_partition + throttle,
                "v{v}"
            );
            assert_eq!(
                b.get(23..25),
                Some(&35i16.to_be_bytes()[..]),
                "v{v} error code"
            );
            let size = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            assert_eq!(size, b.len() - 4);
        }
    }

    #[test]
    fn produce_v0_with_lying_counts_is_not_answered() {
        let mut f = produce_v0_2(0, 3);
        f[16..20].copy_from_slice(&0x7fff_ffffi32.to_be_bytes()); // topics count
        assert!(unsupported_version_response(&f).is_none());
        let mut f = produce_v0_2(0, 3);
        f[31..35].copy_from_slice(&(1i32 << 30).to_be_bytes()); // first partition's records
        assert!(unsupported_version_response(&f).is_none());
    }

    #[test]
    fn api_versions_of_any_version_gets_the_v0_fallback_and_others_none() {
        let av4 = [0, 18, 0, 4, 0, 0, 0, 3, 0, 0, 0];
        let out = unsupported_version_response(&av4).expect("answered");
        assert_eq!(out.get(8..10), Some(&35i16.to_be_bytes()[..]));
        let join = [0, 11, 0, 5, 0, 0, 0, 3, 0, 0];
        assert!(unsupported_version_response(&join).is_none());
    }
}
