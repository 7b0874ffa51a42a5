//! Request frame parsing: the bytes after the 4-byte size prefix, up to the body.
//!
//! Layout (Kafka request header v1/v2): api_key i16, api_version i16, correlation_id i32,
//! client_id nullable string (i16 length, never compact), then in header v2 a tagged-field
//! section. Header v0 (no client_id) is only used by ControlledShutdown v0, which pipit
//! never serves. The header version comes from kafka-protocol's `request_header_version`.
//! Promise: every length is checked against the frame before it is used; parsing never
//! panics and never allocates more than the client id.

use kafka_protocol::messages::ApiKey;

use super::guard::{GuardError, Reader};

/// The parsed request header and where the body starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeaderInfo {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    /// The client id, lossily UTF-8 decoded; `None` when the client sent null.
    pub client_id: Option<String>,
    /// Request header version (1 or 2 for the APIs pipit serves).
    pub header_version: i16,
    /// Offset of the request body within the frame.
    pub body_offset: usize,
}

/// Why a frame's header could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer than the 8 bytes of api key, version and correlation id.
    TooShort { len: usize },
    /// An API key kafka-protocol does not know; the header format is unknown.
    UnknownApiKey {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    /// The client id or header tagged fields are malformed.
    BadHeader {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
        cause: GuardError,
    },
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bad request frame: {self:?}")
    }
}

impl std::error::Error for FrameError {}

/// Parses the request header of `frame` (the bytes after the size prefix).
pub fn parse_frame(frame: &[u8]) -> Result<RequestHeaderInfo, FrameError> {
    let mut r = Reader::new(frame);
    let fixed = (r.i16(), r.i16(), r.i32());
    let (Ok(api_key), Ok(api_version), Ok(correlation_id)) = fixed else {
        return Err(FrameError::TooShort { len: frame.len() });
    };
    let key = ApiKey::try_from(api_key).map_err(|_| FrameError::UnknownApiKey {
        api_key,
        api_version,
        correlation_id,
    })?;
    let header_version = key.request_header_version(api_version);
    let bad = |cause| FrameError::BadHeader {
        api_key,
        api_version,
        correlation_id,
        cause,
    };
    let mut client_id = None;
    if header_version >= 1 {
        let at = r.pos();
        let len = r.i16().map_err(bad)?;
        if len >= 0 {
            let bytes = r.take(len as usize).map_err(|_| {
                bad(GuardError::LengthPastEnd {
                    at,
                    len: len as u64,
                    remaining: r.remaining(),
                })
            })?;
            client_id = Some(String::from_utf8_lossy(bytes).into_owned());
        } else if len != -1 {
            return Err(bad(GuardError::NegativeLength {
                at,
                len: i64::from(len),
            }));
        }
    }
    if header_version >= 2 {
        r.skip_tagged_fields().map_err(bad)?;
    }
    Ok(RequestHeaderInfo {
        api_key: key,
        api_version,
        correlation_id,
        client_id,
        header_version,
        body_offset: r.pos(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(key: i16, version: i16, corr: i32, client: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&key.to_be_bytes());
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(&corr.to_be_bytes());
        v.extend_from_slice(&(client.len() as i16).to_be_bytes());
        v.extend_from_slice(client);
        v
    }

    #[test]
    fn header_v1_reports_client_id_and_body_offset() {
        let mut f = header(3, 1, 7, b"kcat");
        f.extend_from_slice(&[0, 0, 0, 0]);
        let h = parse_frame(&f).expect("valid header");
        assert_eq!(h.api_key, ApiKey::Metadata);
        assert_eq!(
            (h.api_version, h.correlation_id, h.header_version),
            (1, 7, 1)
        );
        assert_eq!(h.client_id.as_deref(), Some("kcat"));
        assert_eq!(h.body_offset, 14);
    }

    #[test]
    fn header_v2_skips_tagged_fields() {
        let mut f = header(18, 3, 9, b"rdkafka");
        f.extend_from_slice(&[1, 5, 2, 0xaa, 0xbb]); // one unknown tag (5), 2 bytes
        f.push(0x42);
        let h = parse_frame(&f).expect("valid header");
        assert_eq!(h.header_version, 2);
        assert_eq!(f.get(h.body_offset), Some(&0x42));
    }

    #[test]
    fn null_client_id_is_none() {
        let mut f = header(18, 0, 1, b"");
        f.truncate(8);
        f.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(parse_frame(&f).map(|h| h.client_id), Ok(None));
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        assert_eq!(
            parse_frame(&[0, 3, 0]),
            Err(FrameError::TooShort { len: 3 })
        );
        let unknown = header(999, 0, 5, b"");
        assert_eq!(
            parse_frame(&unknown),
            Err(FrameError::UnknownApiKey {
                api_key: 999,
                api_version: 0,
                correlation_id: 5
            })
        );
        let mut long = header(3, 1, 5, b"ab");
        long.truncate(long.len() - 1); // client id claims 2 bytes, 1 present
        assert!(matches!(
            parse_frame(&long),
            Err(FrameError::BadHeader {
                correlation_id: 5,
                ..
            })
        ));
        let mut neg = header(3, 1, 5, b"");
        neg.truncate(8);
        neg.extend_from_slice(&(-2i16).to_be_bytes());
        assert!(matches!(
            parse_frame(&neg),
            Err(FrameError::BadHeader { .. })
        ));
    }
}
