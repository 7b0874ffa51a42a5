//! Hand-built Kafka frames over a raw `TcpStream`, for tests that must not go
//! through any client library (bad input, version negotiation).
//!
//! A frame is `size: i32` then the request header (v1: api_key i16, api_version i16,
//! correlation_id i32, client_id nullable string; v2 adds an empty tagged-field
//! section) then the body. [`Request`] writes big-endian fields and fills the size
//! in [`Request::finish`]; [`Cursor`] reads response fields with bounds checks.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const API_PRODUCE: i16 = 0;
pub const API_METADATA: i16 = 3;
pub const API_VERSIONS: i16 = 18;
/// Kafka's UNSUPPORTED_VERSION error code.
pub const UNSUPPORTED_VERSION: i16 = 35;

/// A request frame under construction (size prefix reserved at bytes 0..4).
pub struct Request {
    buf: Vec<u8>,
}

impl Request {
    /// Header v1 (non-flexible requests).
    pub fn new(api_key: i16, api_version: i16, correlation_id: i32, client_id: &str) -> Request {
        let mut r = Request { buf: vec![0; 4] };
        r.i16(api_key)
            .i16(api_version)
            .i32(correlation_id)
            .string(client_id);
        r
    }

    /// Header v2 (flexible requests): header v1 plus an empty tagged-field section.
    pub fn new_flexible(
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
        client_id: &str,
    ) -> Request {
        let mut r = Request::new(api_key, api_version, correlation_id, client_id);
        r.u8(0);
        r
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Classic string: i16 length then bytes.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.i16(s.len() as i16);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// Compact string: unsigned varint (length + 1) then bytes (lengths < 127 only).
    pub fn compact_string(&mut self, s: &str) -> &mut Self {
        assert!(
            s.len() < 127,
            "compact_string here supports short strings only"
        );
        self.u8(s.len() as u8 + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// Classic bytes: i32 length then bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
        self
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// The frame with its size prefix filled in.
    pub fn finish(&mut self) -> Vec<u8> {
        let size = (self.buf.len() - 4) as i32;
        self.buf[0..4].copy_from_slice(&size.to_be_bytes());
        self.buf.clone()
    }
}

/// Connects with read and write timeouts so no test step can hang.
pub fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("set write timeout");
    stream
}

/// Reads one response frame (without its size prefix); refuses frames over 16 MiB.
pub fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    if !(0..=16 << 20).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame size {size}"),
        ));
    }
    let mut body = vec![0u8; size as usize];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// Waits up to `within` for the peer to close: a read returning 0 or a connection
/// error. Data the broker sends meanwhile is discarded. Returns how long it took.
pub fn wait_closed(stream: &mut TcpStream, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(start.elapsed()),
        }
    }
    Err(format!("connection still open after {within:?}"))
}

/// Writes `data`, ignoring errors: the broker may close before all of it arrives.
pub fn write_lossy(stream: &mut TcpStream, data: &[u8]) {
    let _ = stream.write_all(data);
    let _ = stream.flush();
}

/// Bounds-checked big-endian reader over a response.
pub struct Cursor<'a> {
    b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            panic!(
                "response too short: need {n} bytes at {} of {:?}",
                self.pos, self.b
            );
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        s
    }
    pub fn i16(&mut self) -> i16 {
        let s = self.take(2);
        i16::from_be_bytes([s[0], s[1]])
    }
    pub fn i32(&mut self) -> i32 {
        let s = self.take(4);
        i32::from_be_bytes([s[0], s[1], s[2], s[3]])
    }
    pub fn i64(&mut self) -> i64 {
        let s = self.take(8);
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        i64::from_be_bytes(a)
    }
    pub fn string(&mut self) -> String {
        let len = self.i16();
        if len < 0 {
            return String::new();
        }
        String::from_utf8_lossy(self.take(len as usize)).into_owned()
    }
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
}

/// xorshift64*: seeded, reproducible bytes for the random-input test.
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}
