//! Kafka's record-batch compression codecs: gzip, snappy, lz4 and zstd.
//!
//! Owns the bytes of the compressed records section (everything after the
//! 61-byte batch header) and promises what Java Kafka and librdkafka read and
//! write: gzip streams, snappy in xerial framing (read: xerial or raw), the
//! LZ4 frame format, and zstd frames. All codecs are pure Rust, so the ARM
//! builds need no C cross toolchain. [`decompress`] never produces more than
//! the caller's `max_out` bytes, so a decompression bomb is an error, not an
//! out-of-memory kill.

use std::fmt;
use std::io::{Read, Write};

/// The codec named by bits 0–2 of a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// Every codec, in attribute-bit order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
}

/// The names `compression.type` accepts, as Kafka's producer lists them.
const ALLOWED_NAMES: &str = "none, gzip, snappy, lz4, zstd";

impl Compression {
    /// Parses a `compression.type` / `--compression-codec` value
    /// (`uncompressed` is the topic-level spelling of `none`).
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!(
                "unknown compression codec {name:?}: String must be one of: {ALLOWED_NAMES}"
            )),
        }
    }

    /// The codec id carried in attribute bits 0–2.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec of a batch from its attributes (other bits are ignored).
    pub fn from_attributes(attributes: i16) -> Result<Self, String> {
        match attributes & 0x7 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            n => Err(format!(
                "unknown compression codec id {n} in batch attributes"
            )),
        }
    }

    /// Kafka's name for the codec.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a codec could not compress or decompress.
#[derive(Debug)]
pub enum CodecError {
    /// Decompressed output would exceed `limit` bytes (a bomb, or a cap too small).
    TooLarge { codec: Compression, limit: usize },
    /// The input is not a valid stream for the codec.
    Corrupt { codec: Compression, detail: String },
    /// The encoder failed (only on internal I/O errors into a `Vec`).
    Encode { codec: Compression, detail: String },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::TooLarge { codec, limit } => {
                write!(f, "{codec} data decompresses to more than {limit} bytes")
            }
            CodecError::Corrupt { codec, detail } => write!(f, "corrupt {codec} data: {detail}"),
            CodecError::Encode { codec, detail } => {
                write!(f, "{codec} compression failed: {detail}")
            }
        }
    }
}

impl std::error::Error for CodecError {}

/// snappy-java's stream header: magic `0x82 "SNAPPY" 0x00`, then version 1
/// and minimum compatible version 1 as big-endian i32 (SnappyCodec.java).
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// snappy-java's default block size (SnappyOutputStream, 32 KiB), which Kafka's
/// Java producer uses; librdkafka reads any chunk size.
const XERIAL_CHUNK: usize = 32 * 1024;
/// zstd window we accept regardless of `max_out`: level 19 uses 8 MiB windows.
const ZSTD_MIN_WINDOW_CAP: usize = 8 << 20;

/// Compresses a records section with `c` (`None` copies it).
pub fn compress(c: Compression, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let enc_err = |e: std::io::Error| CodecError::Encode {
        codec: c,
        detail: e.to_string(),
    };
    match c {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            // Level 6, Java's Deflater default, which Kafka's producer uses.
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::default(),
            );
            enc.write_all(data).map_err(enc_err)?;
            enc.finish().map_err(enc_err)
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 64);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_CHUNK)];
            for chunk in data.chunks(XERIAL_CHUNK) {
                let n = enc
                    .compress(chunk, &mut block)
                    .map_err(|e| CodecError::Encode {
                        codec: c,
                        detail: e.to_string(),
                    })?;
                out.extend_from_slice(&(n as u32).to_be_bytes());
                out.extend_from_slice(block.get(..n).unwrap_or_default());
            }
            Ok(out)
        }
        Compression::Lz4 => {
            // Independent 64 KiB blocks, as Kafka's KafkaLZ4BlockOutputStream writes them.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let out = Vec::with_capacity(data.len() / 2 + 64);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
            enc.write_all(data).map_err(enc_err)?;
            enc.finish().map_err(|e| CodecError::Encode {
                codec: c,
                detail: e.to_string(),
            })
        }
        Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            data,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}

