//! Corruption of real data dirs (issue 10): a broker with 2 topics × 2 partitions
//! and small rings (65,536-byte segments, so each partition fills several slots)
//! gets numbered records with a checksum in every value from kcat (idempotent,
//! acks=all), is stopped with SIGTERM, and its data dir is kept as a template.
//! Each run copies the template, applies one seeded damage with
//! [`common::corrupt::inject`] (bits, a zeroed sector, a truncation or a deletion,
//! to a segment, index, timeindex, producer-state, checkpoint or metadata file),
//! starts the broker and reads every partition from the beginning with kcat.
//!
//! Each run asserts: the broker printed its ready line (within the harness's 15 s);
//! every record served is one that was produced, at its offset, with its checksum
//! intact, in offset order; kcat reaches the end of every partition (a read across
//! a quarantined range continues after it: consumers see an offset gap); every
//! record outside the damaged file is served; every record missing is named by the
//! broker's stderr (a quarantined offset range, a torn tail or an offline partition,
//! with the partition's directory). A partition may be offline only when a slot's
//! `.log` was deleted or truncated (ARCHITECTURE.md, Recovery); the others are
//! served whole.
//!
//! `PIPIT_CORRUPT_RUNS` runs (50 by default and in `make test`, 1,000 in `make
//! soak`); the template is produced again every [`RUNS_PER_TEMPLATE`] runs. Each
//! run prints its damage line (`seed 0x…: <file> <what>`); `PIPIT_CORRUPT_SEED`
//! replays from a given seed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Broker;
use common::clients::{kcat, kcat_ok};
use common::corrupt::{self, Damage, Kind};

const TOPICS: [&str; 2] = ["corrupt-a", "corrupt-b"];
const PARTITIONS: u32 = 2;
/// Records per partition: about 2.5 slots of 65,536 bytes.
const RECORDS: u32 = 1500;
const RUNS_PER_TEMPLATE: u32 = 25;

fn runs() -> u32 {
    common::env_count("PIPIT_CORRUPT_RUNS", 50)
}

