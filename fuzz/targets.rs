//! The bodies of pipit's fuzz targets, one function per target, shared by the cargo-fuzz
//! crate (`fuzz/fuzz_targets/<target>.rs`, nightly, libFuzzer) and the stable replay test
//! (`tests/fuzz_corpus.rs`), which both include this file with `#[path]`. So a crash found by
//! the fuzzer replays on stable with `cargo test --test fuzz_corpus` once its input is in
//! `fuzz/regressions/<target>/`.
//!
//! Every target turns arbitrary bytes into a call of the code under test and checks what
//! that code promises beyond "does not panic": allocations stay under a bound linear in
//! the input (or the caller's cap) while the call runs, measured by [`Meter`], the global
//! allocator both crates install; decompressed output never passes its cap; a recovered
//! ring serves only CRC-valid batches and takes appends. Inputs whose CRCs the fuzzer
//! cannot guess get them recomputed when a flag bit of the input asks for it, so the
//! fuzzer reaches the code behind the checksum too.

#![allow(dead_code)] // each including crate calls one target or all of them

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, HeaderVersion};

use pipit::client::compression::{self, CodecError, Compression};
use pipit::client::config::{ClientConfig, parse_kv};
use pipit::client::conn::{decode_body, response_body};
use pipit::client::records::{BatchBuilder, Record, decode_batches};
use pipit::log::state_file::StateFile;
use pipit::protocol::properties::parse_properties;
use pipit::protocol::{DecodeError, decode_request_bytes, unsupported_version_response, versions};
use pipit::server::config::BrokerConfig;
use pipit::storage::batch::{CRC32C, HEADER_LEN, LOG_OVERHEAD, RecordBatch};
use pipit::storage::ring::Hole;
use pipit::storage::sim::{MemBackend, Sizes};
use pipit::storage::{Backend, Checkpoint, FileId, FullPolicy, Ring, RingConfig};

/// A target body: arbitrary bytes in, a panic on a broken promise.
pub type Target = fn(&[u8]);

/// Every target by name: the directory names under `fuzz/corpus/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("request", request),
    ("codecs", codecs),
    ("records", records),
    ("ring_open", ring_open),
    ("state_file", state_file),
    ("config", config),
    ("response", response),
];

// ---------------------------------------------------------------------------------------
// Allocation meter.

/// Bytes any codec may hold beside its output: zstd's window (pipit caps it at 8 MiB, see
/// `compression.rs`) and lz4's two 4 MiB block buffers, plus slack.
pub const CODEC_OVERHEAD: usize = 20 << 20;
/// Beyond this, an allocation inside a metered call is refused outright (the process then
/// aborts with "memory allocation of N bytes failed"): a bomb must not take the machine.
const HARD_CEILING: usize = 256 << 20;

#[derive(Clone, Copy)]
struct Budget {
    on: bool,
    live: usize,
    peak: usize,
}

thread_local! {
    // Only the thread running a target is metered; const-initialised, so using it
    // from inside the allocator allocates nothing.
    static BUDGET: Cell<Budget> = const { Cell::new(Budget { on: false, live: 0, peak: 0 }) };
}

/// A global allocator that counts the bytes live on this thread while [`metered`] runs.
pub struct Meter;

fn charge(size: usize) -> bool {
    BUDGET
        .try_with(|b| {
            let mut v = b.get();
            if !v.on {
                return true;
            }
            let live = v.live.saturating_add(size);
            if live > HARD_CEILING {
                return false;
            }
            v.live = live;
            v.peak = v.peak.max(live);
            b.set(v);
            true
        })
        .unwrap_or(true)
}

fn refund(size: usize) {
    let _ = BUDGET.try_with(|b| {
        let mut v = b.get();
        if v.on {
            v.live = v.live.saturating_sub(size);
            b.set(v);
        }
    });
}

