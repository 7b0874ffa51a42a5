//! Produce v3+: one RecordBatch v2 per partition, validated, appended by the
//! partition's owner. acks=0 gets no response at all; acks=1 and acks=all
//! wait for the batch to be durable under `log.durability=fsync` (a single
//! broker is its own ISR, so the two are the same here), except that acks=all
//! on a topic whose `min.insync.replicas` is above the ISR size (1 on a single
//! broker) gets NOT_ENOUGH_REPLICAS with nothing written, as in Kafka.
//!
//! A topic whose `compression.type` is not `producer` stores every batch
//! under that codec: a batch in another codec is recompressed (records kept
//! byte for byte, new CRC; see `protocol::records::recompress`) off the
//! executor before the append, and must still fit `max.message.bytes`.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use crate::log::topic_config::CompressionType;
use crate::protocol::error::{ErrorCode, NONE};
use crate::protocol::records::compression::Compression;
use crate::protocol::records::{BROKER_DECOMPRESSED_MAX, recompress};
use crate::server::broker::Broker;
use crate::storage::batch::{BatchHeader, header_bytes};

/// In-sync replicas of every partition: a single broker is the whole ISR.
const ISR_SIZE: u16 = 1;

/// Kafka's check before a leader appends: acks=all needs `min.insync.replicas`
/// in-sync replicas (acks=0 and acks=1 do not look at it).
fn check_min_insync(
    acks: i16,
    min_insync_replicas: u16,
    topic: &str,
    partition: i32,
) -> Result<(), (ErrorCode, String)> {
    if acks == -1 && ISR_SIZE < min_insync_replicas {
        return Err((
            ErrorCode::NotEnoughReplicas,
            format!(
                "{topic}-{partition}: {ISR_SIZE} in-sync replica is fewer than min.insync.replicas={min_insync_replicas} needed by acks=all; nothing was written"
            ),
        ));
    }
    Ok(())
}

/// The codec a topic's `compression.type` stores batches in; `None` for
/// `producer` (keep the producer's).
fn stored_codec(c: CompressionType) -> Option<Compression> {
    match c {
        CompressionType::Producer => None,
        CompressionType::Uncompressed => Some(Compression::None),
        CompressionType::Gzip => Some(Compression::Gzip),
        CompressionType::Snappy => Some(Compression::Snappy),
        CompressionType::Lz4 => Some(Compression::Lz4),
        CompressionType::Zstd => Some(Compression::Zstd),
    }
}

/// The batch to append: `records` as sent, or recompressed to `target`.
async fn batch_for_topic(
    records: bytes::Bytes,
    target: Option<Compression>,
    max_message_bytes: u32,
) -> Result<bytes::Bytes, (ErrorCode, String)> {
    let Some(target) = target else {
        return Ok(records);
    };
    // Codecs take milliseconds per MB on a Pi: off the executor.
    let redone = smol::unblock(move || {
        recompress(&records, target, BROKER_DECOMPRESSED_MAX).map(|b| (b, records))
    })
    .await
    .map_err(|e| {
        (
            ErrorCode::CorruptMessage,
            format!("cannot recompress to compression.type={target}: {e}"),
        )
    })?;
    let batch = match redone {
        (Some(b), _) => bytes::Bytes::from(b),
        (None, records) => records,
    };
    if batch.len() > max_message_bytes as usize {
        return Err((
            ErrorCode::MessageTooLarge,
            format!(
                "batch of {} bytes after recompression to {target} exceeds max.message.bytes {max_message_bytes}",
                batch.len()
            ),
        ));
    }
    Ok(batch)
}

/// Checks what the storage layer does not: one whole batch, codec, flags,
/// size against the topic's `max.message.bytes`.
fn precheck(
    records: &[u8],
    max_message_bytes: u32,
    version: i16,
) -> Result<(), (ErrorCode, String)> {
    if records.len() > max_message_bytes as usize {
        return Err((
            ErrorCode::MessageTooLarge,
            format!(
                "batch of {} bytes exceeds max.message.bytes {max_message_bytes}",
                records.len()
            ),
        ));
    }
    let head = header_bytes(records).ok_or((
        ErrorCode::CorruptMessage,
        "records shorter than a batch header".into(),
    ))?;
    let h = BatchHeader::parse(head).map_err(|e| {
        (
            ErrorCode::CorruptMessage,
            format!("invalid record batch: {e:?}"),
        )
    })?;
    if h.total_len() != records.len() {
        return Err((
            ErrorCode::InvalidRequest,
            "Produce v3+ must carry exactly one record batch per partition".into(),
        ));
    }
    if h.codec() > 4 {
        return Err((
            ErrorCode::UnsupportedCompressionType,
            format!("unknown compression codec {}", h.codec()),
        ));
    }
    if h.codec() == 4 && version < 7 {
        return Err((
            ErrorCode::UnsupportedCompressionType,
            "zstd needs Produce v7 or later".into(),
        ));
    }
    if h.is_transactional() || h.is_control() {
        return Err((
            ErrorCode::InvalidRequest,
            "transactions are not supported by pipit".into(),
        ));
    }
    Ok(())
}

