//! `pipit producer-perf-test`: Kafka's kafka-producer-perf-test.sh (ProducerPerformance).
//!
//! Sends `--num-records` records of `--record-size` bytes (random A–Z, one payload
//! reused, as Kafka does) or lines of `--payload-file`, throttled to `--throughput`
//! records/s (-1 = unlimited). Latency is send → acknowledgement per record. A window
//! line every 5 s and the final line use Kafka's exact formats; MB is 1024 × 1024
//! bytes and percentiles come from the sorted latencies, as in ProducerPerformance.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::args::{Flag, Flags, client_config, now_ms, run_tool};
use crate::client::conn::ClientError;
use crate::client::producer::{DeliveryFuture, DeliveryReport, Producer};
use crate::client::records::Record;

pub const USAGE: &str = "\
Usage: pipit producer-perf-test --topic T --num-records N (--record-size S | --payload-file F)
                                --throughput R --producer-props k=v [k=v ...]

Measures produce throughput and latency (kafka-producer-perf-test.sh).

Options:
  --topic T                  topic to produce to (required)
  --num-records N            number of records (required)
  --record-size S            bytes per record
  --payload-file F           records are the lines of F (see --payload-delimiter), picked at random
  --payload-delimiter D      separator of payloads in --payload-file (default: newline)
  --throughput R             records per second, -1 for unlimited (required)
  --producer-props k=v ...   producer settings; bootstrap.servers is required (here or in a file)
  --producer.config FILE     producer properties file (alias --command-config)
  -h, --help                 print this text

Output: a line every 5 s, then
  N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.

Examples:
  pipit producer-perf-test --topic bench --num-records 500000 --record-size 1000 --throughput -1 \\
      --producer-props bootstrap.servers=127.0.0.1:9092 acks=1
  pipit producer-perf-test --topic bench --num-records 10000 --payload-file lines.txt --throughput 1000 \\
      --producer-props bootstrap.servers=127.0.0.1:9092 compression.type=lz4
";

/// Kafka's reporting interval.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

struct Opts {
    topic: String,
    num_records: u64,
    record_size: Option<usize>,
    payload_file: Option<String>,
    delimiter: String,
    throughput: f64,
    props: Vec<(String, String)>,
    files: Vec<String>,
}

fn parse(args: impl Iterator<Item = OsString>) -> Result<Option<Opts>, String> {
    let mut f = Flags::new(args);
    let mut topic = None;
    let mut num_records = None;
    let mut throughput = None;
    let mut o = Opts {
        topic: String::new(),
        num_records: 0,
        record_size: None,
        payload_file: None,
        delimiter: "\n".into(),
        throughput: -1.0,
        props: vec![],
        files: vec![],
    };
    while let Some(flag) = f.next_flag()? {
        let Flag::Long(name) = flag else {
            return Err("unexpected argument".into());
        };
        match name.as_str() {
            "help" => return Ok(None),
            "topic" => topic = Some(f.value(&name)?),
            "num-records" => num_records = Some(f.number::<u64>(&name)?),
            "record-size" => o.record_size = Some(f.number(&name)?),
            "payload-file" => o.payload_file = Some(f.value(&name)?),
            "payload-delimiter" => o.delimiter = f.value(&name)?,
            "throughput" => throughput = Some(f.number::<f64>(&name)?),
            "producer-props" => {
                let values = f.values_until_flag();
                if values.is_empty() {
                    return Err("option --producer-props requires k=v values".into());
                }
                for v in values {
                    o.props
                        .push(crate::client::config::parse_kv(&v).map_err(|e| e.to_string())?);
                }
            }
            "producer.config" | "command-config" => o.files.push(f.value(&name)?),
            "print-metrics" => {}
            other => return Err(format!("unknown option --{other}")),
        }
    }
    o.topic = topic.ok_or("--topic is required")?;
    o.num_records = num_records.ok_or("--num-records is required")?;
    o.throughput = throughput.ok_or("--throughput is required (-1 for unlimited)")?;
    if o.record_size.is_some() == o.payload_file.is_some() {
        return Err("give exactly one of --record-size and --payload-file".into());
    }
    if o.props.is_empty() && o.files.is_empty() {
        return Err(
            "--producer-props bootstrap.servers=HOST:PORT (or --producer.config) is required"
                .into(),
        );
    }
    Ok(Some(o))
}