/// Decompresses a records section, failing with [`CodecError::TooLarge`]
/// instead of producing more than `max_out` bytes.
pub fn decompress(c: Compression, data: &[u8], max_out: usize) -> Result<Vec<u8>, CodecError> {
    let corrupt = |detail: String| CodecError::Corrupt { codec: c, detail };
    match c {
        Compression::None if data.len() > max_out => Err(CodecError::TooLarge {
            codec: c,
            limit: max_out,
        }),
        Compression::None => Ok(data.to_vec()),
        // Java's GZIPInputStream reads concatenated members; so do we.
        Compression::Gzip => read_capped(c, flate2::read::MultiGzDecoder::new(data), max_out),
        Compression::Snappy if data.starts_with(&XERIAL_MAGIC) => decompress_xerial(data, max_out),
        Compression::Snappy => {
            let mut out = Vec::new();
            snappy_block_into(data, max_out, &mut out)?;
            Ok(out)
        }
        Compression::Lz4 => read_capped(c, lz4_flex::frame::FrameDecoder::new(data), max_out),
        Compression::Zstd => {
            let window_cap = max_out.max(ZSTD_MIN_WINDOW_CAP) as u64;
            let mut src = data;
            let mut out = Vec::new();
            // Each pass consumes one frame (at least its header), so this ends.
            while !src.is_empty() {
                let before = src.len();
                let dec = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                    &mut src, window_cap,
                )
                .map_err(|e| corrupt(e.to_string()))?;
                let room = max_out - out.len();
                let frame = read_capped(c, dec, room)?;
                out.extend_from_slice(&frame);
                if src.len() >= before {
                    return Err(corrupt("zstd frame consumed no input".into()));
                }
            }
            Ok(out)
        }
    }
}

