//! One connection to one Kafka broker: framing, correlation ids, version negotiation.
//!
//! [`Conn::connect`] opens a TCP connection (smol), sends ApiVersions and remembers the
//! broker's ranges; [`Conn::send`] then encodes any kafka-protocol request at
//! `min(our max, broker max)` (refusing when the ranges do not overlap), writes one
//! size-prefixed frame and reads exactly one response, checking its correlation id.
//! Requests are sent one at a time per connection, so responses cannot be mixed up.
//! Every connect, write and read is bounded by the request timeout; frames above
//! [`MAX_RESPONSE_BYTES`] are refused before allocation, and every response body is
//! walked by the protocol guard ([`check_response`]) before kafka-protocol decodes it, so
//! a hostile broker's lengths cannot make the decoder allocate more than a small multiple
//! of the frame (a refusal is [`ClientError::BadResponse`]). Errors are typed
//! ([`ClientError`]); Kafka error codes become [`ClientError::Kafka`] only where a
//! caller looks at a response's error field.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bytes::Buf;
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, ProduceRequest, ProduceResponse, RequestHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

use super::produce_frame;
use crate::protocol::guard::{GuardError, Reader, check_response};

/// Largest response frame accepted (Kafka's fetch.max.bytes default is 50 MiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Highest version we speak per API key: topic-name based versions only (Fetch 13+
/// and Produce 13+ address topics by id, which this client does not track).
fn our_max(key: i16) -> i16 {
    match key {
        0 => 12, // Produce
        1 => 12, // Fetch
        2 => 7,  // ListOffsets
        3 => 12, // Metadata
        18 => 3, // ApiVersions
        19 => 7, // CreateTopics
        22 => 4, // InitProducerId
        20 => 5, // DeleteTopics
        32 => 4, // DescribeConfigs
        37 => 3, // CreatePartitions
        44 => 1, // IncrementalAlterConfigs
        _ => 0,
    }
}

/// What can go wrong talking to a broker.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// No bootstrap server answered; `tried` lists `addr: reason` for each.
    NoBroker { tried: Vec<String> },
    /// A socket error on an established or new connection.
    Io { addr: String, message: String },
    /// The broker did not answer within the request timeout.
    Timeout { addr: String, what: String },
    /// The bytes on the wire made no sense (bad frame, decode error, wrong correlation id).
    Protocol { addr: String, message: String },
    /// A response body the guard refused before decoding: a length or count in it cannot
    /// fit in the bytes that follow (or the body is malformed), so decoding it could
    /// allocate without bound.
    BadResponse {
        addr: String,
        api_key: i16,
        api_version: i16,
        reason: GuardError,
    },
    /// The broker does not support a version of this API we can speak.
    Unsupported { addr: String, api_key: i16 },
    /// A Kafka error code from a response.
    Kafka { code: i16, message: String },
    /// The topic does not exist.
    UnknownTopic(String),
    /// A bad client setting: property, value, what is allowed.
    Config(String),
}

