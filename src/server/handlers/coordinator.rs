//! FindCoordinator v0–v4: this broker coordinates every group (a single node
//! is its own coordinator). Transactional ids get COORDINATOR_NOT_AVAILABLE:
//! pipit has no transactions.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::protocol::error::{ErrorCode, wire};
use crate::server::broker::Broker;

/// Kafka's CoordinatorType for transactions.
const KEY_TYPE_TRANSACTION: i8 = 1;

pub fn find(
    broker: &Arc<Broker>,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let me = BrokerId(broker.config.broker_id);
    let host = StrBytes::from_string(broker.advertised.host.clone());
    let port = broker.advertised.port as i32;
    let error =
        (req.key_type == KEY_TYPE_TRANSACTION).then_some(ErrorCode::CoordinatorNotAvailable);
    let node_id = if error.is_none() { me } else { BrokerId(-1) };
    let mut resp = FindCoordinatorResponse::default();
    if version < 4 {
        resp.error_code = wire(error);
        resp.node_id = node_id;
        resp.host = host;
        resp.port = port;
        return resp;
    }
    for key in req.coordinator_keys {
        let mut c = Coordinator::default();
        c.key = key;
        c.error_code = wire(error);
        c.node_id = node_id;
        c.host = host.clone();
        c.port = port;
        resp.coordinators.push(c);
    }
    resp
}
