//! FindCoordinator v0–v4: this broker coordinates every group (a single node
//! is its own coordinator). Transactional ids get COORDINATOR_NOT_AVAILABLE:
//! pipit has no transactions.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::protocol::error::ErrorCode;
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
    let code = if req.key_type == KEY_TYPE_TRANSACTION {
        ErrorCode::CoordinatorNotAvailable
    } else {
        ErrorCode::None
    };
    let mut resp = FindCoordinatorResponse::default();
    if version < 4 {
        resp.error_code = code.code();
        resp.node_id = if code == ErrorCode::None {
            me
        } else {
            BrokerId(-1)
        };
        resp.host = host;
        resp.port = port;
        return resp;
    }
    for key in req.coordinator_keys {
        let mut c = Coordinator::default();
        c.key = key;
        c.error_code = code.code();
        c.node_id = if code == ErrorCode::None {
            me
        } else {
            BrokerId(-1)
        };
        c.host = host.clone();
        c.port = port;
        resp.coordinators.push(c);
    }
    resp
}
