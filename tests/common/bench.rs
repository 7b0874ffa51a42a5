//! Shared by the benchmarks: the machine description and BENCHMARKS.md sections.

use std::path::Path;

/// "N × CPU model, Linux version" for the record.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} × {cpu}, Linux {}", kernel.trim())
}

/// Replaces (or appends) the section between `<!-- name:begin -->` and
/// `<!-- name:end -->` of BENCHMARKS.md.
pub fn update_section(name: &str, body: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# pipit benchmarks\n\nWritten by `make bench` and `make footprint`; each section says how it was measured.\n"
            .into()
    });
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let section = format!("{begin}\n{body}\n{end}");
    if let (Some(a), Some(b)) = (text.find(&begin), text.find(&end)) {
        text.replace_range(a..b + end.len(), &section);
    } else {
        text.push_str(&format!("\n{section}\n"));
    }
    std::fs::write(path, text).expect("BENCHMARKS.md is writable");
}

/// Bound on one timed client run.
pub const RUN_TIMEOUT_SECS: u32 = 180;

/// What a timed command printed and what it cost.
pub struct Timed {
    pub stdout: String,
    /// Wall-clock seconds of the whole command.
    pub wall: f64,
    /// User + system CPU seconds of the command and its children (bash `time`).
    pub cpu: f64,
}

/// Runs `cmd` under bash `time` (TIMEFORMAT '%R %U %S') and `timeout`; panics with
/// its stderr unless it exits 0.
pub fn timed(cmd: &str) -> Timed {
    let script = format!("TIMEFORMAT='%R %U %S'; time (timeout {RUN_TIMEOUT_SECS} {cmd})");
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd}: {text}");
    let nums: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(nums.len() >= 3, "timing of {cmd}: {text}");
    let n = nums.len();
    Timed {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        wall: nums[n - 3],
        cpu: nums[n - 2] + nums[n - 1],
    }
}

/// Writes `n` lines of `size - 1` letters + newline: kcat's `-l` input, one record per line.
pub fn write_payload_lines(path: &Path, n: u64, size: u64) {
    let line: Vec<u8> = (0..size.saturating_sub(1))
        .map(|i| b'a' + (i % 26) as u8)
        .chain([b'\n'])
        .collect();
    std::fs::write(path, line.repeat(n as usize)).expect("payload file is writable");
}

/// kcat (librdkafka, C) producing the lines of `file` with linger.ms=5 and
/// batch.size=1000000; returns (wall seconds, CPU seconds).
pub fn kcat_produce(addr: &str, topic: &str, file: &Path, acks: &str) -> (f64, f64) {
    let t = timed(&format!(
        "kcat -P -b {addr} -t {topic} -X acks={acks} -X linger.ms=5 -X batch.size=1000000 -l {}",
        file.display()
    ));
    (t.wall, t.cpu)
}

/// The numbers of Kafka's final perf-test line, checked for shape:
/// `N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency,
/// P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.`
pub fn parse_final_line(stdout: &str) -> [f64; 9] {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains("records sent,") && l.ends_with("99.9th."))
        .unwrap_or_else(|| panic!("no final perf-test line in:\n{stdout}"));
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_start_matches('(').parse().ok())
        .collect();
    nums.try_into()
        .unwrap_or_else(|n: Vec<f64>| panic!("{} numbers in {line:?}", n.len()))
}
