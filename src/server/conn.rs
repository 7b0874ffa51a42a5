//! One client connection: frames in, responses out, in order.
//!
//! The reader takes a 4-byte size, refuses frames over
//! `socket.request.max.bytes`, decodes (guard first, see `protocol`), and
//! hands each request to its own task; the writer awaits those tasks in the
//! order they came and writes their responses, so pipelined requests are
//! answered in order while they run concurrently (at most
//! [`MAX_IN_FLIGHT`]). A malformed frame closes this connection with a
//! logged reason naming the peer; the broker carries on.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use bytes::Bytes;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Task};

use super::broker::Broker;
use super::handlers::{self, Reply};
use crate::protocol::{DecodeError, decode_request_bytes, unsupported_version_response};

/// Requests a connection may have in flight before the reader waits. With
/// 1 MB produce batches this bounds a connection's buffers to a few MB (peak
/// RSS is a budget on a Pi) while still letting one fdatasync cover several
/// requests.
pub const MAX_IN_FLIGHT: usize = 8;

enum Frame {
    Data(Vec<u8>),
    Closed,
}

async fn read_frame(
    stream: &Async<TcpStream>,
    max: u32,
    peer: SocketAddr,
) -> Result<Frame, String> {
    let mut size = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = (&*stream)
            .read(&mut size[got..])
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return if got == 0 {
                Ok(Frame::Closed)
            } else {
                Err(format!(
                    "connection closed inside a frame's size prefix ({got} of 4 bytes)"
                ))
            };
        }
        got += n;
    }
    let len = i32::from_be_bytes(size);
    if len < 0 || len as u32 > max {
        return Err(format!(
            "frame of {len} bytes is over socket.request.max.bytes ({max}) or negative"
        ));
    }
    let mut buf = vec![0u8; len as usize];
    let mut at = 0;
    while at < buf.len() {
        let n = (&*stream)
            .read(&mut buf[at..])
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Err(format!(
                "truncated frame: connection closed after {at} of {len} bytes"
            ));
        }
        at += n;
    }
    let _ = peer;
    Ok(Frame::Data(buf))
}

/// Serves one connection until the peer closes, a frame is bad, or the
/// broker shuts down.
pub async fn serve(broker: Arc<Broker>, stream: Async<TcpStream>, peer: SocketAddr) {
    let stream = Arc::new(stream);
    let (tx, rx) = smol::channel::bounded::<Task<Reply>>(MAX_IN_FLIGHT);
    let writer_stream = stream.clone();
    let writer = crate::server::rt::spawn(async move {
        while let Ok(task) = rx.recv().await {
            match task.await {
                Ok(Some(frame)) => {
                    if let Err(e) = (&*writer_stream).write_all(&frame).await {
                        log::debug!("{peer}: write failed: {e}");
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!("{peer}: {e}; closing the connection");
                    return;
                }
            }
        }
    });
    let max = broker.config.socket_request_max_bytes;
    loop {
        let next = smol::future::or(read_frame(&stream, max, peer), async {
            // Stop reading new requests once shutdown starts.
            while !broker.is_shutting_down() {
                let l = broker.data_changed.listen();
                if broker.is_shutting_down() {
                    break;
                }
                l.await;
            }
            Ok(Frame::Closed)
        })
        .await;
        let frame = match next {
            Ok(Frame::Data(f)) => f,
            Ok(Frame::Closed) => break,
            Err(reason) => {
                log::warn!("{peer}: {reason}; closing the connection");
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
                    log::info!(
                        "{peer}: {api_key:?} v{api_version} is not supported; answered UNSUPPORTED_VERSION"
                    );
                    crate::server::rt::spawn(async move { Ok(Some(resp)) })
                }
                None => {
                    log::warn!(
                        "{peer}: {api_key:?} v{api_version} is not supported by pipit; closing the connection"
                    );
                    break;
                }
            },
            Err(DecodeError::UnknownApiKey {
                api_key,
                api_version,
                ..
            }) => {
                log::warn!(
                    "{peer}: unknown API key {api_key} (v{api_version}); closing the connection"
                );
                break;
            }
            Err(DecodeError::Malformed { reason, .. }) => {
                log::warn!("{peer}: malformed request ({reason:?}); closing the connection");
                break;
            }
        };
        if tx.send(task).await.is_err() {
            break;
        }
    }
    drop(tx);
    writer.await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
}
