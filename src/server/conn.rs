//! One client connection: frames in, responses out, in order.
//!
//! The reader takes a 4-byte size, refuses frames over
//! `socket.request.max.bytes`, takes the frame's size from the broker-wide
//! request budget (`queued.max.request.bytes`, see [`super::limits`]) before
//! allocating it, decodes (guard first, see `protocol`), and hands each
//! request to its own task; the writer awaits those tasks in the order they
//! came and writes their responses, so pipelined requests are answered in
//! order while they run concurrently. At most [`MAX_IN_FLIGHT`] request tasks
//! exist per connection: the reader takes a slot before reading a frame and
//! the writer gives it back once the response is written.
//!
//! Timeouts (`connections.max.idle.ms`): a connection with no request in
//! flight that sends nothing for that long is closed, as in Kafka; and once a
//! frame's first byte arrives, the rest of it must arrive within the same
//! bound (a slowloris that sends a size and stalls is closed, and its budget
//! returned). A malformed frame closes this connection with a logged reason
//! naming the peer (rate-limited per kind, see [`super::log_limit`]); the
//! broker carries on.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::lock::{Semaphore, SemaphoreGuardArc};
use smol::{Async, Task, Timer};

use super::broker::Broker;
use super::handlers::{self, Reply};
use super::limits::{BudgetPermit, RequestBudget};
use super::log_limit::{self, Kind};
use crate::protocol::{DecodeError, decode_request_bytes, unsupported_version_response};
use log::Level;

/// Request tasks a connection may have at once (spawned, running or waiting
/// to be written). With 1 MB produce batches this bounds a connection's
/// buffers to a few MB (peak RSS is a budget on a Pi) while still letting one
/// fdatasync cover several requests.
pub const MAX_IN_FLIGHT: usize = 8;

enum Frame {
    Data(Vec<u8>, BudgetPermit),
    Closed,
    /// Nothing in flight and nothing read for `connections.max.idle.ms`.
    Idle,
}

/// What the reader needs to read one frame.
struct Reader<'a> {
    stream: &'a Async<TcpStream>,
    max: u32,
    idle: Duration,
    budget: &'a Arc<RequestBudget>,
    /// Request tasks of this connection not yet written back.
    in_flight: &'a AtomicUsize,
}

/// Reads into `buf` completely before `deadline`; `what` names the part.
async fn read_exact_by(
    stream: &Async<TcpStream>,
    buf: &mut [u8],
    deadline: Instant,
    what: &str,
) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        let step = smol::future::or(
            async { Some((&*stream).read(&mut buf[at..]).await) },
            async {
                Timer::at(deadline).await;
                None
            },
        )
        .await;
        match step {
            None => {
                return Err(format!(
                    "{what} not complete after connections.max.idle.ms ({at} of {} bytes); slow or stalled client",
                    buf.len()
                ));
            }
            Some(Err(e)) => return Err(format!("read error: {e}")),
            Some(Ok(0)) => {
                return Err(format!(
                    "connection closed inside a {what} ({at} of {} bytes)",
                    buf.len()
                ));
            }
            Some(Ok(n)) => at += n,
        }
    }
    Ok(())
}

impl Reader<'_> {
    async fn read_frame(&self) -> Result<Frame, String> {
        let mut size = [0u8; 4];
        // Wait for the first byte; time out only while nothing is in flight
        // (a long-polling Fetch is not idleness).
        let got = loop {
            let first = smol::future::or(
                async { Some((&*self.stream).read(&mut size).await) },
                async {
                    Timer::after(self.idle).await;
                    None
                },
            )
            .await;
            match first {
                Some(Ok(0)) => return Ok(Frame::Closed),
                Some(Ok(n)) => break n,
                Some(Err(e)) => return Err(format!("read error: {e}")),
                None if self.in_flight.load(Ordering::Acquire) == 0 => return Ok(Frame::Idle),
                None => {}
            }
        };
        let deadline = Instant::now() + self.idle;
        read_exact_by(
            self.stream,
            &mut size[got..],
            deadline,
            "frame's size prefix",
        )
        .await?;
        let len = i32::from_be_bytes(size);
        if len < 0 || len as u32 > self.max {
            return Err(format!(
                "frame of {len} bytes is over socket.request.max.bytes ({}) or negative",
                self.max
            ));
        }
        // Waiting for the budget is the broker's time, not the client's.
        let permit = self.budget.acquire(len as u64).await;
        let mut buf = vec![0u8; len as usize];
        let deadline = Instant::now() + self.idle;
        read_exact_by(self.stream, &mut buf, deadline, "frame").await?;
        Ok(Frame::Data(buf, permit))
    }
}

