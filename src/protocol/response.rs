//! Response framing: size prefix + response header + body, into a `BytesMut` sized once
//! from kafka-protocol's `compute_size` (a large Fetch response never grows its buffer).
//!
//! The response header version comes from kafka-protocol's `HeaderVersion` for the
//! response type: v0 is the correlation id alone, v1 adds an (empty) tagged-field section
//! for flexible versions. ApiVersions responses always use header v0 (KIP-511), which
//! the crate encodes. Promises: no tagged field carrying only its default value is
//! written (the crate counts only non-default tagged fields; Debian 12's librdkafka 2.0.2
//! fails with "Read underflow" otherwise), and a request for an ApiVersions version
//! pipit does not serve gets a v0 response with UNSUPPORTED_VERSION and the full list of
//! API ranges, which kafka-python 3 needs to bootstrap.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use kafka_protocol::protocol::{Encodable, HeaderVersion};

use super::error::{ErrorCode, NONE};
use super::versions;

/// kafka-protocol refused to encode a response (a value too long or a version it lacks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "cannot encode response: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Bytes of a response frame's size prefix and header (correlation id, and the empty
/// tagged-field section of header v1).
fn prefix_and_header_len(header_version: i16) -> usize {
    if header_version >= 1 { 9 } else { 8 }
}

/// Appends one whole response frame (size prefix included) for `body` at `version`,
/// reserving its exact size first (kafka-protocol's `compute_size`), so a buffer with no
/// spare room grows once, not by doublings while the records are copied in.
pub fn encode_response_into<R: Encodable + HeaderVersion>(
    out: &mut BytesMut,
    correlation_id: i32,
    version: i16,
    body: &R,
) -> Result<(), EncodeError> {
    let header_version = R::header_version(version);
    let body_size = body
        .compute_size(version)
        .map_err(|e| EncodeError(e.to_string()))?;
    out.reserve(prefix_and_header_len(header_version) + body_size);
    write_frame(out, correlation_id, version, header_version, body)
}

