//! Integration-test harness: runs the real `pipit broker` binary on 127.0.0.1.
//!
//! A [`Broker`] owns one child process and one private temp directory
//! (`log.dirs` lives in `<dir>/data`, each run's stderr in `<dir>/stderr.<n>.log`).
//! It binds an ephemeral port and is ready once the binary prints
//! `pipit: listening on PLAINTEXT://127.0.0.1:<port>`. Drop kills the child and
//! removes the directory; when a test is panicking, Drop first prints the tail of
//! the broker's log so the failure explains itself. Client helpers live in
//! [`clients`] (kcat, Python interpreters, every call bounded by a timeout), hand-made
//! Kafka frames in [`wire`] and a small JSON reader for the scripts' output in [`json`].
#![allow(dead_code)] // each tests/*.rs crate uses a different part of the harness

pub mod bench;
pub mod clients;
pub mod corrupt;
pub mod json;
pub mod powercut;
pub mod requests;
pub mod small_disk;
pub mod wire;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a broker may take to print its ready line (contract: 15 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a SIGTERM'd broker may take to finish in-flight work and exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const READY_PREFIX: &str = "pipit: listening on PLAINTEXT://";
/// Bytes of the broker log shown in failure messages.
const LOG_TAIL_BYTES: usize = 6000;

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A running (or stopped, between `sigterm_and_wait`/`kill9` and `restart`) broker.
pub struct Broker {
    dir: PathBuf,
    overrides: Vec<(String, String)>,
    child: Option<Child>,
    addr: String,
    run: u32,
    /// Set once a log tail went into a message, so Drop does not print it twice.
    tail_shown: std::cell::Cell<bool>,
    /// Another build of pipit to run (benchmarks compare against a baseline).
    bin: Option<PathBuf>,
    /// Environment variables for the broker process (e.g. the power-cut journal).
    env: Vec<(String, String)>,
}

impl Broker {
    /// Starts a broker on a fixed free port (picked now), so a restart comes
    /// back on the same address: clients that must reconnect by themselves
    /// (retry tests) keep working across `kill9` + `restart`.
    pub fn start_on_fixed_port() -> Broker {
        Broker::start_on_fixed_port_with(&[], &[])
    }

    /// [`Broker::start_on_fixed_port`] with `--override`s and environment variables for every run.
    pub fn start_on_fixed_port_with(overrides: &[(&str, &str)], env: &[(&str, &str)]) -> Broker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let listeners = format!("PLAINTEXT://127.0.0.1:{port}");
        let mut all = vec![("listeners", listeners.as_str())];
        all.extend_from_slice(overrides);
        let b = Broker::start_env(None, &all, env);
        assert_eq!(b.addr(), format!("127.0.0.1:{port}"));
        b
    }

    /// Client properties for a producer that must ride out a broker restart:
    /// acks=all, short timeouts, many retries; `extra` is added at the end.
    pub fn retrying_producer_props(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let base = [
            ("acks", "all"),
            ("linger.ms", "1"),
            ("retries", "100"),
            ("retry.backoff.ms", "50"),
            ("request.timeout.ms", "2000"),
        ];
        std::iter::once(("bootstrap.servers".to_string(), self.addr()))
            .chain(
                base.iter()
                    .chain(extra)
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            )
            .collect()
    }

    /// Starts `pipit broker` with an ephemeral listener, a fresh `log.dirs` and the
    /// given `--override key=value` pairs; returns once the ready line was printed.
    pub fn start(overrides: &[(&str, &str)]) -> Broker {
        Broker::start_bin(None, overrides)
    }

    /// [`Broker::start`] with another pipit binary (`None`: this build).
    pub fn start_bin(bin: Option<PathBuf>, overrides: &[(&str, &str)]) -> Broker {
        Broker::start_env(bin, overrides, &[])
    }

    fn start_env(bin: Option<PathBuf>, overrides: &[(&str, &str)], env: &[(&str, &str)]) -> Broker {
        let dir = unique_temp_dir();
        let mut broker = Broker {
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dir,
            child: None,
            addr: String::new(),
            run: 0,
            tail_shown: std::cell::Cell::new(false),
            bin,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        broker.spawn();
        broker
    }

    /// Sets (or replaces) an `--override key=value` for the next [`Broker::restart`],
    /// as an operator editing server.properties between runs would.
    pub fn set_override(&mut self, key: &str, value: &str) {
        self.overrides.retain(|(k, _)| k != key);
        self.overrides.push((key.to_string(), value.to_string()));
    }

    /// `127.0.0.1:<port>` of the current run.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// The current run's process id (for /proc figures such as VmHWM).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// A `VmHWM`/`VmRSS`-style field of the broker's /proc status, in KiB.
    pub fn proc_status_kib(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The broker's `log.dirs`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The temp directory the test may use for its own files (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the current run wrote to stderr so far.
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(self.stderr_path(self.run)).unwrap_or_default()
    }

    /// The last few KB of the current run's stderr, for assertion messages.
    pub fn log_tail(&self) -> String {
        self.tail_shown.set(true);
        let log = self.stderr_log();
        let mut start = log.len().saturating_sub(LOG_TAIL_BYTES);
        while !log.is_char_boundary(start) {
            start += 1;
        }
        format!(
            "--- broker stderr (run {}) ---\n{}",
            self.run,
            &log[start..]
        )
    }

    /// True while the child process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Sends SIGTERM and waits (≤ [`STOP_TIMEOUT`]) for the exit status.
    pub fn sigterm_and_wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("broker is not running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for broker") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "broker did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `kill -<sig>` (e.g. "STOP", "CONT") to the running broker.
    pub fn signal(&self, sig: &str) {
        let child = self.child.as_ref().expect("broker is not running");
        let status = Command::new("kill")
            .args([format!("-{sig}"), child.id().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// SIGKILL: no chance to sync or clean up, like a power cut for the process.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same `log.dirs` (a new port is fine); a
    /// still-running broker is stopped with SIGTERM first.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.sigterm_and_wait();
            assert!(
                status.success(),
                "broker exited with {status}\n{}",
                self.log_tail()
            );
        }
        self.run += 1;
        self.spawn();
    }

    fn stderr_path(&self, run: u32) -> PathBuf {
        self.dir.join(format!("stderr.{run}.log"))
    }

    fn spawn(&mut self) {
        let data = self.data_dir();
        let mut args: Vec<String> = vec!["broker".into()];
        let base = [
            (
                "listeners".to_string(),
                "PLAINTEXT://127.0.0.1:0".to_string(),
            ),
            ("log.dirs".to_string(), data.display().to_string()),
        ];
        for (k, v) in base.iter().chain(self.overrides.iter()) {
            args.push("--override".into());
            args.push(format!("{k}={v}"));
        }
        let stderr = fs::File::create(self.stderr_path(self.run)).expect("create stderr log");
        // PIPIT_TEST_BIN runs the suite against another build (or a stand-in).
        let bin = self
            .bin
            .clone()
            .or_else(|| std::env::var_os("PIPIT_TEST_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pipit")));
        let mut child = Command::new(&bin)
            .args(&args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Keeps draining stdout for the broker's whole life so it never blocks on it.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep reading to drain the pipe.
                }
            }
        });
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix(READY_PREFIX) {
                        self.addr = rest.to_string();
                        assert!(
                            rest.starts_with("127.0.0.1:") && rest.len() > "127.0.0.1:".len(),
                            "unexpected ready line {line:?}"
                        );
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected)
                | Err(mpsc::RecvTimeoutError::Timeout)
                    if !self.is_running() =>
                {
                    let status = self.child.take().and_then(|mut c| c.wait().ok());
                    panic!(
                        "broker exited before its ready line (status {status:?}), args {args:?}\n{}",
                        self.log_tail()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= deadline {
                self.kill9();
                panic!(
                    "broker printed no ready line within {READY_TIMEOUT:?}\n{}",
                    self.log_tail()
                );
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if thread::panicking() && !self.tail_shown.get() {
            eprintln!("{}", self.log_tail());
        }
        self.kill9();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory under the system temp dir, unique across processes and threads.
pub fn unique_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pipit-it-{}-{}-{}", std::process::id(), n, nanos));
        if fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
    panic!(
        "could not create a unique temp dir under {:?}",
        std::env::temp_dir()
    );
}

/// Milliseconds since the Unix epoch (what Kafka timestamps count).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A run count from the environment (`make soak` sets the long ones), else `default`.
pub fn env_count(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// FNV-1a of `id`: the checksum the soak tests put in every record's value, so
/// a served record whose bytes changed is caught.
pub fn fnv1a(id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