pub fn run(args: impl Iterator<Item = OsString>) -> i32 {
    run_tool("producer-perf-test", USAGE, parse(args), |o| async move {
        perf(&o).await
    })
}

/// Kafka's ProducerPerformance.Stats: totals, a 5-second window, all latencies.
struct Stats {
    start: Instant,
    count: u64,
    bytes: u64,
    max_latency: u64,
    total_latency: u64,
    latencies: Vec<u32>,
    window_start: Instant,
    window_count: u64,
    window_bytes: u64,
    window_max: u64,
    window_total: u64,
}

impl Stats {
    fn new(n: u64) -> Stats {
        let now = Instant::now();
        Stats {
            start: now,
            count: 0,
            bytes: 0,
            max_latency: 0,
            total_latency: 0,
            latencies: Vec::with_capacity(n.min(10_000_000) as usize),
            window_start: now,
            window_count: 0,
            window_bytes: 0,
            window_max: 0,
            window_total: 0,
        }
    }

    fn record(&mut self, latency_ms: u64, bytes: u64, now: Instant) {
        self.count += 1;
        self.bytes += bytes;
        self.total_latency += latency_ms;
        self.max_latency = self.max_latency.max(latency_ms);
        self.latencies.push(latency_ms.min(u32::MAX as u64) as u32);
        self.window_count += 1;
        self.window_bytes += bytes;
        self.window_max = self.window_max.max(latency_ms);
        self.window_total += latency_ms;
        if now.duration_since(self.window_start) >= REPORT_INTERVAL {
            let elapsed = now.duration_since(self.window_start).as_millis().max(1) as f64;
            println!(
                "{}",
                window_line(
                    self.window_count,
                    self.window_bytes,
                    elapsed,
                    self.window_total,
                    self.window_max
                )
            );
            self.window_start = now;
            self.window_count = 0;
            self.window_bytes = 0;
            self.window_max = 0;
            self.window_total = 0;
        }
    }
}

/// `N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency.`
fn window_line(
    count: u64,
    bytes: u64,
    elapsed_ms: f64,
    total_latency: u64,
    max_latency: u64,
) -> String {
    let rate = 1000.0 * count as f64 / elapsed_ms;
    let mb = 1000.0 * bytes as f64 / elapsed_ms / (1024.0 * 1024.0);
    let avg = total_latency as f64 / count.max(1) as f64;
    format!(
        "{count} records sent, {rate:.1} records/sec ({mb:.2} MB/sec), {avg:.1} ms avg latency, {:.1} ms max latency.",
        max_latency as f64
    )
}

