//! DescribeCluster (v0–v1): this broker is the whole cluster and its controller.
//!
//! Only broker endpoints exist (endpoint type 1); a v1 request for controller endpoints
//! (type 2, KRaft controllers) gets UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers.
//! Authorized operations are reported only when asked for; with no authorizer, all are allowed.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::*;

use super::metadata::{AUTH_OPS_OMITTED, CLUSTER_OPS_ALL, sb, self_id};
use crate::server::broker::Broker;

/// Kafka's DescribeCluster endpoint type for brokers.
const ENDPOINT_BROKERS: i8 = 1;
/// Kafka's UNSUPPORTED_ENDPOINT_TYPE (119); only this handler produces it.
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 119;

pub fn describe(b: &Arc<Broker>, v: i16, r: DescribeClusterRequest) -> DescribeClusterResponse {
    let me = self_id(b);
    let ops = if r.include_cluster_authorized_operations {
        CLUSTER_OPS_ALL
    } else {
        AUTH_OPS_OMITTED
    };
    let resp = DescribeClusterResponse::default()
        .with_error_code(0)
        .with_error_message(None)
        .with_cluster_id(sb(b.cluster_id.clone()))
        .with_controller_id(me)
        .with_cluster_authorized_operations(ops);
    // v0 has no endpoint type and its encoder refuses anything but brokers.
    if v >= 1 && r.endpoint_type != ENDPOINT_BROKERS {
        return resp
            .with_endpoint_type(r.endpoint_type)
            .with_error_code(UNSUPPORTED_ENDPOINT_TYPE)
            .with_error_message(Some(sb(format!(
                "endpoint type {} is not served: pipit has broker endpoints (1) only",
                r.endpoint_type
            ))))
            .with_controller_id(BrokerId(-1));
    }
    let broker = DescribeClusterBroker::default()
        .with_broker_id(me)
        .with_host(sb(b.advertised.host.clone()))
        .with_port(i32::from(b.advertised.port))
        .with_rack(None);
    resp.with_endpoint_type(ENDPOINT_BROKERS)
        .with_brokers(vec![broker])
}

#[cfg(test)]
mod tests {
    use super::super::metadata::test_support::{broker, encodes};
    use super::*;

    #[test]
    fn this_broker_is_the_cluster_and_its_controller() {
        let b = broker("cluster");
        for v in 0..=1 {
            let resp = describe(
                &b,
                v,
                DescribeClusterRequest::default().with_endpoint_type(1),
            );
            encodes(v, &resp);
            assert_eq!(
                (
                    resp.error_code,
                    resp.controller_id,
                    resp.cluster_id.as_str()
                ),
                (0, BrokerId(7), b.cluster_id.as_str())
            );
            let ids: Vec<(BrokerId, i32)> =
                resp.brokers.iter().map(|x| (x.broker_id, x.port)).collect();
            assert_eq!(ids, vec![(BrokerId(7), 19092)]);
            assert_eq!(resp.cluster_authorized_operations, AUTH_OPS_OMITTED);
        }
        let resp = describe(
            &b,
            1,
            DescribeClusterRequest::default().with_endpoint_type(2),
        );
        encodes(1, &resp);
        assert_eq!(resp.error_code, UNSUPPORTED_ENDPOINT_TYPE);
    }
}