impl ClientError {
    /// Errors after which retrying the same request (maybe after a metadata refresh) can work.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Io { .. } | ClientError::Timeout { .. } => true,
            ClientError::Kafka { code, .. } => kafka_protocol::ResponseError::try_from_code(*code)
                .map(|e| e.is_retriable())
                .unwrap_or(false),
            _ => false,
        }
    }

    /// Builds [`ClientError::Kafka`] from a non-zero error code and optional message.
    pub fn kafka(code: i16, message: Option<&str>) -> ClientError {
        let name = kafka_protocol::ResponseError::try_from_code(code)
            .map(|e| e.to_string())
            .unwrap_or_default();
        let message = match message {
            Some(m) if !m.is_empty() => format!("{name}: {m}"),
            _ => name,
        };
        ClientError::Kafka { code, message }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NoBroker { tried } => {
                write!(f, "cannot connect to bootstrap server {}", tried.join(", "))
            }
            ClientError::Io { addr, message } => write!(f, "{addr}: {message}"),
            ClientError::Timeout { addr, what } => {
                write!(f, "{addr}: timed out waiting for {what}")
            }
            ClientError::Protocol { addr, message } => {
                write!(f, "{addr}: protocol error: {message}")
            }
            ClientError::BadResponse {
                addr,
                api_key,
                api_version,
                reason,
            } => write!(
                f,
                "{addr}: refused {} response v{api_version}: {reason}",
                api_name(*api_key)
            ),
            ClientError::Unsupported { addr, api_key } => {
                write!(
                    f,
                    "{addr}: broker supports no usable version of API key {api_key}"
                )
            }
            ClientError::Kafka { code, message } => write!(f, "{message} (error code {code})"),
            ClientError::UnknownTopic(t) => write!(f, "topic '{t}' does not exist"),
            ClientError::Config(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Runs `fut` with a deadline; on expiry returns `Timeout { what }`.
pub async fn with_timeout<T>(
    addr: &str,
    what: &str,
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    let timer = async {
        smol::Timer::after(timeout).await;
        Err(ClientError::Timeout {
            addr: addr.to_string(),
            what: what.to_string(),
        })
    };
    smol::future::or(fut, timer).await
}

/// An open, version-negotiated connection to one broker.
pub struct Conn {
    addr: String,
    stream: TcpStream,
    client_id: StrBytes,
    timeout: Duration,
    next_correlation: i32,
    /// The broker's (min, max) per API key, from ApiVersions.
    ranges: HashMap<i16, (i16, i16)>,
    /// The last request frame; its allocation is reused so a stream of large
    /// Produce requests touches no fresh memory (kept up to [`MAX_KEPT_FRAME`]).
    frame: Vec<u8>,
    /// The batches of the Produce request being written (see [`produce_frame`]).
    splices: Vec<produce_frame::Splice>,
}

/// Largest frame buffer a connection keeps between requests.
const MAX_KEPT_FRAME: usize = 8 * 1024 * 1024;

impl Conn {
    /// Encodes a Produce request into the reusable frame buffer and splice
    /// list (batches are written from their own buffers); returns its
    /// correlation id.
    fn encode_produce_frame(&mut self, version: i16, req: &ProduceRequest) -> i32 {
        let correlation_id = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1).max(1);
        let mut buf = std::mem::take(&mut self.frame);
        produce_frame::encode_produce(
            &mut buf,
            &mut self.splices,
            version,
            correlation_id,
            self.client_id.as_str(),
            req,
        );
        self.frame = buf;
        correlation_id
    }

    /// Connects to `addr` (host:port) and negotiates API versions, all within `timeout`.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Conn, ClientError> {
        let stream = with_timeout(addr, "connect", timeout, async {
            TcpStream::connect(addr).await.map_err(|e| ClientError::Io {
                addr: addr.to_string(),
                message: io_reason(&e),
            })
        })
        .await?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            addr: addr.to_string(),
            stream,
            client_id: StrBytes::from_string(client_id.to_string()),
            timeout,
            next_correlation: 1,
            ranges: HashMap::new(),
            frame: Vec::new(),
            splices: Vec::new(),
        };
        conn.negotiate().await?;
        Ok(conn)
    }

    /// The `host:port` this connection goes to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The version we will use for `api_key`, or `Unsupported`.
    pub fn version_for(&self, api_key: i16) -> Result<i16, ClientError> {
        let ours = kafka_protocol::messages::ApiKey::try_from(api_key)
            .map(|k| k.valid_versions())
            .map_err(|_| ClientError::Unsupported {
                addr: self.addr.clone(),
                api_key,
            })?;
        let (bmin, bmax) = self
            .ranges
            .get(&api_key)
            .copied()
            .ok_or(ClientError::Unsupported {
                addr: self.addr.clone(),
                api_key,
            })?;
        let v = our_max(api_key).min(ours.max).min(bmax);
        if v < bmin.max(ours.min) {
            return Err(ClientError::Unsupported {
                addr: self.addr.clone(),
                api_key,
            });
        }
        Ok(v)
    }

    async fn negotiate(&mut self) -> Result<(), ClientError> {
        // v3 first; a broker that does not know v3 answers error 35 encoded as v0.
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("pipit"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let body = self.roundtrip(18, 3, 0, &req).await?; // ApiVersions responses always use header v0
        let code = body
            .get(0..2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .unwrap_or(-1);
        let resp = if code == 35 {
            decode_body::<ApiVersionsResponse>(&self.addr, 18, body, 0)?
        } else {
            decode_body::<ApiVersionsResponse>(&self.addr, 18, body, 3)?
        };
        if resp.error_code != 0 && resp.error_code != 35 {
            return Err(ClientError::kafka(resp.error_code, Some("ApiVersions")));
        }
        self.ranges = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// Sends `req` at the negotiated version and decodes its response.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<R::Response, ClientError> {
        let version = self.version_for(R::KEY)?;
        let header_v =
            <R::Response as kafka_protocol::protocol::HeaderVersion>::header_version(version);
        let body = self.roundtrip(R::KEY, version, header_v, req).await?;
        decode_body::<R::Response>(&self.addr, R::KEY, body, version)
    }

    /// Sends `req` and reads no response (Produce with acks=0).
    pub async fn send_oneway<R: Request>(&mut self, req: &R) -> Result<(), ClientError> {
        let version = self.version_for(R::KEY)?;
        self.encode_frame(R::KEY, version, req)?;
        let addr = self.addr.clone();
        let (stream, frame) = (&mut self.stream, &self.frame);
        with_timeout(&addr, "write", self.timeout, async {
            stream.write_all(frame).await.map_err(|e| io_err(&addr, &e))
        })
        .await
    }

    /// Encodes one size-prefixed request frame into `self.frame`.
    fn encode_frame<R: Encodable>(
        &mut self,
        key: i16,
        version: i16,
        req: &R,
    ) -> Result<(), ClientError> {
        let correlation_id = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1).max(1);
        let header = RequestHeader::default()
            .with_request_api_key(key)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = std::mem::take(&mut self.frame);
        if buf.capacity() > MAX_KEPT_FRAME {
            buf = Vec::new();
        }
        buf.clear();
        buf.extend_from_slice(&[0, 0, 0, 0]);
        let proto_err = |message: String| ClientError::Protocol {
            addr: self.addr.clone(),
            message,
        };
        kafka_protocol::protocol::encode_request_header_into_buffer(&mut buf, &header)
            .map_err(|e| proto_err(e.to_string()))?;
        req.encode(&mut buf, version)
            .map_err(|e| proto_err(e.to_string()))?;
        let len = (buf.len() - 4) as u32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.frame = buf;
        Ok(())
    }

    /// Writes one request and returns the response body (header stripped).
    async fn roundtrip<R: Encodable>(
        &mut self,
        key: i16,
        version: i16,
        response_header_version: i16,
        req: &R,
    ) -> Result<bytes::Bytes, ClientError> {
        let correlation_id = self.next_correlation;
        self.encode_frame(key, version, req)?;
        let addr = self.addr.clone();
        let (stream, frame) = (&mut self.stream, &self.frame);
        let raw = with_timeout(&addr, "a response", self.timeout, async {
            stream
                .write_all(frame)
                .await
                .map_err(|e| io_err(&addr, &e))?;
            read_frame(stream, &addr).await
        })
        .await?;
        response_body(&addr, raw, correlation_id, response_header_version)
    }

    /// Sends a Produce request without copying its batches into a buffer (see
    /// [`produce_frame`]); `None` with acks=0, when the broker does not answer.
    pub async fn send_produce(
        &mut self,
        req: &ProduceRequest,
    ) -> Result<Option<ProduceResponse>, ClientError> {
        let version = self.version_for(ProduceRequest::KEY)?;
        if !(produce_frame::MIN_VERSION..=produce_frame::MAX_VERSION).contains(&version) {
            return match req.acks {
                0 => self.send_oneway(req).await.map(|()| None),
                _ => self.send(req).await.map(Some),
            };
        }
        let correlation_id = self.encode_produce_frame(version, req);
        let addr = self.addr.clone();
        let (stream, frame, splices) = (&mut self.stream, &self.frame, &self.splices);
        let raw = with_timeout(&addr, "a response", self.timeout, async {
            produce_frame::write_spliced(stream, frame, splices)
                .await
                .map_err(|e| io_err(&addr, &e))?;
            match req.acks {
                0 => Ok(None),
                _ => read_frame(stream, &addr).await.map(Some),
            }
        })
        .await;
        // Drop the batch clones now: the producer recycles a batch's buffer once it is sole owner.
        self.splices.clear();
        let Some(raw) = raw? else { return Ok(None) };
        let header_v =
            <ProduceResponse as kafka_protocol::protocol::HeaderVersion>::header_version(version);
        let body = response_body(&addr, raw, correlation_id, header_v)?;
        decode_body(&addr, ProduceRequest::KEY, body, version).map(Some)
    }
}

