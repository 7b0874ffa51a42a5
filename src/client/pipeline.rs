//! A pipelined Produce connection: several requests in flight on one socket.
//!
//! The idempotent producer keeps up to `max.in.flight.requests.per.connection`
//! Produce requests outstanding per broker. [`Pipe::write`] writes one request
//! (writes are serialised, so requests reach the broker in call order) and returns
//! a [`Ticket`]; [`Pipe::response`] waits for that ticket's response. Kafka answers
//! a connection's requests in order; whichever waiter holds the read half reads the
//! next frame and leaves frames that belong to others in a stash keyed by
//! correlation id. The first I/O error, timeout or bad frame breaks the pipe:
//! every later call fails with that error, and the owner opens a new pipe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use smol::net::TcpStream;

use super::conn::{self, ClientError, Conn, with_timeout};

/// A written request whose response is still to be read.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    correlation_id: i32,
    version: i16,
}

#[derive(Default)]
struct Stash {
    /// Frames read by another waiter, by correlation id (bounded by the requests in flight).
    ready: HashMap<i32, Vec<u8>>,
    broken: Option<ClientError>,
}

/// One connection to a broker, for pipelined Produce requests only.
pub struct Pipe {
    addr: String,
    timeout: Duration,
    writer: smol::lock::Mutex<Conn>,
    reader: smol::lock::Mutex<TcpStream>,
    stash: Mutex<Stash>,
}

impl Pipe {
    /// Opens and version-negotiates a new connection to `addr`.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Pipe, ClientError> {
        let conn = Conn::connect(addr, client_id, timeout).await?;
        let reader = conn.read_handle();
        Ok(Pipe {
            addr: addr.to_string(),
            timeout,
            writer: smol::lock::Mutex::new(conn),
            reader: smol::lock::Mutex::new(reader),
            stash: Mutex::new(Stash::default()),
        })
    }

    fn stash(&self) -> std::sync::MutexGuard<'_, Stash> {
        self.stash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an error has made this pipe unusable.
    pub fn is_broken(&self) -> bool {
        self.stash().broken.is_some()
    }

    fn fail(&self, e: ClientError) -> ClientError {
        let mut st = self.stash();
        st.ready.clear();
        st.broken.get_or_insert(e).clone()
    }

    /// Writes `req`; the response is read later with [`Pipe::response`].
    pub async fn write(&self, req: &ProduceRequest) -> Result<Ticket, ClientError> {
        let mut w = self.writer.lock().await;
        if let Some(e) = self.stash().broken.clone() {
            return Err(e);
        }
        match w.write_produce(req).await {
            Ok((correlation_id, version)) => Ok(Ticket {
                correlation_id,
                version,
            }),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Waits (at most the request timeout) for the response to `ticket`.
    pub async fn response(&self, ticket: Ticket) -> Result<ProduceResponse, ClientError> {
        let addr = self.addr.clone();
        let raw = with_timeout(&addr, "a response", self.timeout, self.frame_for(ticket)).await;
        let raw = raw.map_err(|e| self.fail(e))?;
        conn::decode_produce_response(&self.addr, raw, ticket.correlation_id, ticket.version)
            .map_err(|e| self.fail(e))
    }

    async fn frame_for(&self, ticket: Ticket) -> Result<Vec<u8>, ClientError> {
        let want = ticket.correlation_id;
        // Each pass reads one frame; the caller's timeout bounds the loop.
        loop {
            {
                let mut st = self.stash();
                if let Some(raw) = st.ready.remove(&want) {
                    return Ok(raw);
                }
                if let Some(e) = &st.broken {
                    return Err(e.clone());
                }
            }
            let mut r = self.reader.lock().await;
            {
                let mut st = self.stash();
                if let Some(raw) = st.ready.remove(&want) {
                    return Ok(raw);
                }
                if let Some(e) = &st.broken {
                    return Err(e.clone());
                }
            }
            let raw = conn::read_frame(&mut r, &self.addr).await?;
            let got = raw
                .get(0..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            if got == want {
                return Ok(raw);
            }
            self.stash().ready.insert(got, raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_to_a_silent_broker_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let err = smol::block_on(Pipe::connect(&addr, "t", Duration::from_millis(200))).err();
        assert!(matches!(err, Some(ClientError::Timeout { .. })), "{err:?}");
        drop(listener);
    }
}