/// A request on its way to the writer with what it holds.
struct InFlight {
    task: Task<Reply>,
    slot: SemaphoreGuardArc,
    bytes: BudgetPermit,
}

/// Serves one connection until the peer closes, a frame is bad, it idles
/// past `connections.max.idle.ms`, or the broker shuts down.
pub async fn serve(
    broker: Arc<Broker>,
    stream: Async<TcpStream>,
    peer: SocketAddr,
    budget: Arc<RequestBudget>,
) {
    let stream = Arc::new(stream);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = smol::channel::bounded::<InFlight>(MAX_IN_FLIGHT);
    let writer_stream = stream.clone();
    let writer_count = in_flight.clone();
    let writer = crate::server::rt::spawn(async move {
        while let Ok(req) = rx.recv().await {
            let reply = req.task.await;
            let written = match reply {
                Ok(Some(frame)) => (&*writer_stream)
                    .write_all(&frame)
                    .await
                    .map_err(|e| log::debug!("{peer}: write failed: {e}")),
                Ok(None) => Ok(()),
                Err(e) => {
                    log_limit::log(
                        Kind::RequestFailed,
                        Level::Error,
                        format_args!("{peer}: {e}; closing the connection"),
                    );
                    Err(())
                }
            };
            // The slot and the request's bytes go back only now.
            writer_count.fetch_sub(1, Ordering::AcqRel);
            drop(req.slot);
            drop(req.bytes);
            if written.is_err() {
                // Wake a reader waiting for data that will never be answered.
                let _ = writer_stream.get_ref().shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    });
    let reader = Reader {
        stream: &stream,
        max: broker.config.socket_request_max_bytes,
        idle: Duration::from_millis(broker.config.connections_max_idle_ms),
        budget: &budget,
        in_flight: &in_flight,
    };
    loop {
        let next = smol::future::or(
            async {
                let slot = slots.acquire_arc().await;
                reader.read_frame().await.map(|f| (f, Some(slot)))
            },
            async {
                // Stop reading new requests once shutdown starts.
                broker.shutdown_begun().await;
                Ok((Frame::Closed, None))
            },
        )
        .await;
        let (frame, permit, slot) = match next {
            Ok((Frame::Data(f, permit), Some(slot))) => (f, permit, slot),
            Ok((Frame::Idle, _)) => {
                log::debug!(
                    "{peer}: idle for connections.max.idle.ms ({} ms); closing the connection",
                    broker.config.connections_max_idle_ms
                );
                break;
            }
            Ok(_) => break,
            Err(reason) => {
                log_limit::log(
                    Kind::BadFrame,
                    Level::Warn,
                    format_args!("{peer}: {reason}; closing the connection"),
                );
                break;
            }
        };
        let bytes = Bytes::from(frame);
        let task: Task<Reply> = match decode_request_bytes(bytes.clone()) {
            Ok((header, request)) => {
                let b = broker.clone();
                crate::server::rt::spawn(
                    async move { handlers::dispatch(&b, &header, request).await },
                )
            }
            Err(DecodeError::UnsupportedVersion {
                api_key,
                api_version,
                ..
            }) => match unsupported_version_response(&bytes) {
                Some(resp) => {
                    log_limit::log(
                        Kind::Unsupported,
                        Level::Info,
                        format_args!(
                            "{peer}: {api_key:?} v{api_version} is not supported; answered UNSUPPORTED_VERSION"
                        ),
                    );
                    crate::server::rt::spawn(async move { Ok(Some(resp)) })
                }
                None => {
                    log_limit::log(
                        Kind::Unsupported,
                        Level::Warn,
                        format_args!(
                            "{peer}: {api_key:?} v{api_version} is not supported by pipit; closing the connection"
                        ),
                    );
                    break;
                }
            },
            Err(DecodeError::UnknownApiKey {
                api_key,
                api_version,
                ..
            }) => {
                log_limit::log(
                    Kind::BadRequest,
                    Level::Warn,
                    format_args!(
                        "{peer}: unknown API key {api_key} (v{api_version}); closing the connection"
                    ),
                );
                break;
            }
            Err(DecodeError::Malformed { reason, .. }) => {
                log_limit::log(
                    Kind::BadRequest,
                    Level::Warn,
                    format_args!("{peer}: malformed request ({reason:?}); closing the connection"),
                );
                break;
            }
        };
        in_flight.fetch_add(1, Ordering::AcqRel);
        let req = InFlight {
            task,
            slot,
            bytes: permit,
        };
        if tx.send(req).await.is_err() {
            break;
        }
    }
    drop(tx);
    writer.await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}