fn write_frame<R: Encodable>(
    out: &mut BytesMut,
    correlation_id: i32,
    version: i16,
    header_version: i16,
    body: &R,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_i32(0); // size, patched below
    out.put_i32(correlation_id);
    if header_version >= 1 {
        out.put_u8(0); // no tagged fields in the response header
    }
    if let Err(e) = body.encode(out, version) {
        out.truncate(start);
        return Err(EncodeError(e.to_string()));
    }
    let size = out.len() - start - 4;
    let Ok(size) = i32::try_from(size) else {
        out.truncate(start);
        return Err(EncodeError(format!("response of {size} bytes exceeds i32")));
    };
    if let Some(prefix) = out.get_mut(start..start + 4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

/// Encodes one whole response frame (size prefix included) into a new buffer allocated
/// once at the frame's final size.
pub fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    body: &R,
) -> Result<BytesMut, EncodeError> {
    let header_version = R::header_version(version);
    let body_size = body
        .compute_size(version)
        .map_err(|e| EncodeError(e.to_string()))?;
    let mut out = BytesMut::with_capacity(prefix_and_header_len(header_version) + body_size);
    write_frame(&mut out, correlation_id, version, header_version, body)?;
    Ok(out)
}

/// The ApiVersions response listing every advertised row of `versions::API_TABLE`.
/// `_version` is the request version; the body is the same for all of them.
pub fn api_versions_response(_version: i16) -> ApiVersionsResponse {
    let api_keys = versions::advertised()
        .map(|r| {
            ApiVersion::default()
                .with_api_key(r.key as i16)
                .with_min_version(r.min)
                .with_max_version(r.max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(NONE)
        .with_api_keys(api_keys)
}

/// The whole frame answering an ApiVersions request of a version pipit does not serve:
/// encoded as v0, error UNSUPPORTED_VERSION, with the full list of supported ranges.
pub fn unsupported_api_versions_response(correlation_id: i32) -> Result<BytesMut, EncodeError> {
    let body = api_versions_response(0).with_error_code(ErrorCode::UnsupportedVersion.code());
    encode_response(correlation_id, 0, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::protocol::Decodable;

    #[test]
    fn api_versions_v3_writes_no_tagged_fields() {
        let frame = encode_response(7, 3, &api_versions_response(3)).expect("encodes");
        // size, correlation id, then the body directly: ApiVersions uses header v0.
        assert_eq!(frame.get(4..8), Some(&7i32.to_be_bytes()[..]));
        let body = frame.get(8..).unwrap_or_default();
        // v3 body: error_code, api_keys (compact), throttle_time_ms, tagged-field count.
        assert_eq!(body.get(0..2), Some(&[0u8, 0][..]));
        assert_eq!(
            body.last(),
            Some(&0),
            "trailing tagged-field count must be 0"
        );
        let n = versions::advertised().count();
        // 2 + 1 (compact count < 128) + n × (2+2+2+1) + 4 + 1
        assert_eq!(body.len(), 2 + 1 + n * 7 + 4 + 1);
        let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        assert_eq!(size as usize, frame.len() - 4);
    }

    #[test]
    fn api_versions_lists_exactly_the_advertised_table() {
        let r = api_versions_response(3);
        let listed: Vec<(i16, i16, i16)> = r
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        let table: Vec<(i16, i16, i16)> = versions::advertised()
            .map(|r| (r.key as i16, r.min, r.max))
            .collect();
        assert_eq!(listed, table);
        assert!(listed.contains(&(ApiKey::Produce as i16, 0, 9)));
        assert!(listed.contains(&(ApiKey::InitProducerId as i16, 0, 4)));
    }

    #[test]
    fn unsupported_api_versions_is_v0_with_error_35() {
        let frame = unsupported_api_versions_response(42).expect("encodes");
        assert_eq!(frame.get(4..8), Some(&42i32.to_be_bytes()[..]));
        let mut body = bytes::Bytes::copy_from_slice(frame.get(8..).unwrap_or_default());
        assert_eq!(body.get(0..2), Some(&35i16.to_be_bytes()[..]));
        // v0 layout: error_code, i32 array count, (key, min, max) per entry, nothing else.
        let n = versions::advertised().count();
        assert_eq!(body.len(), 2 + 4 + n * 6);
        let decoded = ApiVersionsResponse::decode(&mut body, 0).expect("decodes as v0");
        assert_eq!(decoded.api_keys, api_versions_response(0).api_keys);
    }

    #[test]
    fn flexible_responses_get_header_v1() {
        use kafka_protocol::messages::MetadataResponse;
        let v9 = encode_response(1, 9, &MetadataResponse::default()).expect("encodes");
        let v8 = encode_response(1, 8, &MetadataResponse::default()).expect("encodes");
        assert_eq!(v9.get(8), Some(&0), "header tagged-field count");
        let body_v9 = MetadataResponse::decode(&mut bytes::Bytes::copy_from_slice(&v9[9..]), 9);
        assert!(body_v9.is_ok());
        let body_v8 = MetadataResponse::decode(&mut bytes::Bytes::copy_from_slice(&v8[8..]), 8);
        assert!(body_v8.is_ok());
    }

    #[test]
    fn a_large_fetch_response_is_allocated_once_at_its_final_size() {
        use kafka_protocol::messages::FetchResponse;
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        let partitions = (0..8)
            .map(|i| {
                PartitionData::default()
                    .with_partition_index(i)
                    .with_records(Some(bytes::Bytes::from(vec![7u8; 300_000])))
            })
            .collect();
        let topic = FetchableTopicResponse::default()
            .with_topic(kafka_protocol::messages::TopicName(
                kafka_protocol::protocol::StrBytes::from_static_str("t"),
            ))
            .with_partitions(partitions);
        let resp = FetchResponse::default().with_responses(vec![topic]);
        for v in [4, 11, 12] {
            let frame = encode_response(3, v, &resp).expect("encodes");
            assert!(frame.len() > 8 * 300_000, "v{v}");
            assert_eq!(frame.capacity(), frame.len(), "v{v}: the buffer grew");
        }
    }
}
