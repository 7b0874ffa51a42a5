//! What the client knows about the cluster: brokers, topics, leaders, and a connection pool.
//!
//! [`Cluster::connect`] tries each bootstrap server in turn and keeps the first that
//! answers; after that every broker is reached by the id and address the Metadata
//! response gave. [`Cluster::refresh`] re-reads metadata for some topics (or all) and
//! replaces the cached view; callers refresh after a "not leader" or I/O error.
//! Connections are shared (`Arc<Mutex<Conn>>`): one request at a time per connection,
//! any number of brokers in parallel. A connection that failed is dropped with
//! [`Cluster::drop_conn`] and reopened on next use.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use smol::lock::Mutex;

use super::config::ClientConfig;
use super::conn::{ClientError, Conn};

/// Kafka's UNKNOWN_TOPIC_OR_PARTITION.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = ResponseError::UnknownTopicOrPartition.code();

/// One partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionMeta {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub error_code: i16,
}

/// One topic as Metadata describes it; partitions sorted by index.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMeta {
    pub name: String,
    /// The 16-byte topic id (all zero when the broker has none).
    pub topic_id: [u8; 16],
    pub error_code: i16,
    pub is_internal: bool,
    pub partitions: Vec<PartitionMeta>,
}

/// A shared connection to one broker.
pub type SharedConn = Arc<Mutex<Conn>>;

/// Cached metadata plus one connection per broker.
pub struct Cluster {
    config: ClientConfig,
    bootstrap: SharedConn,
    bootstrap_broken: bool,
    brokers: HashMap<i32, String>,
    controller: i32,
    topics: HashMap<String, TopicMeta>,
    conns: HashMap<i32, SharedConn>,
}

impl Cluster {
    /// Connects to the first reachable bootstrap server and reads the broker list.
    pub async fn connect(config: &ClientConfig) -> Result<Cluster, ClientError> {
        let mut tried = Vec::new();
        for addr in &config.bootstrap_servers {
            match Conn::connect(addr, &config.client_id, config.request_timeout).await {
                Ok(conn) => {
                    let mut cluster = Cluster {
                        config: config.clone(),
                        bootstrap: Arc::new(Mutex::new(conn)),
                        bootstrap_broken: false,
                        brokers: HashMap::new(),
                        controller: -1,
                        topics: HashMap::new(),
                        conns: HashMap::new(),
                    };
                    cluster.metadata(Some(&[]), false).await?;
                    return Ok(cluster);
                }
                Err(ClientError::Io { addr, message }) => tried.push(format!("{addr}: {message}")),
                Err(ClientError::Timeout { addr, .. }) => tried.push(format!(
                    "{addr}: no answer within {:?}",
                    config.request_timeout
                )),
                Err(e) => tried.push(format!("{addr}: {e}")),
            }
        }
        Err(ClientError::NoBroker { tried })
    }