fn first_seed() -> u64 {
    std::env::var("PIPIT_CORRUPT_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0xc0de_0000)
}

/// The checksum of the record's identity, carried in its value.
fn check(id: &str) -> u32 {
    common::fnv1a(id)
}

fn value(topic: &str, p: u32, i: u32) -> String {
    let id = format!("{topic}:{p}:{i}");
    format!("{id}:{:08x}:{}", check(&id), "x".repeat(48))
}

/// Whether a served value carries an intact checksum.
fn intact(v: &str) -> bool {
    let f: Vec<&str> = v.split(':').collect();
    f.len() == 5 && f[4] == "x".repeat(48) && format!("{:08x}", check(&f[..3].join(":"))) == f[3]
}

/// One partition's records as served: offset → value.
type Served = BTreeMap<u64, String>;

fn pdir(topic: &str, p: u32) -> String {
    format!("{topic}-{p}")
}

/// Reads a partition from the beginning to its end with kcat (bounded at 30 s).
fn read_all(b: &Broker, topic: &str, p: u32) -> Result<Served, String> {
    let addr = b.addr();
    let part = p.to_string();
    let out = kcat(
        &[
            "-b",
            &addr,
            "-C",
            "-t",
            topic,
            "-p",
            &part,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o %s\n",
        ],
        None,
    );
    if !out.status.success() {
        return Err(format!(
            "kcat did not reach the end of {topic}-{p} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut served = Served::new();
    let mut last = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (o, v) = line
            .split_once(' ')
            .ok_or_else(|| format!("{topic}-{p}: unparsable line {line:?}"))?;
        let o: u64 = o
            .parse()
            .map_err(|_| format!("{topic}-{p}: bad offset in {line:?}"))?;
        if last.is_some_and(|l| l >= o) {
            return Err(format!(
                "{topic}-{p}: offset {o} after {last:?}: out of order"
            ));
        }
        last = Some(o);
        served.insert(o, v.to_string());
    }
    Ok(served)
}

/// Starts from an empty data dir, creates the topics, produces, reads back
/// everything, stops the broker and copies its data dir to `template`.
fn build_template(b: &mut Broker, template: &Path) -> BTreeMap<String, Served> {
    let _ = fs::remove_dir_all(b.data_dir());
    b.restart();
    let addr = b.addr();
    for topic in TOPICS {
        let out = Command::new(env!("CARGO_BIN_EXE_pipit"))
            .args([
                "topics",
                "--bootstrap-server",
                &addr,
                "--create",
                "--topic",
                topic,
            ])
            .args(["--partitions", &PARTITIONS.to_string()])
            .args([
                "--config",
                "segment.bytes=65536",
                "--config",
                "ring.segments=8",
            ])
            .output()
            .expect("pipit topics");
        assert!(out.status.success(), "create {topic}: {out:?}");
    }
    let mut expected = BTreeMap::new();
    for topic in TOPICS {
        for p in 0..PARTITIONS {
            let lines: String = (0..RECORDS).map(|i| value(topic, p, i) + "\n").collect();
            let part = p.to_string();
            kcat_ok(
                &[
                    "-P",
                    "-b",
                    &addr,
                    "-t",
                    topic,
                    "-p",
                    &part,
                    "-X",
                    "enable.idempotence=true",
                    "-X",
                    "acks=all",
                    "-X",
                    "linger.ms=0",
                    "-X",
                    "batch.num.messages=16",
                ],
                Some(lines.as_bytes()),
            );
            let served = read_all(b, topic, p).unwrap_or_else(|e| panic!("template: {e}"));
            assert_eq!(
                served.len(),
                RECORDS as usize,
                "template {topic}-{p}: acked records"
            );
            assert!(served.values().all(|v| intact(v)));
            expected.insert(pdir(topic, p), served);
        }
    }
    let status = b.sigterm_and_wait();
    assert!(status.success(), "stop: {status}\n{}", b.log_tail());
    let _ = fs::remove_dir_all(template);
    copy_dir(&b.data_dir(), template);
    expected
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// The offset ranges stderr reports lost for a partition dir: quarantines and
/// recovery's holes, as `first..next`.
fn logged_ranges(stderr: &str, dir: &str) -> Vec<(u64, u64)> {
    let needle = format!("/{dir}:");
    let mut ranges = Vec::new();
    for line in stderr.lines().filter(|l| l.contains(&needle)) {
        if let Some(rest) = line.split("quarantined offsets ").nth(1) {
            let span = rest.split_whitespace().next().unwrap_or("");
            if let Some((a, z)) = span.split_once("..") {
                if let (Ok(a), Ok(z)) = (a.parse(), z.parse()) {
                    ranges.push((a, z));
                }
            }
        }
        for hole in line.split("first_offset: ").skip(1) {
            let a = hole
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("");
            let z = hole
                .split("next_offset: ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .unwrap_or("");
            if let (Ok(a), Ok(z)) = (a.parse(), z.parse()) {
                ranges.push((a, z));
            }
        }
    }
    ranges
}

/// The offsets the damaged file held, if it is a slot `.log` in `dir`:
/// `base..next slot's base` (unbounded for the newest slot).
fn damaged_range(d: &Damage, dir: &str, template: &Path) -> Option<(u64, u64)> {
    if !d.is_log() || d.partition_dir().as_deref() != Some(dir) {
        return None;
    }
    let base = d.slot_base()?;
    let mut bases: Vec<u64> = fs::read_dir(template.join(dir))
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".log")?;
            (stem.len() == 20).then(|| stem.parse().ok()).flatten()
        })
        .collect();
    bases.sort();
    let next = bases.into_iter().find(|&b| b > base).unwrap_or(u64::MAX);
    Some((base, next))
}

/// Checks one damaged start; returns what went wrong.
fn verify(
    b: &Broker,
    d: &Damage,
    template: &Path,
    expected: &BTreeMap<String, Served>,
) -> Result<(), String> {
    let stderr = b.stderr_log();
    for topic in TOPICS {
        for p in 0..PARTITIONS {
            let dir = pdir(topic, p);
            let offline = stderr.contains(&format!("partition {dir} is offline"));
            if offline {
                let slot_file_lost = d.is_log()
                    && d.partition_dir().as_deref() == Some(dir.as_str())
                    && matches!(d.kind, Kind::Delete | Kind::Truncate { .. });
                if !slot_file_lost {
                    return Err(format!("{dir} is offline after damage elsewhere"));
                }
                continue;
            }
            let served = read_all(b, topic, p)?;
            let want = &expected[&dir];
            for (o, v) in &served {
                if !intact(v) || want.get(o) != Some(v) {
                    return Err(format!(
                        "{dir}: offset {o} served {v:?}, produced {:?}",
                        want.get(o)
                    ));
                }
            }
            // Damage the read path finds is logged before the fetch is answered.
            let stderr = b.stderr_log();
            let exempt = damaged_range(d, &dir, template);
            let logged = logged_ranges(&stderr, &dir);
            let torn = stderr.contains(&format!("/{dir}: recovery cut"));
            for o in want.keys().filter(|o| !served.contains_key(o)) {
                if !exempt.is_some_and(|(a, z)| (a..z).contains(o)) {
                    return Err(format!(
                        "{dir}: offset {o}, outside the damaged file, is not served"
                    ));
                }
                if !torn && !logged.iter().any(|&(a, z)| (a..z).contains(o)) {
                    return Err(format!(
                        "{dir}: offset {o} is not served and stderr names no range holding it ({logged:?})"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A broker stopped on a copy of a fresh template, its template and records.
struct Fixture {
    b: Broker,
    template: PathBuf,
    expected: BTreeMap<String, Served>,
}

impl Fixture {
    fn new() -> Fixture {
        let mut b = Broker::start(&[]);
        let template = b.dir().join("template");
        let expected = build_template(&mut b, &template);
        Fixture {
            b,
            template,
            expected,
        }
    }

    /// A fresh copy of the template as the data dir.
    fn reset(&self) {
        let data = self.b.data_dir();
        let _ = fs::remove_dir_all(&data);
        copy_dir(&self.template, &data);
    }

    /// Starts the damaged broker and checks it (see the module doc); `d` is the
    /// damage whose file's records may be missing.
    fn start_and_verify(&mut self, d: &Damage) {
        println!("{d}");
        self.b.restart(); // panics (with the log) unless the ready line comes within 15 s
        if let Err(e) = verify(&self.b, d, &self.template, &self.expected) {
            panic!("{d}: {e}\n{}", self.b.log_tail());
        }
        let status = self.b.sigterm_and_wait();
        assert!(
            status.success(),
            "{d}: stop {status}\n{}",
            self.b.log_tail()
        );
    }

    fn data_file(&self, rel: &str) -> PathBuf {
        self.b.data_dir().join(rel)
    }
}

/// The stem of the slot holding the newest records of partition dir `dir`.
fn newest_slot(data: &Path, dir: &str) -> String {
    let mut stems: Vec<String> = fs::read_dir(data.join(dir))
        .expect("partition dir")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".log")
                .filter(|s| s.len() == 20)
                .map(str::to_string)
        })
        .collect();
    stems.sort();
    stems.pop().expect("a slot holds records")
}

/// The copy (`a` or `b`) of a state file with the higher sequence.
fn newest_copy(base: &Path) -> PathBuf {
    let seq = |slot: &str| {
        let bytes = fs::read(base.with_extension(slot)).unwrap_or_default();
        bytes
            .get(5..13)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
    };
    let slot = if seq("b") > seq("a") { "b" } else { "a" };
    base.with_extension(slot)
}

#[test]
fn a_consumer_reaches_the_end_across_a_quarantined_tail() {
    let mut fx = Fixture::new();
    fx.reset();
    let stem = newest_slot(&fx.b.data_dir(), "corrupt-a-0");
    let file = fx.data_file(&format!("corrupt-a-0/{stem}.log"));
    let d = corrupt::apply(
        &file,
        Kind::Truncate {
            from: 65536,
            to: 4096,
        },
        0,
    );
    fx.start_and_verify(&d);
}

/// pipit's own consumer reads `topic`-`p` from the earliest offset until its
/// position reaches the high watermark (at most 100 polls); returns the position.
fn pipit_consume_to_end(addr: &str, topic: &str, p: i32) -> (i64, Option<i64>, usize) {
    use pipit::client::config::ClientConfig;
    use pipit::client::consumer::{Consumer, OffsetSpec};
    let (config, _) = ClientConfig::from_props(&[("bootstrap.servers".into(), addr.to_string())])
        .unwrap_or_else(|e| panic!("config: {e}"));
    smol::block_on(async {
        let mut c = Consumer::new(config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.assign(&[(topic.to_string(), p, OffsetSpec::Earliest)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut records = 0;
        for _ in 0..100 {
            records += c
                .poll(Duration::from_millis(100))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .len();
            let hw = c.high_watermark(topic, p);
            if hw.is_some() && c.position(topic, p) == hw {
                break;
            }
        }
        (
            c.position(topic, p).unwrap_or(-1),
            c.high_watermark(topic, p),
            records,
        )
    })
}

#[test]
fn pipit_consumer_reaches_the_end_across_a_quarantined_tail() {
    let mut fx = Fixture::new();
    fx.reset();
    let stem = newest_slot(&fx.b.data_dir(), "corrupt-a-0");
    let file = fx.data_file(&format!("corrupt-a-0/{stem}.log"));
    corrupt::apply(
        &file,
        Kind::Truncate {
            from: 65536,
            to: 4096,
        },
        0,
    );
    fx.b.restart();
    let (position, hw, records) = pipit_consume_to_end(&fx.b.addr(), "corrupt-a", 0);
    assert_eq!(
        (position, hw),
        (i64::from(RECORDS), Some(i64::from(RECORDS))),
        "position after {records} records\n{}",
        fx.b.log_tail()
    );
    assert!(
        records < RECORDS as usize,
        "the quarantined records are not served"
    );
}

#[test]
fn a_truncated_index_and_a_deleted_timeindex_are_restored_and_the_partition_served() {
    let mut fx = Fixture::new();
    fx.reset();
    let first = "corrupt-b-0/00000000000000000000";
    corrupt::apply(
        &fx.data_file(&format!("{first}.timeindex")),
        Kind::Delete,
        0,
    );
    let d = corrupt::apply(
        &fx.data_file(&format!("{first}.index")),
        Kind::Truncate { from: 136, to: 64 },
        0,
    );
    fx.start_and_verify(&d);
}

#[test]
fn a_damaged_newer_metadata_copy_does_not_hide_a_topic() {
    let mut fx = Fixture::new();
    fx.reset();
    // The older copy was written before the second topic existed.
    let newest = newest_copy(&fx.data_file("pipit-meta"));
    let d = corrupt::apply(&newest, Kind::FlipBits(vec![20]), 0);
    fx.start_and_verify(&d);
}

#[test]
fn a_deleted_newer_metadata_copy_does_not_hide_a_topic() {
    // Seed 0x5eed0058 of the soak: the second write's copy deleted leaves one copy of
    // sequence 1, as if the second topic had never been created.
    let mut fx = Fixture::new();
    fx.reset();
    let newest = newest_copy(&fx.data_file("pipit-meta"));
    let d = corrupt::apply(&newest, Kind::Delete, 0x5eed_0058);
    fx.start_and_verify(&d);
}

#[test]
fn a_damaged_older_metadata_copy_is_replaced_at_the_next_start() {
    let mut fx = Fixture::new();
    fx.reset();
    let meta = fx.data_file("pipit-meta");
    let newest = newest_copy(&meta);
    let older = meta.with_extension(if newest.extension() == Some("a".as_ref()) {
        "b"
    } else {
        "a"
    });
    let d = corrupt::apply(&older, Kind::FlipBits(vec![9]), 0);
    fx.start_and_verify(&d);
    assert!(
        fx.b.stderr_log().contains("may be lost"),
        "{}",
        fx.b.log_tail()
    );
    fx.start_and_verify(&d);
    assert!(
        !fx.b.stderr_log().contains("may be lost"),
        "{}",
        fx.b.log_tail()
    );
}

#[test]
fn with_both_metadata_copies_damaged_topics_are_rebuilt_from_their_directories() {
    let mut fx = Fixture::new();
    fx.reset();
    let meta = fx.data_file("pipit-meta");
    corrupt::apply(&meta.with_extension("a"), Kind::ZeroSector(0), 0);
    let d = corrupt::apply(&meta.with_extension("b"), Kind::ZeroSector(0), 0);
    fx.start_and_verify(&d);
    let log = fx.b.stderr_log();
    assert!(log.contains("overrides are LOST"), "{log}");
    // The rebuilt list was persisted: the next start reads it back, nothing to rebuild.
    fx.start_and_verify(&d);
    assert!(
        !fx.b.stderr_log().contains("rebuilt"),
        "{}",
        fx.b.log_tail()
    );
}

#[test]
fn with_the_metadata_deleted_topics_are_rebuilt_from_their_directories() {
    let mut fx = Fixture::new();
    fx.reset();
    let meta = fx.data_file("pipit-meta");
    corrupt::apply(&meta.with_extension("a"), Kind::Delete, 0);
    let d = corrupt::apply(&meta.with_extension("b"), Kind::Delete, 0);
    fx.start_and_verify(&d);
}

#[test]
fn with_both_producer_id_copies_damaged_the_broker_starts() {
    let mut fx = Fixture::new();
    fx.reset();
    let ids = fx.data_file("pipit-producer-ids");
    let mut d = None;
    for slot in ["a", "b"] {
        let f = ids.with_extension(slot);
        if f.exists() {
            d = Some(corrupt::apply(&f, Kind::FlipBits(vec![18]), 0));
        }
    }
    fx.start_and_verify(&d.expect("kcat's idempotent producer got an id"));
}

#[test]
fn damaged_data_dirs_start_and_serve_only_intact_records() {
    let n = runs();
    let seed0 = first_seed();
    let mut fx: Option<Fixture> = None;
    let mut restarts = Vec::new();
    let mut kinds: BTreeMap<&str, u32> = BTreeMap::new();
    for run in 0..n {
        if run % RUNS_PER_TEMPLATE == 0 {
            drop(fx.take()); // stops and removes the previous broker first
            fx = Some(Fixture::new());
        }
        let fx = fx.as_mut().expect("a fixture");
        fx.reset();
        let d = corrupt::inject(&fx.b.data_dir(), seed0 + u64::from(run));
        print!("run {run}: ");
        *kinds
            .entry(match d.kind {
                Kind::FlipBits(_) => "flip",
                Kind::ZeroSector(_) => "zero",
                Kind::Truncate { .. } => "truncate",
                Kind::Delete => "delete",
            })
            .or_default() += 1;
        let t = Instant::now();
        fx.start_and_verify(&d);
        restarts.push(t.elapsed());
    }
    restarts.sort();
    println!(
        "corruption: {n} runs from seed {seed0:#x}, damages {kinds:?}, start+verify+stop max {:?}",
        restarts.last().copied().unwrap_or(Duration::ZERO)
    );
}
