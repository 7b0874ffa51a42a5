//! InitProducerId v0–v4: ids for idempotent producers (Kafka ≥ 3.0 clients
//! and kafka-python 3 turn idempotence on by default). A request that names
//! its current id and epoch (v3+, after a producer-side error) gets the same
//! id with the epoch bumped, which resets that producer's sequences on every
//! partition. Transactional ids are refused: pipit has no transactions.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::protocol::error::ErrorCode;
use crate::server::broker::Broker;

pub fn init(
    broker: &Arc<Broker>,
    _version: i16,
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
    if pid >= 0 && (0..i16::MAX).contains(&epoch) {
        resp.producer_id = ProducerId(pid);
        resp.producer_epoch = epoch + 1;
        return resp;
    }
    match broker.allocate_producer_id() {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            log::error!("{}", e.message);
            resp.error_code = e.code.code();
        }
    }
    resp
}