impl Conn {
    /// Another handle on the socket, for reading responses while this one writes
    /// (see `pipeline`).
    pub(super) fn read_handle(&self) -> TcpStream {
        self.stream.clone()
    }

    /// Writes a Produce request without reading its response; returns the
    /// correlation id and version to decode the response with
    /// ([`decode_produce_response`]). Write errors and timeouts leave the
    /// connection unusable.
    pub(super) async fn write_produce(
        &mut self,
        req: &ProduceRequest,
    ) -> Result<(i32, i16), ClientError> {
        let version = self.version_for(ProduceRequest::KEY)?;
        if !(produce_frame::MIN_VERSION..=produce_frame::MAX_VERSION).contains(&version) {
            return Err(ClientError::Unsupported {
                addr: self.addr.clone(),
                api_key: ProduceRequest::KEY,
            });
        }
        let correlation_id = self.encode_produce_frame(version, req);
        let addr = self.addr.clone();
        let (stream, frame, splices) = (&mut self.stream, &self.frame, &self.splices);
        let r = with_timeout(&addr, "write", self.timeout, async {
            produce_frame::write_spliced(stream, frame, splices)
                .await
                .map_err(|e| io_err(&addr, &e))
        })
        .await;
        self.splices.clear();
        r.map(|()| (correlation_id, version))
    }
}

