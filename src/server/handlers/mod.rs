//! Thin request handlers: each turns one decoded request into its response
//! using the broker's API. No business rules live here beyond mapping
//! between Kafka's messages and the broker; errors become Kafka codes here.
//! Handlers that may touch files (create a topic and fallocate its rings,
//! write metadata or the producer-id counter, auto-create from Metadata) run
//! on a file-I/O worker ([`super::rt::io`]), never on an executor thread.

use std::sync::Arc;

use bytes::BytesMut;

use super::broker::Broker;
use super::rt;
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
        Request::Metadata(r) => {
            encode_response(id, v, &on_io(broker, v, r, metadata::handle).await)?
        }
        Request::Produce(r) => match produce::handle(broker, v, r).await {
            Some(resp) => encode_response(id, v, &resp)?,
            None => return Ok(None),
        },
        Request::Fetch(r) => encode_response(id, v, &fetch::handle(broker, v, r).await)?,
        Request::ListOffsets(r) => {
            encode_response(id, v, &list_offsets::handle(broker, v, r).await)?
        }
        Request::CreateTopics(r) => {
            encode_response(id, v, &on_io(broker, v, r, admin::create_topics).await)?
        }
        Request::DeleteTopics(r) => {
            encode_response(id, v, &admin::delete_topics(broker, v, r).await)?
        }
        Request::CreatePartitions(r) => {
            encode_response(id, v, &on_io(broker, v, r, admin::create_partitions).await)?
        }
        Request::DescribeConfigs(r) => encode_response(id, v, &configs::describe(broker, v, r))?,
        Request::AlterConfigs(r) => {
            encode_response(id, v, &on_io(broker, v, r, configs::alter).await)?
        }
        Request::IncrementalAlterConfigs(r) => encode_response(
            id,
            v,
            &on_io(broker, v, r, configs::incremental_alter).await,
        )?,
        Request::FindCoordinator(r) => encode_response(id, v, &coordinator::find(broker, v, r))?,
        Request::DescribeCluster(r) => encode_response(id, v, &cluster::describe(broker, v, r))?,
        Request::InitProducerId(r) => {
            encode_response(id, v, &on_io(broker, v, r, producer_id::init).await)?
        }
    };
    Ok(Some(frame))
}

/// Runs a handler that may do file I/O on a file-I/O worker.
async fn on_io<Req: Send + 'static, Resp: Send + 'static>(
    broker: &Arc<Broker>,
    v: i16,
    req: Req,
    handler: fn(&Arc<Broker>, i16, Req) -> Resp,
) -> Resp {
    let b = broker.clone();
    rt::io(move || handler(&b, v, req)).await
}
