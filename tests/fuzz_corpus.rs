//! Replays every input of every fuzz target's seed corpus (`fuzz/corpus/<target>/`) and
//! every minimised crash that was fixed (`fuzz/regressions/<target>/`) through the same
//! target bodies the fuzzer runs (`fuzz/targets.rs`), on stable Rust. So `make test`
//! proves the corpus still passes and a fixed crash stays fixed. Crashes found but not yet
//! fixed live in `fuzz/open/<target>/` and are replayed only by the ignored
//! `open_crashes_still_fail` (see RELIABILITY.md).

#![allow(unsafe_code)] // the shared targets install a counting global allocator

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

#[global_allocator]
static METER: targets::Meter = targets::Meter;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the directory is absent.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs each input of `kind` through its target; returns how many ran.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    for (name, run) in targets::TARGETS {
        for path in inputs(kind, name) {
            let data = std::fs::read(&path).unwrap();
            eprintln!("{name}: {}", path.display());
            run(&data);
            ran += 1;
        }
    }
    ran
}

#[test]
fn every_seed_corpus_input_passes_its_fuzz_target() {
    for (name, _) in targets::TARGETS {
        assert!(
            !inputs("corpus", name).is_empty(),
            "fuzz/corpus/{name}/ has no seed inputs"
        );
    }
    assert!(replay("corpus") > 0);
}

#[test]
fn every_fixed_crash_stays_fixed() {
    replay("regressions");
}

/// Each input of `fuzz/open/` still fails its target (a panic, or an abort from a refused
/// allocation), each in a child process so one abort does not hide the others. When one
/// passes, its bug is fixed: move it to `fuzz/regressions/<target>/`.
#[test]
#[ignore = "crashes found by fuzzing and not fixed yet (RELIABILITY.md); run by hand"]
fn open_crashes_still_fail() {
    let mut fixed = Vec::new();
    for (name, _) in targets::TARGETS {
        for path in inputs("open", name) {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "replay_one_input", "--nocapture"])
                .env("PIPIT_FUZZ_INPUT", format!("{name}:{}", path.display()))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            eprintln!("{name}: {} -> {status}", path.display());
            if status.success() {
                fixed.push(path);
            }
        }
    }
    assert!(
        fixed.is_empty(),
        "no longer crash, move to fuzz/regressions/: {fixed:?}"
    );
}

/// Runs the one input named by `PIPIT_FUZZ_INPUT=<target>:<path>` (used by
/// `open_crashes_still_fail`, and by hand to see a crash's message).
#[test]
#[ignore = "driven by PIPIT_FUZZ_INPUT"]
fn replay_one_input() {
    let Ok(spec) = std::env::var("PIPIT_FUZZ_INPUT") else {
        return;
    };
    let (name, path) = spec.split_once(':').unwrap();
    let (_, run) = targets::TARGETS.iter().find(|(n, _)| *n == name).unwrap();
    run(&std::fs::read(path).unwrap());
}

#[test]
fn the_meter_catches_an_allocation_over_its_bound() {
    let caught = std::panic::catch_unwind(|| {
        targets::metered("test", 1000, || std::hint::black_box(vec![0u8; 4096]).len())
    });
    assert!(caught.is_err());
    assert_eq!(
        targets::metered("test", 8192, || vec![1u8; 4096].len()),
        4096
    );
    assert!(targets::last_peak() >= 4096);
}