/// Decodes a Produce response frame read with [`read_frame`].
pub(super) fn decode_produce_response(
    addr: &str,
    raw: Vec<u8>,
    correlation_id: i32,
    version: i16,
) -> Result<ProduceResponse, ClientError> {
    let header_v =
        <ProduceResponse as kafka_protocol::protocol::HeaderVersion>::header_version(version);
    let body = response_body(addr, raw, correlation_id, header_v)?;
    decode_body(addr, ProduceRequest::KEY, body, version)
}

/// Reads one size-prefixed response frame.
pub(super) async fn read_frame(stream: &mut TcpStream, addr: &str) -> Result<Vec<u8>, ClientError> {
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| io_err(addr, &e))?;
    let len = i32::from_be_bytes(len);
    if len < 4 || len as usize > MAX_RESPONSE_BYTES {
        return Err(ClientError::Protocol {
            addr: addr.to_string(),
            message: format!("response frame of {len} bytes"),
        });
    }
    let mut body = vec![0u8; len as usize];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| io_err(addr, &e))?;
    Ok(body)
}

/// Checks the correlation id and strips the response header, read with the protocol
/// layer's bounds-checked reader (the same one that parses request headers).
pub fn response_body(
    addr: &str,
    raw: Vec<u8>,
    correlation_id: i32,
    response_header_version: i16,
) -> Result<bytes::Bytes, ClientError> {
    let bad = |e: GuardError| ClientError::Protocol {
        addr: addr.to_string(),
        message: format!("bad response header: {e}"),
    };
    let mut r = Reader::new(&raw);
    let got = r.i32().map_err(bad)?;
    if got != correlation_id {
        return Err(ClientError::Protocol {
            addr: addr.to_string(),
            message: format!("correlation id {got}, expected {correlation_id}"),
        });
    }
    if response_header_version >= 1 {
        // Tagged fields of the flexible response header.
        r.skip_tagged_fields().map_err(bad)?;
    }
    let start = r.pos();
    let mut body = bytes::Bytes::from(raw);
    body.advance(start);
    Ok(body)
}

