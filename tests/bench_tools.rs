//! `make bench` (ignored by `cargo test`): pipit's producer against librdkafka (issue 4).
//!
//! One `pipit broker` (ring 8 × 64 MiB, one partition); the same workload, 500,000 ×
//! 1,000-byte records, with acks=1 and acks=all, through three clients in the same
//! run: `pipit producer-perf-test`, kcat (librdkafka 2.0.2, C) and confluent-kafka
//! (librdkafka 2.16 driven from Python). Every client's wall time and CPU time (bash
//! `time`: user + system of the process and its children) are recorded, so a
//! client-bound figure shows as one. pipit and kcat run twice per acks setting and the
//! faster run counts (the machine is shared). Writes the "tools" section of
//! BENCHMARKS.md; the figure the issue targets is the records/s ratio pipit / kcat.

mod common;

use common::Broker;
use common::bench::{
    kcat_produce, machine, parse_final_line, timed, update_section, write_payload_lines,
};
use common::clients::py_venv;

const N: u64 = 500_000;
const SIZE: u64 = 1_000;
const TOPIC: &str = "bench";
/// Runs per client and acks setting; the fastest counts.
const RUNS: usize = 2;

/// One client's figures for one acks setting.
struct Row {
    client: &'static str,
    acks: &'static str,
    /// Records per second over the client process's whole wall time.
    records_per_sec: f64,
    wall: f64,
    cpu: f64,
    /// avg, p50, p95, p99, p99.9, max in ms, where the client reports them.
    latency: Option<[f64; 6]>,
}

fn pipit_produce(addr: &str, acks: &'static str) -> (Row, String) {
    let t = timed(&format!(
        "{} producer-perf-test --topic {TOPIC} --num-records {N} --record-size {SIZE} \
         --throughput -1 --producer-props bootstrap.servers={addr} acks={acks}",
        env!("CARGO_BIN_EXE_pipit")
    ));
    let f = parse_final_line(&t.stdout);
    assert_eq!(f[0] as u64, N, "every record acknowledged: {}", t.stdout);
    let row = Row {
        client: "pipit producer-perf-test",
        acks,
        records_per_sec: N as f64 / t.wall,
        wall: t.wall,
        cpu: t.cpu,
        // avg, p50, p95, p99, p99.9, max
        latency: Some([f[3], f[5], f[6], f[7], f[8], f[4]]),
    };
    let line = t.stdout.lines().last().unwrap_or_default().to_string();
    (row, line)
}

fn kcat_row(addr: &str, file: &std::path::Path, acks: &'static str) -> Row {
    let (wall, cpu) = kcat_produce(addr, TOPIC, file, acks);
    Row {
        client: "kcat (librdkafka 2.0.2, C)",
        acks,
        records_per_sec: N as f64 / wall,
        wall,
        cpu,
        latency: None,
    }
}

fn python_row(addr: &str, acks: &'static str) -> Row {
    let t = std::time::Instant::now();
    let p = py_venv(
        "perf_produce.py",
        &[addr, TOPIC, &N.to_string(), &SIZE.to_string(), acks],
    );
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(p.get("records").i64() as u64, N, "all records acked: {p:?}");
    let f = |k: &str| p.get(k).f64();
    Row {
        client: "confluent-kafka 2.16.1 (Python)",
        acks,
        records_per_sec: f("records_per_sec"),
        wall,
        cpu: f("client_cpu_sec"),
        latency: Some([
            f("avg_ms"),
            f("p50_ms"),
            f("p95_ms"),
            f("p99_ms"),
            f("p999_ms"),
            f("max_ms"),
        ]),
    }
}

fn best(mut rows: Vec<Row>) -> Row {
    rows.sort_by(|a, b| b.records_per_sec.total_cmp(&a.records_per_sec));
    rows.swap_remove(0)
}

fn table_row(r: &Row, kcat: &Row) -> String {
    let lat = r.latency.map_or("not reported".to_string(), |l| {
        format!(
            "{:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0}",
            l[0], l[1], l[2], l[3], l[4], l[5]
        )
    });
    format!(
        "| {} | {} | {:.0} | {:.0} | {lat} | {:.2} s over {:.2} s | {:.2} |\n",
        r.client,
        r.acks,
        r.records_per_sec,
        r.records_per_sec * SIZE as f64 / 1e6,
        r.cpu,
        r.wall,
        r.records_per_sec / kcat.records_per_sec
    )
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn pipit_producer_against_librdkafka_500k_records() {
    let broker = Broker::start(&[
        ("log.segment.bytes", "67108864"),
        ("log.ring.segments", "8"),
    ]);
    let addr = broker.addr();
    let payload = broker.dir().join("payload.txt");
    write_payload_lines(&payload, N, SIZE);
    // One lap over the fresh ring first: every measured run then wraps it (steady state).
    kcat_produce(&addr, TOPIC, &payload, "1");
    let mut table = String::new();
    let mut lines = String::new();
    let mut ratios = Vec::new();
    for acks in ["1", "all"] {
        let mut kcats = Vec::new();
        let mut pipits = Vec::new();
        for _ in 0..RUNS {
            kcats.push(kcat_row(&addr, &payload, acks));
            let (row, line) = pipit_produce(&addr, acks);
            lines.push_str(&format!("acks={acks}: `{line}`\n"));
            pipits.push(row);
        }
        let (kcat, pipit) = (best(kcats), best(pipits));
        let python = python_row(&addr, acks);
        ratios.push(pipit.records_per_sec / kcat.records_per_sec);
        for r in [&pipit, &kcat, &python] {
            table.push_str(&table_row(r, &kcat));
        }
    }
    let body = format!(
        "## pipit's producer vs librdkafka (issue 4)\n\n\
         Command: `make bench` (`cargo test --release --test bench_tools -- --ignored`). Machine: {}.\n\
         Workload: {N} records × {SIZE} bytes (500 MB) to one partition of one `pipit broker` \
         (ring 8 × 64 MiB, wrapping; `log.durability=fsync`), same run, clients one at a time.\n\
         pipit: `pipit producer-perf-test --throughput -1` (defaults: linger.ms=5, batch.size=1000000, \
         acks=1: one Produce in flight per partition; acks=all: idempotent, up to 5 in flight). kcat: `-X linger.ms=5 -X batch.size=1000000` (librdkafka \
         default max.in.flight=1000000). confluent-kafka: tests/clients/perf_produce.py (same settings). \
         pipit and kcat: best of {RUNS} runs; records/s over the whole process (start to exit). \
         CPU = user + system seconds of the client process (bash `time`; Python: getrusage). \
         Latency is send → acknowledgement per record, in ms; kcat does not report it.\n\n\
         | client | acks | records/s | MB/s | latency avg / p50 / p95 / p99 / p99.9 / max (ms) | client CPU | records/s vs kcat |\n\
         |---|---|---|---|---|---|---|\n{table}\n\
         **pipit / kcat** (target ≥ 1): acks=1 **{:.2}**, acks=all **{:.2}**.\n\n\
         pipit's own final lines (its rate excludes process start and metadata):\n\n{lines}",
        machine(),
        ratios[0],
        ratios[1],
    );
    println!("{body}");
    update_section("tools", &body);
}