#[allow(unsafe_code)] // a global allocator needs `unsafe impl GlobalAlloc`
// SAFETY (all four methods): forwarded unchanged to the system allocator; a refused
// allocation returns null, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !charge(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !charge(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refund(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !charge(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if new_size < layout.size() {
            refund(layout.size() - new_size);
        }
        p
    }
}

/// Runs `f` and panics if the bytes it held at once ever exceeded `bound`. Without
/// [`Meter`] installed as the global allocator this checks nothing.
pub fn metered<R>(what: &str, bound: usize, f: impl FnOnce() -> R) -> R {
    BUDGET.with(|b| {
        b.set(Budget {
            on: true,
            live: 0,
            peak: 0,
        })
    });
    let r = f();
    let peak = BUDGET.with(|b| {
        let v = b.get();
        b.set(Budget { on: false, ..v });
        v.peak
    });
    assert!(
        peak <= bound,
        "{what}: {peak} bytes allocated at once, bound {bound}"
    );
    r
}

/// The peak of the last [`metered`] call (for the replay test's report).
pub fn last_peak() -> usize {
    BUDGET.with(|b| b.get().peak)
}

// ---------------------------------------------------------------------------------------
// Small helpers.

fn be16(d: &[u8], at: usize) -> u16 {
    d.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

fn be32(d: &[u8], at: usize) -> u32 {
    d.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn be64(d: &[u8], at: usize) -> u64 {
    d.get(at..at + 8)
        .map(|s| u64::from_be_bytes(s.try_into().unwrap_or([0; 8])))
        .unwrap_or(0)
}

/// Recomputes the CRC-32C of every batch laid back to back in `buf` whose length fits,
/// so mutated batches get past the checksum and into the code behind it.
pub fn fix_batch_crcs(buf: &mut [u8]) {
    let mut pos = 0usize;
    for _ in 0..10_000 {
        let len = be32(buf, pos + 8) as i32;
        let Some(total) = usize::try_from(len).ok().map(|l| l + LOG_OVERHEAD) else {
            return;
        };
        if total < HEADER_LEN || pos + total > buf.len() {
            return;
        }
        let crc = CRC32C.checksum(&buf[pos + 21..pos + total]);
        buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        pos += total;
    }
}

// ---------------------------------------------------------------------------------------
// request: a request frame (after the 4-byte size) through header parse, version check,
// guard and kafka-protocol's decoder.

/// Bytes a decoded request may hold per byte of frame: the guard promises "a small
/// multiple of the body length" (an array element of ≥ 1 wire byte becomes a struct of
/// up to a few hundred bytes, plus `Vec` doubling).
pub const REQUEST_ALLOC_FACTOR: usize = 512;

/// The frame as given, then (when it names no accepted API and version) the same frame
/// with its key and version bytes mapped onto an advertised row, so every (key, version)
/// pipit serves is reached from any input.
pub fn request(data: &[u8]) {
    request_frame(data);
    if data.len() < 4 {
        return;
    }
    let rows: Vec<_> = versions::advertised().collect();
    let row = rows[usize::from(be16(data, 0)) % rows.len()];
    let span = (row.max - row.accepted_min + 1) as u16;
    let version = row.accepted_min + (be16(data, 2) % span) as i16;
    let (key, ver) = ((row.key as i16).to_be_bytes(), version.to_be_bytes());
    if data[0..2] != key || data[2..4] != ver {
        let mut frame = data.to_vec();
        frame[0..2].copy_from_slice(&key);
        frame[2..4].copy_from_slice(&ver);
        request_frame(&frame);
    }
}

fn request_frame(frame: &[u8]) {
    let bytes = Bytes::copy_from_slice(frame);
    let bound = 64 * 1024 + REQUEST_ALLOC_FACTOR * frame.len();
    let r = metered("request", bound, || decode_request_bytes(bytes));
    if let Err(DecodeError::UnsupportedVersion { .. }) = r {
        metered("unsupported_version_response", 64 * 1024, || {
            unsupported_version_response(frame)
        });
    }
}

// ---------------------------------------------------------------------------------------
// codecs: each client decompression codec against its cap.

/// Input: codec selector, cap selector (2^0..2^20 bytes), then the compressed bytes. With
/// bit 7 of the selector, the bytes are also compressed and must decompress to themselves.
pub fn codecs(data: &[u8]) {
    let [sel, cap_sel, input @ ..] = data else {
        return;
    };
    let codec = Compression::ALL[usize::from(sel % 5)];
    let max_out = 1usize << (cap_sel % 21);
    let bound = CODEC_OVERHEAD + 3 * max_out + 4 * input.len();
    match metered("decompress", bound, || {
        compression::decompress(codec, input, max_out)
    }) {
        Ok(out) => assert!(out.len() <= max_out, "{codec}: {} > {max_out}", out.len()),
        Err(CodecError::TooLarge { limit, .. }) => assert_eq!(limit, max_out),
        Err(_) => {}
    }
    if sel & 0x80 != 0 {
        let packed = compression::compress(codec, input).expect("compress into a Vec");
        let back = compression::decompress(codec, &packed, input.len())
            .unwrap_or_else(|e| panic!("{codec} round trip: {e}"));
        assert_eq!(back, input, "{codec} round trip");
    }
}

// ---------------------------------------------------------------------------------------
// records: storage's checked batch view and the client's record reader.

/// Bytes the record reader may hold per byte of decompressed records section: a record of
/// ≥ 7 bytes becomes a `ConsumerRecord` (~120 bytes) and headers of ≥ 2 bytes a
/// `(String, Option<Bytes>)`, plus `Vec` doubling.
pub const RECORDS_ALLOC_FACTOR: usize = 128;

/// Input: flags (bit 0: recompute CRCs; bit 1: also build a batch from the input and read
/// it back; bits 2–4: its codec), cap selector (1 KiB..1 MiB), then fetched bytes.
pub fn records(data: &[u8]) {
    let [flags, cap_sel, rest @ ..] = data else {
        return;
    };
    let mut buf = rest.to_vec();
    if flags & 1 != 0 {
        fix_batch_crcs(&mut buf);
    }
    // Storage's view: every batch it accepts lies inside the buffer.
    let mut at = &buf[..];
    for _ in 0..10_000 {
        let Ok(b) = RecordBatch::new_checked(at) else {
            break;
        };
        assert!(b.total_len() >= HEADER_LEN && b.total_len() <= at.len());
        assert_eq!(b.as_bytes().len(), b.total_len());
        at = &at[b.total_len()..];
    }
    let cap = 1usize << (10 + cap_sel % 11);
    let bound = CODEC_OVERHEAD + RECORDS_ALLOC_FACTOR * cap + 8 * buf.len();
    if let Ok(recs) = metered("decode_batches", bound, || decode_batches(&buf, cap)) {
        assert!(recs.len() <= buf.len() + cap);
    }
    if flags & 2 != 0 {
        round_trip(Compression::ALL[usize::from((flags >> 2) % 5)], rest);
    }
}

/// Records cut from `rest` at 0xff bytes (odd pieces keys, even values) survive a
/// build → decode round trip.
fn round_trip(codec: Compression, rest: &[u8]) {
    let pieces: Vec<&[u8]> = rest.split(|&b| b == 0xff).take(16).collect();
    let want: Vec<(Option<Bytes>, Option<Bytes>)> = pieces
        .chunks(2)
        .map(|kv| {
            let key = kv.get(1).map(|k| Bytes::copy_from_slice(k));
            (key, Some(Bytes::copy_from_slice(kv[0])))
        })
        .collect();
    let mut b = BatchBuilder::new(codec);
    for (i, (key, value)) in want.iter().enumerate() {
        b.push(Record {
            key: key.clone(),
            value: value.clone(),
            headers: vec![("h".into(), key.clone())],
            timestamp: i as i64,
        });
    }
    let batch = b.build().expect("build a batch");
    RecordBatch::new_checked(&batch[..]).expect("built batch passes the broker's check");
    let got = decode_batches(&batch, 1 << 20).expect("read back a built batch");
    assert_eq!(got.len(), want.len());
    for (i, (r, (key, value))) in got.iter().zip(&want).enumerate() {
        assert_eq!((r.offset, r.timestamp), (i as i64, i as i64));
        assert_eq!((&r.key, &r.value), (key, value));
    }
}

// ---------------------------------------------------------------------------------------
// ring_open: segment, index and checkpoint recovery from arbitrary bytes.

/// Bytes of the fixed part of a `ring_open` input (see [`ring_open`]).
pub const RING_HEAD: usize = 5 + 4 * 9 + 8 + 1 + 2 * 36;

/// Input: slots−2 (mod 3), segment size selector (1, 2 or 4 KiB), index interval u16,
/// flags (bit 0 reject_new, bit 1 recompute CRCs), 4 labels (tag byte, 0 = free, then u64),
/// checkpoint recovery point u64, hole count and 2 holes (slot base u64, start u32, end u32,
/// first u64, next u64), then the files' bytes: slot 0 log, index, timeindex, slot 1 ...
pub fn ring_open(data: &[u8]) {
    if data.len() < RING_HEAD {
        return;
    }
    let cfg = RingConfig {
        slots: 2 + u16::from(data[0] % 3),
        segment_bytes: 1024 << (data[1] % 3),
        index_interval: u32::from(be16(data, 2).max(1)),
        policy: match data[4] & 1 {
            0 => FullPolicy::OverwriteOldest,
            _ => FullPolicy::RejectNew,
        },
    };
    let sizes = Sizes {
        slots: cfg.slots,
        log: u64::from(cfg.segment_bytes),
        index: cfg.index_bytes(),
        time_index: cfg.time_index_bytes(),
    };
    let mut backend = MemBackend::new(sizes);
    let mut files = &data[RING_HEAD..];
    for n in 0..cfg.slots {
        let label = &data[5 + 9 * usize::from(n)..];
        if label[0] != 0 {
            backend.relabel(n, Some(be64(label, 1))).expect("label");
        }
        for f in [FileId::log(n), FileId::index(n), FileId::time_index(n)] {
            let dst = backend.bytes_mut(f);
            let k = dst.len().min(files.len());
            dst[..k].copy_from_slice(&files[..k]);
            if f == FileId::log(n) && data[4] & 2 != 0 {
                fix_batch_crcs(dst);
            }
            files = &files[k..];
        }
    }
    let cp = &data[5 + 36..];
    let mut checkpoint = Checkpoint {
        recovery_point: be64(cp, 0),
        ..Checkpoint::default()
    };
    for h in 0..usize::from(cp[8] % 3) {
        let h = &cp[9 + 36 * h..];
        let hole = Hole {
            start: be32(h, 8),
            end: be32(h, 12),
            first_offset: be64(h, 16),
            next_offset: be64(h, 24),
        };
        let _ = checkpoint.holes.push((be64(h, 0), hole));
    }
    let (mut ring, _report) = match Ring::open(backend, cfg, &checkpoint) {
        Ok(r) => r,
        Err(e) => panic!("open failed on a well-sized backend: {e:?}"),
    };
    check_ring(&mut ring);
}

/// Everything the ring serves is whole, CRC-valid batches with increasing offsets (the
/// read path checks what recovery trusted below the checkpoint), and it takes (or, full under reject_new, refuses) a new batch that
/// it then serves.
fn check_ring(ring: &mut Ring<MemBackend>) {
    let mut offset = ring.log_start();
    let mut buf = Vec::new();
    for _ in 0..10_000 {
        let span = match ring.read(offset, 1 << 20) {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => break,
        };
        assert!(
            span.next_offset > offset,
            "read at {offset} made no progress: {span:?}"
        );
        let seg = ring.config().segment_bytes;
        assert!(
            span.len <= seg,
            "served {span:?}, longer than a {seg}-byte slot"
        );
        buf.resize(span.len as usize, 0);
        ring.read_span(&span, &mut buf).expect("read a served span");
        let mut at = &buf[..];
        let mut expect_base = span.first_offset as i64;
        while !at.is_empty() {
            let b = match RecordBatch::new_checked(at) {
                Ok(b) => b,
                Err(e) => panic!("served an invalid batch at {offset}: {e:?}"),
            };
            assert!(
                b.header().base_offset >= expect_base,
                "offsets go back in a span"
            );
            expect_base = b.header().last_offset() + 1;
            at = &at[b.total_len()..];
        }
        offset = span.next_offset;
    }
    let mut batch = vec![0u8; 200];
    let n = pipit::storage::batch::build_test_batch(&mut batch, 100, 2, 1, 7).expect("batch");
    let next = ring.next_offset();
    match ring.append(&batch[..n], 1) {
        Ok(a) => {
            assert_eq!(a.base_offset, next);
            let span = ring.read(next, 1 << 20);
            let first = span.as_ref().ok().and_then(|s| s.map(|s| s.first_offset));
            assert_eq!(
                first,
                Some(next),
                "appended {a:?} after recovery, read back {span:?}; log {}..{}, usage {:?}",
                ring.log_start(),
                ring.next_offset(),
                ring.usage()
            );
        }
        Err(
            pipit::storage::AppendError::RingFull | pipit::storage::AppendError::OffsetOverflow,
        ) => {}
        Err(e) => panic!("append after recovery: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// state_file: the two-slot state files (checkpoints, producer ids) from arbitrary bytes.

/// Input: flags (bit 0/1: give slot a/b a valid frame around its bytes; bit 2: decode as
/// `i64` instead of a ring `Checkpoint`), length of slot a u16, then slot a, then slot b.
pub fn state_file(data: &[u8]) {
    let [flags, _, _, rest @ ..] = data else {
        return;
    };
    let split = usize::from(be16(data, 1)).min(rest.len());
    let (a, b) = rest.split_at(split);
    let dir = scratch_dir();
    let base = dir.join("state");
    for (slot, bytes, fix) in [("a", a, flags & 1 != 0), ("b", b, flags & 2 != 0)] {
        let bytes = if fix {
            frame_state(bytes)
        } else {
            bytes.to_vec()
        };
        std::fs::write(dir.join(format!("state.{slot}")), bytes).expect("write a slot");
    }
    if flags & 4 != 0 {
        state_round_trip::<i64>(&base);
    } else {
        state_round_trip::<Checkpoint>(&base);
    }
}

fn state_round_trip<T>(base: &std::path::Path)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok((mut file, value)) = StateFile::<T>::open_with_cap(base, 4096) else {
        return;
    };
    // Whatever was read, a write then read gives it back and never regresses the sequence.
    if let Some(v) = value {
        let before = file.sequence();
        let seq = file.write(&v).expect("write the state back");
        assert!(seq > before);
        assert_eq!(file.read().expect("read it again"), Some(v));
    }
}

/// `payload` wrapped as a valid slot: magic, version 1, a sequence, its length, the CRC.
fn frame_state(payload: &[u8]) -> Vec<u8> {
    let mut out = b"PPST\x01".to_vec();
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn crc32c(bytes: &[u8]) -> u32 {
    CRC32C.checksum(bytes)
}

/// A per-process directory in /dev/shm when there is one (no disk writes per input).
fn scratch_dir() -> std::path::PathBuf {
    let root = std::path::Path::new("/dev/shm");
    let root = if root.is_dir() {
        root.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = root.join(format!("pipit-fuzz-state-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

// ---------------------------------------------------------------------------------------
// config: server.properties text, --override pairs and the tools' property files.

/// Input: properties text, then after a NUL byte one `key=value` override per line.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (props, overrides) = text.split_once('\0').unwrap_or((&text, ""));
    let overrides: Vec<(String, String)> =
        overrides.lines().filter_map(|l| parse_kv(l).ok()).collect();
    let limit = 256 * 1024 + 64 * data.len();
    match metered("BrokerConfig::parse", limit, || {
        BrokerConfig::parse(props, &overrides)
    }) {
        Ok(_) => {}
        Err(e) => {
            // Invalid config names the key and the value.
            let msg = e.to_string();
            assert!(msg.contains(&e.key) && msg.contains(&e.value), "{msg}");
        }
    }
    let pairs = parse_properties(props);
    for (_, v) in &pairs {
        assert_eq!(v.trim_end(), v, "values lose trailing whitespace");
    }
    let _ = ClientConfig::from_props(&pairs);
}

// ---------------------------------------------------------------------------------------
// response: the client's response decoding, as a hostile broker would feed it.

/// (API key, highest version) of every request pipit's client sends (`our_max` in
/// src/client/conn.rs).
pub const CLIENT_APIS: &[(i16, i16)] = &[
    (0, 12),
    (1, 12),
    (2, 7),
    (3, 12),
    (18, 3),
    (19, 7),
    (20, 5),
    (22, 4),
    (32, 4),
    (37, 3),
    (44, 1),
];

/// Bytes a decoded response may hold per byte of frame (as [`REQUEST_ALLOC_FACTOR`]).
pub const RESPONSE_ALLOC_FACTOR: usize = 512;

/// Input: API key i16 and version i16 of the request this answers (mapped onto
/// [`CLIENT_APIS`] when not in it), then the response frame after its 4-byte size, which
/// the client's frame reader guarantees is at least 4 bytes (the correlation id).
pub fn response(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let raw_key = be16(data, 0) as i16;
    let (key, max) = CLIENT_APIS
        .iter()
        .copied()
        .find(|(k, _)| *k == raw_key)
        .unwrap_or(CLIENT_APIS[usize::from(be16(data, 0)) % CLIENT_APIS.len()]);
    let version = (be16(data, 2) % (max as u16 + 1)) as i16;
    let raw = data[4..].to_vec();
    let correlation_id = be32(&raw, 0) as i32;
    let bound = 64 * 1024 + RESPONSE_ALLOC_FACTOR * raw.len();
    metered("response", bound, || {
        decode_response(key, version, raw, correlation_id)
    });
}

fn decode<T: Decodable + HeaderVersion>(
    key: i16,
    raw: Vec<u8>,
    corr: i32,
    version: i16,
) -> Option<T> {
    let body = response_body("fuzz", raw, corr, T::header_version(version)).ok()?;
    decode_body::<T>("fuzz", key, body, version).ok()
}

fn decode_response(key: i16, version: i16, raw: Vec<u8>, corr: i32) {
    match key {
        0 => drop(decode::<ProduceResponse>(key, raw, corr, version)),
        1 => {
            // The consumer then reads each partition's records.
            if let Some(r) = decode::<FetchResponse>(key, raw, corr, version) {
                for t in &r.responses {
                    for p in &t.partitions {
                        if let Some(records) = &p.records {
                            let _ = decode_batches(records, 1 << 20);
                        }
                    }
                }
            }
        }
        2 => drop(decode::<ListOffsetsResponse>(key, raw, corr, version)),
        3 => drop(decode::<MetadataResponse>(key, raw, corr, version)),
        18 => drop(decode::<ApiVersionsResponse>(key, raw, corr, version)),
        19 => drop(decode::<CreateTopicsResponse>(key, raw, corr, version)),
        20 => drop(decode::<DeleteTopicsResponse>(key, raw, corr, version)),
        22 => drop(decode::<InitProducerIdResponse>(key, raw, corr, version)),
        32 => drop(decode::<DescribeConfigsResponse>(key, raw, corr, version)),
        37 => drop(decode::<CreatePartitionsResponse>(key, raw, corr, version)),
        _ => drop(decode::<IncrementalAlterConfigsResponse>(
            key, raw, corr, version,
        )),
    }
}