/// Kafka's final line; `latencies` sorted ascending.
fn final_line(
    count: u64,
    bytes: u64,
    elapsed_ms: f64,
    total_latency: u64,
    max_latency: u64,
    latencies: &[u32],
) -> String {
    let rate = 1000.0 * count as f64 / elapsed_ms;
    let mb = 1000.0 * bytes as f64 / elapsed_ms / (1024.0 * 1024.0);
    let avg = total_latency as f64 / count.max(1) as f64;
    let pct = |p: f64| {
        latencies
            .get((latencies.len() as f64 * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    format!(
        "{count} records sent, {rate:.6} records/sec ({mb:.2} MB/sec), {avg:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        max_latency as f64,
        pct(0.5),
        pct(0.95),
        pct(0.99),
        pct(0.999)
    )
}

/// Payloads live as long as the process: static `Bytes` are cloned and dropped
/// without touching a shared reference count (which two threads would fight over).
fn static_bytes(v: Vec<u8>) -> Bytes {
    Bytes::from_static(Vec::leak(v))
}

fn payloads(o: &Opts) -> Result<Vec<Bytes>, String> {
    if let Some(size) = o.record_size {
        // Kafka: one random payload of uppercase letters, reused for every record.
        let mut seed = (now_ms() as u64) | 1;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b'A' + (seed % 26) as u8
            })
            .collect();
        return Ok(vec![static_bytes(bytes)]);
    }
    let path = o.payload_file.as_deref().unwrap_or_default();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --payload-file {path}: {e}"))?;
    let list: Vec<Bytes> = text
        .split(o.delimiter.as_str())
        .filter(|s| !s.is_empty())
        .map(|s| static_bytes(s.as_bytes().to_vec()))
        .collect();
    if list.is_empty() {
        return Err(format!("--payload-file {path} has no payloads"));
    }
    println!(
        "Reading payloads from: {path}\nNumber of messages read: {}",
        list.len()
    );
    Ok(list)
}

async fn perf(o: &Opts) -> Result<(), String> {
    let payloads = payloads(o)?;
    let config = client_config(None, &o.files, &o.props)?;
    let producer = Producer::new(config).await.map_err(|e| e.to_string())?;
    producer
        .partitions(&o.topic)
        .await
        .map_err(|e| e.to_string())?;
    let n = o.num_records;
    let mut stats = Stats::new(n);
    let mut failures = Failures::default();
    // Records in send order; finished ones are counted from the front, in the
    // loop itself, so the tool adds no task, channel or wake-up per record.
    let mut waiting: VecDeque<(Instant, u64, DeliveryFuture)> = VecDeque::new();
    let start = Instant::now();
    let start_ms = now_ms();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        if o.throughput > 0.0 {
            let due = Duration::from_secs_f64(i as f64 / o.throughput);
            let elapsed = start.elapsed();
            if due > elapsed + Duration::from_millis(1) {
                smol::Timer::after(due - elapsed).await;
            }
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let value = payloads[(rng % payloads.len() as u64) as usize].clone();
        let size = value.len() as u64;
        let sent_at = Instant::now();
        let record = Record {
            key: None,
            value: Some(value),
            headers: vec![],
            // One clock read per record: CreateTime from the monotonic send time.
            timestamp: start_ms + sent_at.duration_since(start).as_millis() as i64,
        };
        let future = producer
            .send(&o.topic, None, record)
            .await
            .map_err(|e| e.to_string())?;
        waiting.push_back((sent_at, size, future));
        while let Some(r) = waiting.front().and_then(|(_, _, f)| f.try_report()) {
            if let Some((sent_at, size, _)) = waiting.pop_front() {
                settle(&mut stats, &mut failures, sent_at, size, r, sent_at);
            }
        }
    }
    let closed = producer.close().await;
    let now = Instant::now();
    for (sent_at, size, future) in waiting {
        let r = future.wait().await;
        settle(&mut stats, &mut failures, sent_at, size, r, now);
    }
    let elapsed = stats.start.min(start).elapsed().as_millis().max(1) as f64;
    stats.latencies.sort_unstable();
    println!(
        "{}",
        final_line(
            stats.count,
            stats.bytes,
            elapsed,
            stats.total_latency,
            stats.max_latency,
            &stats.latencies
        )
    );
    closed.map_err(|e| e.to_string())?;
    match failures.first {
        Some(e) => Err(format!(
            "{} of {n} records failed; first error: {e}",
            failures.count
        )),
        None => Ok(()),
    }
}

#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

/// Counts one finished record; `now` drives the 5-second window lines.
fn settle(
    stats: &mut Stats,
    failures: &mut Failures,
    sent_at: Instant,
    size: u64,
    result: Result<DeliveryReport, ClientError>,
    now: Instant,
) {
    match result {
        Ok(report) => {
            let latency = report
                .acked_at
                .saturating_duration_since(sent_at)
                .as_millis() as u64;
            stats.record(latency, size, now.max(report.acked_at));
        }
        Err(e) => {
            failures.count += 1;
            failures.first.get_or_insert_with(|| e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_line_has_kafkas_format() {
        let lat: Vec<u32> = (0..1000).collect();
        let line = final_line(500_000, 500_000_000, 37_846.7, 1_122_095_000, 3153, &lat);
        assert!(line.starts_with("500000 records sent, 13211."), "{line}");
        assert!(
            line.contains(
                " records/sec (12.60 MB/sec), 2244.19 ms avg latency, 3153.00 ms max latency, "
            ),
            "{line}"
        );
        assert!(
            line.ends_with("500 ms 50th, 950 ms 95th, 990 ms 99th, 999 ms 99.9th."),
            "{line}"
        );
    }

    #[test]
    fn window_line_has_kafkas_format() {
        assert_eq!(
            window_line(45566, 45_566_000, 5000.0, 45566 * 20, 30),
            "45566 records sent, 9113.2 records/sec (8.69 MB/sec), 20.0 ms avg latency, 30.0 ms max latency."
        );
    }
}
