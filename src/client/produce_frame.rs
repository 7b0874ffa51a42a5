//! Produce request frames without copying the record batches.
//!
//! [`encode_produce`] writes a whole size-prefixed Produce request (v3–v12, header
//! v1 or v2) into a small buffer, leaving each partition's `records` out as a
//! [`Splice`]: the batch's `Bytes` and where it belongs. [`write_spliced`] then
//! writes buffer and batches with vectored writes. The bytes on the wire are exactly
//! what `kafka_protocol` encodes for the same request (a test compares them), but a
//! megabyte batch is never copied into a request buffer. Owns nothing else: the
//! version is negotiated by `conn`, responses are read there.

use std::io::IoSlice;

use bytes::Bytes;
use kafka_protocol::messages::ProduceRequest;
use smol::io::{AsyncWrite, AsyncWriteExt};

/// Lowest Produce version encoded here (the first that carries RecordBatch v2).
pub const MIN_VERSION: i16 = 3;
/// Highest Produce version encoded here (v13 addresses topics by id).
pub const MAX_VERSION: i16 = 12;
/// First flexible (compact, tagged-field) Produce version.
const FIRST_FLEXIBLE: i16 = 9;

/// A batch that goes into the frame at byte `at` of the small buffer.
pub type Splice = (usize, Bytes);

/// Encodes `req` as a complete frame (size prefix included) into `buf` and
/// `splices`, both cleared first. `version` must be in `MIN_VERSION..=MAX_VERSION`.
pub fn encode_produce(
    buf: &mut Vec<u8>,
    splices: &mut Vec<Splice>,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    req: &ProduceRequest,
) {
    debug_assert!((MIN_VERSION..=MAX_VERSION).contains(&version));
    let flexible = version >= FIRST_FLEXIBLE;
    buf.clear();
    splices.clear();
    buf.extend_from_slice(&[0; 4]); // size, filled in at the end
    // Request header v1 (v2 adds tagged fields); client_id is never compact.
    buf.extend_from_slice(&0i16.to_be_bytes()); // api key: Produce
    buf.extend_from_slice(&version.to_be_bytes());
    buf.extend_from_slice(&correlation_id.to_be_bytes());
    buf.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    buf.extend_from_slice(client_id.as_bytes());
    tagged(buf, flexible);
    let transactional_id = req.transactional_id.as_ref().map(|t| t.0.as_bytes());
    string(buf, flexible, transactional_id);
    buf.extend_from_slice(&req.acks.to_be_bytes());
    buf.extend_from_slice(&req.timeout_ms.to_be_bytes());
    array_len(buf, flexible, req.topic_data.len());
    for topic in &req.topic_data {
        string(buf, flexible, Some(topic.name.0.as_bytes()));
        array_len(buf, flexible, topic.partition_data.len());
        for p in &topic.partition_data {
            buf.extend_from_slice(&p.index.to_be_bytes());
            bytes_len(buf, flexible, p.records.as_ref().map(|r| r.len()));
            if let Some(records) = &p.records {
                splices.push((buf.len(), records.clone()));
            }
            tagged(buf, flexible);
        }
        tagged(buf, flexible);
    }
    tagged(buf, flexible);
    let total = buf.len() + splices.iter().map(|(_, b)| b.len()).sum::<usize>();
    let size = ((total - 4) as u32).to_be_bytes();
    if let Some(dst) = buf.get_mut(..4) {
        dst.copy_from_slice(&size);
    }
}

