//! Produce v3+: one RecordBatch v2 per partition, validated, appended by the
//! partition's owner. acks=0 gets no response at all; acks=1 and acks=all
//! wait for the batch to be durable under `log.durability=fsync` (a single
//! broker is its own ISR, so the two are the same here).

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use crate::protocol::error::ErrorCode;
use crate::server::broker::Broker;
use crate::storage::batch::{BatchHeader, header_bytes};

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

fn partition_error(
    index: i32,
    code: ErrorCode,
    message: Option<String>,
) -> PartitionProduceResponse {
    let mut p = PartitionProduceResponse::default();
    p.index = index;
    p.error_code = code.code();
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
            let max = t
                .as_ref()
                .and_then(|t| t.config.lock().ok().map(|c| c.values().max_message_bytes))
                .unwrap_or(0);
            let task = smol::spawn(async move {
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
                if let Err((code, msg)) = precheck(&records, max, version) {
                    return partition_error(index, code, Some(msg));
                }
                // Copy out (the batch is stamped in place) and let the request
                // frame go now, not after the sync: it bounds memory per request.
                let batch = records.to_vec();
                drop(records);
                match handle.append(batch, acks != 0).await {
                    Ok(ok) => {
                        let mut p = partition_error(index, ErrorCode::None, None);
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
