//! InitProducerId v0–v4: ids for idempotent producers (Kafka ≥ 3.0 clients
//! and kafka-python 3 turn idempotence on by default). Transactional ids are
//! refused: pipit has no transactions.
//!
//! A request that names its current id and epoch (v3+, KIP-360, after a
//! producer-side error) is validated by `log/producer_ids.rs`: the current
//! epoch is bumped for the same id (which resets that producer's sequences
//! on every partition); a repeat of the last bump gets the same answer; an id
//! this broker never handed out, or any other epoch, is fenced:
//! PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH before (as Kafka converts
//! it for older clients). A known id whose epoch the broker no longer knows
//! gets a fresh id. Naming only one of id and epoch is INVALID_REQUEST.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::error::ErrorCode;
use crate::server::broker::Broker;

pub fn init(
    broker: &Arc<Broker>,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        resp.error_code = ErrorCode::TransactionalIdAuthorizationFailed.code();
        log::info!("InitProducerId with a transactional id: transactions are not supported");
        return resp;
    }
    let (pid, epoch) = (req.producer_id.0, req.producer_epoch);
    let result = match (pid, epoch) {
        (-1, -1) => broker.producer_ids().allocate().map(|id| Ok((id, 0))),
        (id, e) if id >= 0 && e >= 0 => broker.producer_ids().bump(id, e),
        _ => {
            resp.error_code = ErrorCode::InvalidRequest.code();
            return resp;
        }
    };
    match result {
        Ok(Ok((id, e))) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = e;
        }
        Ok(Err(refused)) => {
            log::debug!("InitProducerId: {refused}");
            resp.error_code = if version >= 4 {
                ErrorCode::ProducerFenced.code()
            } else {
                ErrorCode::InvalidProducerEpoch.code()
            };
        }
        Err(e) => {
            crate::server::log_limit::log(
                crate::server::log_limit::Kind::StorageRefused,
                log::Level::Error,
                format_args!("InitProducerId refused: producer ids: {e}"),
            );
            resp.error_code = ErrorCode::KafkaStorageError.code();
        }
    }
    resp
}