/// Writes the frame `encode_produce` made: `buf` with each splice inserted.
pub async fn write_spliced<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    splices: &[Splice],
) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(2 * splices.len() + 1);
    let mut from = 0;
    for (at, bytes) in splices {
        slices.push(IoSlice::new(buf.get(from..*at).unwrap_or_default()));
        slices.push(IoSlice::new(bytes));
        from = *at;
    }
    slices.push(IoSlice::new(buf.get(from..).unwrap_or_default()));
    slices.retain(|s| !s.is_empty());
    let mut rest = &mut slices[..];
    // Each round writes at least one byte or fails, so this ends.
    while !rest.is_empty() {
        let n = w.write_vectored(rest).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

/// A nullable string: compact (uvarint len+1, 0 = null) when flexible, else i16 length (-1 = null).
fn string(buf: &mut Vec<u8>, flexible: bool, s: Option<&[u8]>) {
    match (flexible, s) {
        (true, None) => uvarint(buf, 0),
        (true, Some(s)) => uvarint(buf, s.len() as u64 + 1),
        (false, None) => buf.extend_from_slice(&(-1i16).to_be_bytes()),
        (false, Some(s)) => buf.extend_from_slice(&(s.len() as i16).to_be_bytes()),
    }
    buf.extend_from_slice(s.unwrap_or_default());
}

/// The length prefix of nullable bytes: compact when flexible, else i32 (-1 = null).
fn bytes_len(buf: &mut Vec<u8>, flexible: bool, len: Option<usize>) {
    match (flexible, len) {
        (true, None) => uvarint(buf, 0),
        (true, Some(n)) => uvarint(buf, n as u64 + 1),
        (false, None) => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        (false, Some(n)) => buf.extend_from_slice(&(n as i32).to_be_bytes()),
    }
}

fn array_len(buf: &mut Vec<u8>, flexible: bool, n: usize) {
    if flexible {
        uvarint(buf, n as u64 + 1);
    } else {
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    }
}

/// An empty tagged-field section (flexible versions only).
fn tagged(buf: &mut Vec<u8>, flexible: bool) {
    if flexible {
        buf.push(0);
    }
}

fn uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{RequestHeader, TopicName, TransactionalId};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn request(transactional: bool) -> ProduceRequest {
        let batch = |n: u8, len: usize| Some(Bytes::from(vec![n; len]));
        let topic = |name: &str, parts: Vec<PartitionProduceData>| {
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(name.into())))
                .with_partition_data(parts)
        };
        let part = |i: i32, r: Option<Bytes>| {
            PartitionProduceData::default()
                .with_index(i)
                .with_records(r)
        };
        ProduceRequest::default()
            .with_transactional_id(
                transactional.then(|| TransactionalId(StrBytes::from_static_str("tx-1"))),
            )
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                topic("a", vec![part(0, batch(1, 70_000)), part(3, None)]),
                topic(
                    "topic-b",
                    vec![part(1, batch(2, 61)), part(2, batch(3, 200))],
                ),
            ])
    }

    /// What kafka_protocol puts on the wire for the same request.
    fn reference(version: i16, req: &ProduceRequest) -> Vec<u8> {
        let header = RequestHeader::default()
            .with_request_api_key(0)
            .with_request_api_version(version)
            .with_correlation_id(77)
            .with_client_id(Some(StrBytes::from_static_str("pipit")));
        let mut buf = vec![0u8; 4];
        kafka_protocol::protocol::encode_request_header_into_buffer(&mut buf, &header).unwrap();
        req.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as u32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        buf
    }

    #[test]
    fn spliced_frames_are_byte_identical_to_kafka_protocol_for_every_version() {
        for version in MIN_VERSION..=MAX_VERSION {
            for transactional in [false, true] {
                let req = request(transactional);
                let (mut buf, mut splices) = (Vec::new(), Vec::new());
                encode_produce(&mut buf, &mut splices, version, 77, "pipit", &req);
                assert_eq!(splices.len(), 3, "v{version}: null records are not spliced");
                let mut wire = Vec::new();
                smol::block_on(write_spliced(&mut wire, &buf, &splices)).unwrap();
                assert!(
                    wire == reference(version, &req),
                    "v{version} transactional={transactional} differs"
                );
                // The batches are shared, not copied into the small buffer.
                assert!(buf.len() < 200, "v{version}: {} bytes copied", buf.len());
            }
        }
    }

    /// Takes at most 7 bytes per write, as a full socket buffer may.
    struct Trickle(Vec<u8>);

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            std::task::Poll::Ready(Ok(n))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let req = request(false);
        let (mut buf, mut splices) = (Vec::new(), Vec::new());
        encode_produce(&mut buf, &mut splices, 9, 77, "pipit", &req);
        let mut w = Trickle(Vec::new());
        smol::block_on(write_spliced(&mut w, &buf, &splices)).unwrap();
        assert!(w.0 == reference(9, &req));
    }
}