    /// The settings this cluster view was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends Metadata for `topics` (None = all) and replaces the cache with the answer.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<MetadataResponse, ClientError> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(auto_create);
        let conn = self.any_conn().await?;
        let resp = {
            let mut c = conn.lock().await;
            c.send(&req).await
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.forget(&conn);
                return Err(e);
            }
        };
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        self.controller = resp.controller_id.0;
        for t in &resp.topics {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            let mut partitions: Vec<PartitionMeta> = t
                .partitions
                .iter()
                .map(|p| PartitionMeta {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    error_code: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let meta = TopicMeta {
                name: name.clone(),
                topic_id: *t.topic_id.as_bytes(),
                error_code: t.error_code,
                is_internal: t.is_internal,
                partitions,
            };
            if t.error_code == UNKNOWN_TOPIC_OR_PARTITION {
                self.topics.remove(&name);
            } else {
                self.topics.insert(name, meta);
            }
        }
        Ok(resp)
    }

    /// Refreshes `topics` and fails with `UnknownTopic` for one the broker does not have.
    pub async fn refresh(
        &mut self,
        topics: &[String],
        auto_create: bool,
    ) -> Result<(), ClientError> {
        let resp = self.metadata(Some(topics), auto_create).await?;
        for t in &resp.topics {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            match t.error_code {
                0 => {}
                UNKNOWN_TOPIC_OR_PARTITION => return Err(ClientError::UnknownTopic(name)),
                code => return Err(ClientError::kafka(code, Some(&format!("topic '{name}'")))),
            }
        }
        Ok(())
    }

    /// The cached view of `topic`, if any.
    pub fn topic(&self, topic: &str) -> Option<&TopicMeta> {
        self.topics.get(topic)
    }

    /// The controller's broker id from the last Metadata (-1 if unknown).
    pub fn controller(&self) -> i32 {
        self.controller
    }

    /// Known brokers, id → host:port.
    pub fn brokers(&self) -> &HashMap<i32, String> {
        &self.brokers
    }

    /// The leader of `topic`/`partition` from the cache.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
    }

    /// A connection to any broker: the bootstrap one while it works, else another.
    pub async fn any_conn(&mut self) -> Result<SharedConn, ClientError> {
        if !self.bootstrap_broken {
            return Ok(self.bootstrap.clone());
        }
        let mut last = ClientError::NoBroker { tried: Vec::new() };
        let mut ids: Vec<i32> = self.brokers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            match self.conn(id).await {
                Ok(c) => {
                    self.bootstrap = c.clone();
                    self.bootstrap_broken = false;
                    return Ok(c);
                }
                Err(e) => last = e,
            }
        }
        for addr in self.config.bootstrap_servers.clone() {
            match Conn::connect(&addr, &self.config.client_id, self.config.request_timeout).await {
                Ok(c) => {
                    self.bootstrap = Arc::new(Mutex::new(c));
                    self.bootstrap_broken = false;
                    return Ok(self.bootstrap.clone());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A connection to the controller, or to any broker when it is unknown.
    pub async fn controller_conn(&mut self) -> Result<SharedConn, ClientError> {
        if self.controller >= 0 && self.brokers.contains_key(&self.controller) {
            self.conn(self.controller).await
        } else {
            self.any_conn().await
        }
    }

    /// The connection to broker `id`, opened on first use.
    pub async fn conn(&mut self, id: i32) -> Result<SharedConn, ClientError> {
        if let Some(c) = self.conns.get(&id) {
            return Ok(c.clone());
        }
        let addr = self
            .brokers
            .get(&id)
            .cloned()
            .ok_or_else(|| ClientError::Protocol {
                addr: String::new(),
                message: format!("broker {id} is not in the metadata"),
            })?;
        let conn =
            Conn::connect(&addr, &self.config.client_id, self.config.request_timeout).await?;
        let shared = Arc::new(Mutex::new(conn));
        self.conns.insert(id, shared.clone());
        Ok(shared)
    }

    /// Forgets the connection to broker `id` (after an I/O error); the next use reconnects.
    pub fn drop_conn(&mut self, id: i32) {
        if let Some(c) = self.conns.remove(&id) {
            self.forget(&c);
        }
    }

    fn forget(&mut self, conn: &SharedConn) {
        self.conns.retain(|_, c| !Arc::ptr_eq(c, conn));
        if Arc::ptr_eq(conn, &self.bootstrap) {
            self.bootstrap_broken = true;
        }
    }
}

/// Kafka prints topic ids as URL-safe base64 without padding (`Uuid.toString()`).
pub fn topic_id_string(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in id.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_print_as_kafka_does() {
        assert_eq!(topic_id_string(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        // Uuid 0xffffffff..ff in Java: "_____________________w".
        assert_eq!(topic_id_string(&[0xff; 16]), "_____________________w");
    }

    #[test]
    fn unreachable_bootstrap_server_is_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let config = ClientConfig {
            bootstrap_servers: vec![format!("127.0.0.1:{port}")],
            ..ClientConfig::default()
        };
        let err = smol::block_on(Cluster::connect(&config))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                format!("cannot connect to bootstrap server 127.0.0.1:{port}: connection refused")
                    .as_str()
            )
        );
    }
}