/// Decodes the body of the response to a request of `api_key` at `version`, after the
/// guard proved its lengths fit ([`ClientError::BadResponse`] when not).
pub fn decode_body<T: Decodable>(
    addr: &str,
    api_key: i16,
    mut body: bytes::Bytes,
    version: i16,
) -> Result<T, ClientError> {
    check_response(api_key, version, &body).map_err(|reason| ClientError::BadResponse {
        addr: addr.to_string(),
        api_key,
        api_version: version,
        reason,
    })?;
    T::decode(&mut body, version).map_err(|e| ClientError::Protocol {
        addr: addr.to_string(),
        message: format!("cannot decode response v{version}: {e}"),
    })
}

/// The API's Kafka name ("Metadata"), or "API key N" for one kafka-protocol does not know.
fn api_name(api_key: i16) -> String {
    match kafka_protocol::messages::ApiKey::try_from(api_key) {
        Ok(k) => format!("{k:?}"),
        Err(()) => format!("API key {api_key}"),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::UnexpectedEof => "connection closed by the broker".into(),
        _ => e.to_string(),
    }
}

fn io_err(addr: &str, e: &std::io::Error) -> ClientError {
    ClientError::Io {
        addr: addr.to_string(),
        message: io_reason(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connecting_to_a_closed_port_says_connection_refused() {
        // Bind then drop a listener so the port is known to be closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let addr = format!("127.0.0.1:{port}");
        let err = smol::block_on(Conn::connect(&addr, "t", Duration::from_secs(2))).err();
        match err {
            Some(ClientError::Io { message, .. }) => assert_eq!(message, "connection refused"),
            other => panic!("expected Io error, got {other:?}"),
        }
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let err = smol::block_on(Conn::connect(&addr, "t", Duration::from_millis(200))).err();
        assert!(matches!(err, Some(ClientError::Timeout { .. })), "{err:?}");
        drop(listener);
    }

    #[test]
    fn response_headers_are_checked_and_their_tagged_fields_skipped() {
        let corr = 7i32.to_be_bytes();
        let flexible = [&corr[..], &[2, 0, 1, 9, 1, 2, 7, 8, 42]].concat();
        let body = response_body("a", flexible.clone(), 7, 1).expect("valid");
        assert_eq!(&body[..], &[42]);
        let body = response_body("a", flexible.clone(), 7, 0).expect("valid");
        assert_eq!(
            body.len(),
            flexible.len() - 4,
            "header v0 has no tagged fields"
        );
        let wrong = response_body("a", flexible, 8, 1);
        assert!(matches!(wrong, Err(ClientError::Protocol { .. })));
        let cut = [&corr[..], &[2, 0, 1]].concat();
        assert!(matches!(
            response_body("a", cut, 7, 1),
            Err(ClientError::Protocol { .. })
        ));
        assert!(matches!(
            response_body("a", vec![0, 0], 7, 0),
            Err(ClientError::Protocol { .. })
        ));
    }
}

#[cfg(test)]
#[path = "conn_guard_tests.rs"]
mod guard_tests;
