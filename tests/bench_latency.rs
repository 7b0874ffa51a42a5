//! `make bench` (ignored by `cargo test`): produce latency under file work (issue 9).
//!
//! The same run measures this build and a baseline build of pipit (the commit before
//! the partition core; `tools/bench.sh` builds it into target/baseline and passes its
//! path in PIPIT_BASELINE_BIN). For each build and each `log.durability`:
//! 1. the maximum rate of `pipit producer-perf-test` (linger.ms=0, acks=1, 100-byte
//!    records, one partition);
//! 2. p99 latency at half that rate: idle (64 MiB segments, no roll in the run), while
//!    another topic with a 512 MiB ring is created (fallocate), and while segments roll
//!    (1 MiB segments: a roll every few hundred ms);
//! 3. consume throughput (consumer-perf-test) over what was produced.
//!
//! Both builds are driven by this build's producer-perf-test, so only the broker
//! differs. `dd` with and without fdatasync to the same directory gives the disk's
//! figures in the same run. Writes the "latency" section of BENCHMARKS.md.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Broker;
use common::bench::{machine, parse_final_line, timed, update_section};

const SIZE: u64 = 100;
const PHASE_SECS: f64 = 6.0;

fn pipit() -> String {
    env!("CARGO_BIN_EXE_pipit").to_string()
}

/// `max.message.bytes` is given because the baseline build refused a 1 MiB
/// segment with the default (about 1 MiB) limit.
fn topics_create(addr: &str, topic: &str, segment_bytes: u64, segments: u32) {
    let t = timed(&format!(
        "{} topics --bootstrap-server {addr} --create --topic {topic} --partitions 1 \
         --config segment.bytes={segment_bytes} --config ring.segments={segments} \
         --config max.message.bytes=1000000",
        pipit()
    ));
    assert!(t.stdout.contains("Created topic"), "{}", t.stdout);
}

/// (records/s, p99 ms) of one producer-perf-test run.
fn produce(addr: &str, topic: &str, records: u64, throughput: i64) -> (f64, f64) {
    let t = timed(&format!(
        "{} producer-perf-test --topic {topic} --num-records {records} --record-size {SIZE} \
         --throughput {throughput} --producer-props bootstrap.servers={addr} acks=1 linger.ms=0",
        pipit()
    ));
    let f = parse_final_line(&t.stdout);
    assert_eq!(f[0] as u64, records, "every record acknowledged");
    (f[1], f[7])
}

/// MB/s of consumer-perf-test reading `records` from the start.
fn consume(addr: &str, topic: &str, records: u64) -> f64 {
    let t = timed(&format!(
        "{} consumer-perf-test --bootstrap-server {addr} --topic {topic} --messages {records} \
         --timeout 20000",
        pipit()
    ));
    // Kafka's row: start.time, end.time, data.consumed.in.MB, MB.sec, ...
    let row = t.stdout.lines().last().unwrap_or_default();
    let f: Vec<&str> = row.split(',').map(str::trim).collect();
    f.get(3)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("consumer-perf-test row: {row:?}\n{}", t.stdout))
}

struct Figures {
    max_rate: f64,
    rate: i64,
    idle_p99: f64,
    create_p99: f64,
    roll_p99: f64,
    consume_mbs: f64,
}

fn measure(bin: Option<PathBuf>, durability: &str) -> Figures {
    let broker = Broker::start_bin(
        bin,
        &[
            ("log.durability", durability),
            ("log.flush.interval.messages", "10000"),
            ("log.flush.interval.ms", "1000"),
        ],
    );
    let addr = broker.addr();
    topics_create(&addr, "steady", 64 << 20, 4);
    topics_create(&addr, "rolling", 1 << 20, 64);
    // Warm up, then the maximum.
    produce(&addr, "steady", 50_000, -1);
    let (max_rate, _) = produce(&addr, "steady", 400_000, -1);
    let rate = (max_rate / 2.0) as i64;
    let n = (rate as f64 * PHASE_SECS) as u64;
    let (_, idle_p99) = produce(&addr, "steady", n, rate);
    // While a 512 MiB ring is reserved: the create starts 1 s into the run.
    let create = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            topics_create(&addr, "big", 64 << 20, 8);
        })
    };
    let (_, create_p99) = produce(&addr, "steady", n, rate);
    create.join().expect("create thread");
    let (_, roll_p99) = produce(&addr, "rolling", n, rate);
    let consume_mbs = consume(&addr, "rolling", n.min(500_000));
    Figures {
        max_rate,
        rate,
        idle_p99,
        create_p99,
        roll_p99,
        consume_mbs,
    }
}