/// An idempotent batch must carry an id this broker handed out (see
/// `log/producer_state.rs` for the rules after that).
fn check_producer_id(broker: &Broker, records: &[u8]) -> Result<(), String> {
    let pid = header_bytes(records)
        .and_then(|h| BatchHeader::parse(h).ok())
        .map_or(-1, |h| h.producer_id);
    if pid >= 0 && !broker.producer_ids().issued(pid) {
        return Err(format!(
            "producer id {pid} was never handed out by this broker (use InitProducerId)"
        ));
    }
    Ok(())
}

fn partition_error(
    index: i32,
    code: ErrorCode,
    message: Option<String>,
) -> PartitionProduceResponse {
    partition_response(index, code.code(), message)
}

fn partition_response(
    index: i32,
    error_code: i16,
    message: Option<String>,
) -> PartitionProduceResponse {
    let mut p = PartitionProduceResponse::default();
    p.index = index;
    p.error_code = error_code;
    p.base_offset = -1;
    p.log_append_time_ms = -1;
    p.log_start_offset = -1;
    p.error_message = message.map(StrBytes::from_string);
    p
}

/// Handles one Produce request; `None` for acks=0 (no response is sent).
pub async fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let mut tasks = Vec::new();
    for topic in req.topic_data {
        let name = topic.name.0.to_string();
        let t = broker.topic(&name);
        let mut parts = Vec::new();
        for pd in topic.partition_data {
            let index = pd.index;
            let handle = t
                .as_ref()
                .map_or(Err(ErrorCode::UnknownTopicOrPartition), |t| {
                    t.partition(index)
                });
            let (max, min_insync, codec) = t
                .as_ref()
                .and_then(|t| {
                    let c = t.config.lock().ok()?;
                    let v = c.values();
                    Some((
                        v.max_message_bytes,
                        v.min_insync_replicas,
                        stored_codec(v.compression_type),
                    ))
                })
                .unwrap_or((0, 1, None));
            let topic_name = name.clone();
            let broker = broker.clone();
            let task = crate::server::rt::spawn(async move {
                if !matches!(acks, -1..=1) {
                    return partition_error(index, ErrorCode::InvalidRequiredAcks, None);
                }
                let handle = match handle {
                    Ok(h) => h,
                    Err(code) => return partition_error(index, code, None),
                };
                let Some(records) = pd.records else {
                    return partition_error(
                        index,
                        ErrorCode::CorruptMessage,
                        Some("no records".into()),
                    );
                };
                if let Err((code, msg)) = precheck(&records, max, version)
                    .and_then(|()| check_min_insync(acks, min_insync, &topic_name, index))
                {
                    return partition_error(index, code, Some(msg));
                }
                if let Err(msg) = check_producer_id(&broker, &records) {
                    return partition_error(index, ErrorCode::UnknownProducerId, Some(msg));
                }
                // The batch is not copied: the log writes a stamped copy of its
                // 16-byte prefix and these bytes (a view into the request frame,
                // released once written, before any sync) as one vectored write.
                let batch = match batch_for_topic(records, codec, max).await {
                    Ok(b) => b,
                    Err((code, msg)) => return partition_error(index, code, Some(msg)),
                };
                match handle.append(batch, acks != 0).await {
                    Ok(ok) => {
                        let mut p = partition_response(index, NONE, None);
                        p.base_offset = ok.base_offset;
                        p.log_start_offset = ok.log_start;
                        p
                    }
                    Err(f) => partition_error(index, f.code, Some(f.message)),
                }
            });
            parts.push(task);
        }
        tasks.push((name, parts));
    }
    let mut resp = ProduceResponse::default();
    for (name, parts) in tasks {
        let mut tr = TopicProduceResponse::default();
        tr.name = StrBytes::from_string(name).into();
        for p in parts {
            tr.partition_responses.push(p.await);
        }
        resp.responses.push(tr);
    }
    (acks != 0).then_some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::build_test_batch;

    #[test]
    fn acks_all_needs_min_insync_replicas_and_other_acks_do_not() {
        assert!(check_min_insync(-1, 1, "t", 0).is_ok());
        let (code, msg) = check_min_insync(-1, 2, "t", 3).unwrap_err();
        assert_eq!(code, ErrorCode::NotEnoughReplicas);
        assert!(
            msg.contains("t-3") && msg.contains("min.insync.replicas=2"),
            "{msg}"
        );
        assert!(check_min_insync(1, 2, "t", 0).is_ok());
        assert!(check_min_insync(0, 5, "t", 0).is_ok());
    }

    #[test]
    fn precheck_refuses_two_batches_big_batches_and_old_zstd() {
        let mut b = vec![0u8; 200];
        let n = build_test_batch(&mut b, 100, 1, 0, 1).unwrap();
        let one = &b[..n];
        assert!(precheck(one, 1 << 20, 9).is_ok());
        let mut two = one.to_vec();
        two.extend_from_slice(one);
        assert_eq!(
            precheck(&two, 1 << 20, 9).unwrap_err().0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            precheck(one, 100, 9).unwrap_err().0,
            ErrorCode::MessageTooLarge
        );
        let mut z = one.to_vec();
        z[22] |= 4; // attributes low byte: codec zstd
        assert_eq!(
            precheck(&z, 1 << 20, 6).unwrap_err().0,
            ErrorCode::UnsupportedCompressionType
        );
    }
}