/// Reads `r` to the end into a new vector, refusing to exceed `max_out` bytes.
fn read_capped(c: Compression, r: impl Read, max_out: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    r.take(max_out as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| CodecError::Corrupt {
            codec: c,
            detail: e.to_string(),
        })?;
    if out.len() > max_out {
        return Err(CodecError::TooLarge {
            codec: c,
            limit: max_out,
        });
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, checking its declared length against
/// the room left before allocating.
fn snappy_block_into(block: &[u8], max_out: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let c = Compression::Snappy;
    let corrupt = |e: snap::Error| CodecError::Corrupt {
        codec: c,
        detail: e.to_string(),
    };
    let n = snap::raw::decompress_len(block).map_err(corrupt)?;
    if n > max_out.saturating_sub(out.len()) {
        return Err(CodecError::TooLarge {
            codec: c,
            limit: max_out,
        });
    }
    let start = out.len();
    out.resize(start + n, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let written = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(corrupt)?;
    out.truncate(start + written);
    Ok(())
}

/// Decodes snappy-java's framing: the 16-byte header, then
/// `[u32 BE length][raw snappy block]` chunks until the input ends.
fn decompress_xerial(data: &[u8], max_out: usize) -> Result<Vec<u8>, CodecError> {
    let corrupt = |detail: &str| CodecError::Corrupt {
        codec: Compression::Snappy,
        detail: detail.into(),
    };
    let mut rest = data
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| corrupt("xerial header truncated"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("xerial chunk length truncated"))?;
        let len = u32::from_be_bytes(*len) as usize;
        let block = tail
            .get(..len)
            .ok_or_else(|| corrupt("xerial chunk truncated"))?;
        snappy_block_into(block, max_out, &mut out)?;
        rest = tail.get(len..).unwrap_or_default();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter mixed into text.
        (0..len)
            .map(|i| b"pipit-kafka-"[i % 12] ^ ((i / 97) as u8))
            .collect()
    }

    #[test]
    fn every_codec_round_trips_empty_small_and_multi_chunk_data() {
        for c in Compression::ALL {
            for len in [0, 1, 100, XERIAL_CHUNK + 1, 300_000] {
                let data = sample(len);
                let packed = compress(c, &data).unwrap();
                let back = decompress(c, &packed, len).unwrap();
                assert_eq!(back, data, "{c} len {len}");
            }
        }
    }

    #[test]
    fn compressed_streams_carry_each_formats_magic() {
        let data = sample(1000);
        let gz = compress(Compression::Gzip, &data).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let sn = compress(Compression::Snappy, &data).unwrap();
        assert_eq!(&sn[..16], b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
        let lz = compress(Compression::Lz4, &data).unwrap();
        assert_eq!(&lz[..4], &[0x04, 0x22, 0x4d, 0x18]);
        let zs = compress(Compression::Zstd, &data).unwrap();
        assert_eq!(&zs[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert!(gz.len() < 1000 && sn.len() < 1000 && lz.len() < 1000 && zs.len() < 1000);
    }

    #[test]
    fn snappy_reads_hand_built_xerial_and_raw_blocks() {
        // Two xerial chunks built by hand with an independent raw encoder, the
        // way snappy-java frames a stream; and the raw block librdkafka may send.
        let a = b"hello hello hello hello ".repeat(10);
        let b = b"second chunk".to_vec();
        let mut enc = snap::raw::Encoder::new();
        let (ra, rb) = (enc.compress_vec(&a).unwrap(), enc.compress_vec(&b).unwrap());
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        for r in [&ra, &rb] {
            xerial.extend_from_slice(&(r.len() as u32).to_be_bytes());
            xerial.extend_from_slice(r);
        }
        let mut want = a.clone();
        want.extend_from_slice(&b);
        assert_eq!(
            decompress(Compression::Snappy, &xerial, 1 << 20).unwrap(),
            want
        );
        assert_eq!(decompress(Compression::Snappy, &ra, 1 << 20).unwrap(), a);
        // A raw block of "Wikipedia" from the snappy format description:
        // varint length 9, then one literal tag (len-1)<<2 = 0x20.
        let golden = b"\x09\x20Wikipedia";
        assert_eq!(
            decompress(Compression::Snappy, golden, 64).unwrap(),
            b"Wikipedia"
        );
        // A cut-off xerial chunk is an error, not a panic or a short result.
        let cut = &xerial[..xerial.len() - 3];
        assert!(matches!(
            decompress(Compression::Snappy, cut, 1 << 20),
            Err(CodecError::Corrupt { .. })
        ));
    }

    #[test]
    fn decompression_bombs_are_refused_at_the_cap() {
        let bomb = vec![0u8; 8 << 20];
        for c in Compression::ALL {
            let packed = compress(c, &bomb).unwrap();
            if c != Compression::None {
                assert!(packed.len() < 1 << 20, "{c} should shrink zeros");
            }
            assert!(
                matches!(
                    decompress(c, &packed, 1 << 20),
                    Err(CodecError::TooLarge { limit, .. }) if limit == 1 << 20
                ),
                "{c}"
            );
            // Exactly at the cap is fine.
            assert_eq!(decompress(c, &packed, 8 << 20).unwrap().len(), 8 << 20);
        }
    }

    #[test]
    fn garbage_input_is_a_corrupt_error_for_every_codec() {
        let junk = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff\xff\xffjunk";
        for c in Compression::ALL.into_iter().skip(1) {
            for input in [&b"not compressed at all"[..], &junk[..], &[0xff; 3][..]] {
                assert!(decompress(c, input, 1 << 20).is_err(), "{c} {input:?}");
            }
        }
    }

    /// Streams written by the C reference tools (gzip 1.12 `-9n`, lz4 1.9.4
    /// `-BD -BX --content-size`: linked blocks, block and content checksums,
    /// zstd 1.5.4 `-19`), which librdkafka's codecs are built from.
    #[test]
    fn decodes_golden_streams_from_the_c_reference_tools() {
        let text = b"pipit golden: the quick brown fox jumps over the lazy dog; \
                     the quick brown fox jumps over the lazy dog again.\n";
        let golden = [
            (
                Compression::Gzip,
                "1f8b08000000000002032bc82cc82c5148cfcf4949cdb35228c94855282ccd4cce56482aca2fcf5348cbaf\
                 50c82acd2d2856c82f4b2d024be72456552aa4e4a75b93a25821313d31334f8f0b0010347b0f6e000000",
            ),
            (
                Compression::Lz4,
                "04224d187c406e000000000000002349000000f11d706970697420676f6c64656e3a2074686520717569\
                 636b2062726f776e20666f78206a756d7073206f7665721f00916c617a7920646f673b0e000f2d001480\
                 20616761696e2e0af8513eb600000000fd433cf0",
            ),
            (
                Compression::Zstd,
                "28b52ffd246e1d0200d2030e11907d50fa43e90fa5cfff9f1547638b990120444614f9a1e479dec9ab28\
                 cbb713e2f65ba68f5ad6f2ce304c1fadfb22a2f3a4facb269b01020041650e85a0cad99fe0c0",
            ),
        ];
        for (c, hex) in golden {
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            assert_eq!(decompress(c, &bytes, 4096).unwrap(), text, "{c}");
        }
    }

    #[test]
    fn names_and_attribute_bits_round_trip() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_name(c.name()), Ok(c));
            assert_eq!(Compression::from_attributes(c.attribute_bits()), Ok(c));
            // Timestamp-type and transactional bits do not disturb the codec.
            assert_eq!(
                Compression::from_attributes(c.attribute_bits() | 0x38),
                Ok(c)
            );
        }
        assert_eq!(
            Compression::from_name("uncompressed"),
            Ok(Compression::None)
        );
        assert_eq!(Compression::from_name("LZ4"), Ok(Compression::Lz4));
        let err = Compression::from_name("brotli").unwrap_err();
        for name in ["none", "gzip", "snappy", "lz4", "zstd", "brotli"] {
            assert!(err.contains(name), "{err}");
        }
        assert!(Compression::from_attributes(5).is_err());
        assert!(Compression::from_attributes(7).is_err());
    }
}