fn dd(dir: &std::path::Path, sync: bool) -> f64 {
    let of = format!("of={}", dir.join("dd.tmp").display());
    let mut cmd = Command::new("dd");
    cmd.args(["if=/dev/zero", &of, "bs=1M", "count=256", "status=none"]);
    if sync {
        cmd.arg("conv=fdatasync");
    }
    let t = std::time::Instant::now();
    let ok = cmd
        .stdout(Stdio::null())
        .status()
        .expect("dd runs")
        .success();
    assert!(ok);
    let _ = std::fs::remove_file(dir.join("dd.tmp"));
    256.0 * 1.048_576 / t.elapsed().as_secs_f64()
}

fn row(build: &str, durability: &str, f: &Figures) -> String {
    format!(
        "| {build} | {durability} | {:.0} | {} | {:.1} | {:.1} ({:.1}×) | {:.1} ({:.1}×) | {:.0} |\n",
        f.max_rate,
        f.rate,
        f.idle_p99,
        f.create_p99,
        f.create_p99 / f.idle_p99.max(0.1),
        f.roll_p99,
        f.roll_p99 / f.idle_p99.max(0.1),
        f.consume_mbs
    )
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn produce_latency_under_topic_creation_and_segment_rolls() {
    let baseline = std::env::var_os("PIPIT_BASELINE_BIN")
        .map(PathBuf::from)
        .expect("PIPIT_BASELINE_BIN: tools/bench.sh builds the baseline and sets it");
    let rev = std::env::var("PIPIT_BASELINE_REV").unwrap_or_else(|_| "baseline".into());
    let mut table = String::new();
    let mut verdicts = String::new();
    for durability in ["fsync", "replicated"] {
        let before = measure(Some(baseline.clone()), durability);
        let after = measure(None, durability);
        table.push_str(&row(&format!("baseline {rev}"), durability, &before));
        table.push_str(&row("this commit", durability, &after));
        let worst = after.create_p99.max(after.roll_p99);
        verdicts.push_str(&format!(
            "- {durability}: p99 at half the maximum rate {:.1} ms (goal ≤ 5 ms: {}); under file work \
             {:.1}× idle (goal ≤ 2×: {}); max rate {:.2}× and consume {:.2}× the baseline's (goal ≥ 1: {}).\n",
            after.idle_p99,
            if after.idle_p99 <= 5.0 { "met" } else { "missed" },
            worst / after.idle_p99.max(0.1),
            if worst <= 2.0 * after.idle_p99.max(0.1) { "met" } else { "missed" },
            after.max_rate / before.max_rate,
            after.consume_mbs / before.consume_mbs,
            if after.max_rate >= 0.95 * before.max_rate && after.consume_mbs >= 0.95 * before.consume_mbs {
                "met within 5% noise"
            } else {
                "missed"
            },
        ));
    }
    let dir = common::unique_temp_dir();
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (dd_plain, dd_sync) = (dd(&dir, false), dd(&dir, true));
    let _ = std::fs::remove_dir_all(&dir);
    let body = format!(
        "## Produce latency under file work (issue 9)\n\n\
         Command: `make bench` (`cargo test --release --test bench_latency -- --ignored`). Machine: {}.\n\
         Same run, same producer (`pipit producer-perf-test`, acks=1, linger.ms=0, {SIZE}-byte records, one \
         partition), two brokers: the baseline build and this commit. Max rate: 400,000 records at \
         `--throughput -1`. Then {PHASE_SECS} s at half that rate: idle (64 MiB segments), while a topic \
         with a 512 MiB ring (8 × 64 MiB) is created, and into 1 MiB segments (a roll every few hundred \
         ms). Consume: consumer-perf-test over the rolling topic. replicated: \
         log.flush.interval.messages=10000, log.flush.interval.ms=1000.\n\n\
         | broker | durability | max records/s | rate used | idle p99 ms | p99 ms during 512 MiB create (× idle) | p99 ms while rolling (× idle) | consume MB/s |\n\
         |---|---|---|---|---|---|---|---|\n{table}\n\
         {verdicts}\n\
         dd to the same filesystem, same run: {dd_plain:.0} MB/s without sync, {dd_sync:.0} MB/s with \
         conv=fdatasync (256 MiB, bs=1M).\n",
        machine(),
    );
    println!("{body}");
    update_section("latency", &body);
}