/// Rebuilds the seeds derived from checked-in sources: record batches and compressed
/// sections out of the captured Produce requests and Fetch responses
/// (`tools/fuzz.sh capture`), rings from `tests/fixtures/segments`, state files written
/// by `StateFile`, and the boards' `server.properties`.
#[test]
#[ignore = "writes fuzz/corpus/; run by hand after tools/fuzz.sh capture"]
fn regenerate_derived_seeds() {
    use bytes::Bytes;
    use kafka_protocol::messages::FetchResponse;
    use kafka_protocol::protocol::Decodable;
    use pipit::protocol::{Request, decode_request};

    let corpus = fuzz_dir().join("corpus");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    // Record sets: [flags 0, cap 1 MiB] + the bytes; each compressed section for codecs.
    let mut sets: Vec<(String, Bytes)> = Vec::new();
    for path in inputs("corpus", "request") {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if let Ok((_, Request::Produce(p))) = decode_request(&std::fs::read(&path).unwrap()) {
            for t in &p.topic_data {
                for d in &t.partition_data {
                    if let Some(r) = &d.records {
                        sets.push((name.clone(), r.clone()));
                    }
                }
            }
        }
    }
    for path in inputs("corpus", "response") {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        if !name.contains("-fetch-") {
            continue;
        }
        let version = i16::from_be_bytes([data[2], data[3]]);
        // Fetch responses use header v1 from v12: correlation id, then empty tagged fields.
        let mut body = Bytes::copy_from_slice(&data[8 + usize::from(version >= 12)..]);
        if let Ok(f) = FetchResponse::decode(&mut body, version) {
            for t in &f.responses {
                for p in &t.partitions {
                    if let Some(r) = p.records.as_ref().filter(|r| !r.is_empty()) {
                        sets.push((name.clone(), r.clone()));
                    }
                }
            }
        }
    }
    for (i, (name, set)) in sets.iter().enumerate() {
        write(
            "records",
            &format!("{name}-{i}.bin"),
            &[&[0u8, 10][..], set].concat(),
        );
        let mut at = &set[..];
        while let Ok(b) = pipit::storage::RecordBatch::new_checked(at) {
            let codec = b.header().codec();
            if codec != 0 {
                let section = &b.as_bytes()[pipit::storage::batch::HEADER_LEN..];
                write(
                    "codecs",
                    &format!("{name}-{i}.bin"),
                    &[&[codec, 20][..], section].concat(),
                );
            }
            at = &at[b.total_len()..];
        }
    }
    // Rings: 3 slots of 4 KiB, index interval 256, labelled as the fixture files are named.
    for (fixture, flags) in [("valid", 0u8), ("corrupt", 0), ("corrupt", 2)] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/segments")
            .join(fixture);
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        let mut input = vec![1u8, 2, 1, 0, flags];
        let mut files = Vec::new();
        for n in 0..4 {
            match logs.get(n) {
                Some(log) => {
                    let base: u64 = log.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                    input.push(1);
                    input.extend_from_slice(&base.to_be_bytes());
                    for ext in ["log", "index", "timeindex"] {
                        files.extend(std::fs::read(log.with_extension(ext)).unwrap());
                    }
                }
                None => input.extend_from_slice(&[0; 9]),
            }
        }
        input.resize(targets::RING_HEAD, 0);
        input.extend(files);
        write("ring_open", &format!("{fixture}-{flags}.bin"), &input);
    }
    // State files as StateFile writes them: two generations, so both slots hold a copy.
    let tmp = std::env::temp_dir().join(format!("pipit-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let slots = |base: &Path| {
        let a = std::fs::read(base.with_extension("a")).unwrap_or_default();
        let b = std::fs::read(base.with_extension("b")).unwrap_or_default();
        (a, b)
    };
    let mut cp = pipit::storage::Checkpoint {
        recovery_point: 4242,
        ..Default::default()
    };
    let hole = pipit::storage::ring::Hole {
        start: 561,
        end: 1122,
        first_offset: 24,
        next_offset: 27,
    };
    cp.holes.push((21, hole)).unwrap();
    let base = tmp.join("cp");
    let (mut f, _) = pipit::log::state_file::StateFile::open(&base).unwrap();
    f.write(&cp).unwrap();
    cp.recovery_point += 1;
    f.write(&cp).unwrap();
    let base_i = tmp.join("pid");
    let (mut g, _) = pipit::log::state_file::StateFile::<i64>::open(&base_i).unwrap();
    g.write(&1000).unwrap();
    g.write(&2000).unwrap();
    for (name, flags, (a, b)) in [
        ("checkpoint", 0u8, slots(&base)),
        ("i64", 4, slots(&base_i)),
    ] {
        let len = (a.len() as u16).to_be_bytes();
        write(
            "state_file",
            &format!("{name}.bin"),
            &[&[flags, len[0], len[1]][..], &a, &b].concat(),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    // server.properties of every board, one also with --override pairs after a NUL.
    let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("boards");
    for board in std::fs::read_dir(&boards).unwrap() {
        let board = board.unwrap().path();
        for f in std::fs::read_dir(&board).into_iter().flatten() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "properties") {
                let name = format!(
                    "{}-{}",
                    board.file_name().unwrap().to_string_lossy(),
                    f.file_name().unwrap().to_string_lossy()
                );
                write("config", &name, &std::fs::read(&f).unwrap());
            }
        }
    }
    write(
        "config",
        "overrides.txt",
        b"log.dirs=/tmp/x\nlisteners=PLAINTEXT://[::1]:9092\n\0broker.id=3\nlog.retention.hours=1\n",
    );
    write(
        "config",
        "client.properties",
        b"bootstrap.servers=127.0.0.1:9092\nacks=all\nenable.idempotence=true\n\
          compression.type=zstd\nlinger.ms=5\n# comment\n! also\nkey\\ with\\:escapes = v\\u00e9\\\n  continued\n",
    );
}
