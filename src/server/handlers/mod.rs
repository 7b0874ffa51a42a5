//! Thin request handlers: each turns one decoded request into its response
//! using the broker's API. No business rules live here beyond mapping
//! between Kafka's messages and the broker; errors become Kafka codes here.

use std::sync::Arc;

use bytes::BytesMut;

use super::broker::Broker;
use crate::protocol::response::EncodeError;
use crate::protocol::{Request, RequestHeaderInfo, api_versions_response, encode_response};

pub mod admin;
pub mod cluster;
pub mod configs;
pub mod coordinator;
pub mod fetch;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
pub mod producer_id;

/// What to send back for one request: a frame, or nothing (acks=0).
pub type Reply = Result<Option<BytesMut>, EncodeError>;

/// Runs the handler for `req` and encodes its response.
pub async fn dispatch(broker: &Arc<Broker>, h: &RequestHeaderInfo, req: Request) -> Reply {
    let v = h.api_version;
    let id = h.correlation_id;
    let frame = match req {
        Request::ApiVersions(_) => encode_response(id, v, &api_versions_response(v))?,
        Request::Metadata(r) => encode_response(id, v, &metadata::handle(broker, v, r))?,
        Request::Produce(r) => match produce::handle(broker, v, r).await {
            Some(resp) => encode_response(id, v, &resp)?,
            None => return Ok(None),
        },
        Request::Fetch(r) => encode_response(id, v, &fetch::handle(broker, v, r).await)?,
        Request::ListOffsets(r) => {
            encode_response(id, v, &list_offsets::handle(broker, v, r).await)?
        }
        Request::CreateTopics(r) => encode_response(id, v, &admin::create_topics(broker, v, r))?,
        Request::DeleteTopics(r) => {
            encode_response(id, v, &admin::delete_topics(broker, v, r).await)?
        }
        Request::CreatePartitions(r) => {
            encode_response(id, v, &admin::create_partitions(broker, v, r))?
        }
        Request::DescribeConfigs(r) => encode_response(id, v, &configs::describe(broker, v, r))?,
        Request::AlterConfigs(r) => encode_response(id, v, &configs::alter(broker, v, r))?,
        Request::IncrementalAlterConfigs(r) => {
            encode_response(id, v, &configs::incremental_alter(broker, v, r))?
        }
        Request::FindCoordinator(r) => encode_response(id, v, &coordinator::find(broker, v, r))?,
        Request::DescribeCluster(r) => encode_response(id, v, &cluster::describe(broker, v, r))?,
        Request::InitProducerId(r) => encode_response(id, v, &producer_id::init(broker, v, r))?,
    };
    Ok(Some(frame))
}
