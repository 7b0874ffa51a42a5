//! Real Kafka clients as child processes, each bounded by a timeout.
//!
//! `kcat` is Debian's kcat (librdkafka 2.0.2); `py_venv` runs a script from
//! `tests/clients/` with `.venv/bin/python` (confluent-kafka 2.16.1, kafka-python
//! 3.0.12); `py_debian` with `/usr/bin/python3` (Debian's kafka-python 2.0.2).
//! A missing client panics with the hint to run `make test-deps`: these tests never
//! skip silently. A script prints one JSON object as its last stdout line and exits
//! 0; anything else fails the test with the script's stderr.

use super::json::Json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Default bound for one client invocation.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const KCAT: &str = "/usr/bin/kcat";
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// The crate root (where Cargo.toml and .venv live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} not found at {}: run `make test-deps` to install the test clients",
        path.display()
    );
}

/// Runs `cmd` with `stdin` fed in full, reading stdout and stderr concurrently; kills
/// it after `timeout` and panics naming the command.
pub fn run_bounded(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let writer = child.stdin.take().map(|mut pipe| {
        let data = stdin.unwrap_or_default().to_vec();
        thread::spawn(move || {
            // A client that exits early closes the pipe; that shows up in its output.
            let _ = pipe.write_all(&data);
        })
    });
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{desc} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for `child` up to `timeout`; on timeout kills it and returns None.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs kcat with `args` (add `-b <addr>` yourself), bounded by 30 s.
pub fn kcat(args: &[&str], stdin: Option<&[u8]>) -> Output {
    require(Path::new(KCAT), "kcat");
    run_bounded(
        Command::new(KCAT).args(args),
        stdin,
        Duration::from_secs(30),
    )
}

/// Like [`kcat`] but panics unless it exits 0; returns stdout.
pub fn kcat_ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = kcat(args, stdin);
    assert!(
        out.status.success(),
        "kcat {args:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Path of a script in tests/clients/.
pub fn script_path(script: &str) -> PathBuf {
    repo_root().join("tests").join("clients").join(script)
}

/// Runs `tests/clients/<script>` with the venv's Python (confluent-kafka, kafka-python 3).
pub fn py_venv(script: &str, args: &[&str]) -> Json {
    let python = repo_root().join(".venv").join("bin").join("python");
    py(&python, script, args)
}

/// Runs `tests/clients/<script>` with Debian's Python (kafka-python 2.0.2).
pub fn py_debian(script: &str, args: &[&str]) -> Json {
    py(Path::new(DEBIAN_PYTHON), script, args)
}

/// Starts a script in the background (for load while something else happens);
/// finish it with [`finish_script`].
pub fn spawn_py_venv(script: &str, args: &[&str]) -> Child {
    let python = repo_root().join(".venv").join("bin").join("python");
    require(&python, "the test venv (.venv/bin/python)");
    Command::new(python)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(script_path(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn background script")
}

/// Waits (bounded) for a background script and parses its JSON result.
pub fn finish_script(mut child: Child, timeout: Duration) -> Json {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    let output = Output {
        status: status.unwrap_or_else(|| panic!("background script timed out after {timeout:?}")),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    parse_script_output("background script", &output)
}

fn py(python: &Path, script: &str, args: &[&str]) -> Json {
    require(python, "the Python interpreter for the test clients");
    let path = script_path(script);
    require(&path, "the client script");
    let out = run_bounded(
        Command::new(python)
            .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in tests/clients/
            .arg(&path)
            .args(args),
        None,
        CLIENT_TIMEOUT,
    );
    parse_script_output(&format!("{} {script} {args:?}", python.display()), &out)
}

fn parse_script_output(desc: &str, out: &Output) -> Json {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint = if stderr.contains("ModuleNotFoundError") || stderr.contains("ImportError") {
        "\nA client library is missing: run `make test-deps`."
    } else {
        ""
    };
    assert!(
        out.status.success(),
        "{desc} failed ({}){hint}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Json::parse(last).unwrap_or_else(|e| {
        panic!("{desc}: last stdout line is not JSON ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}")
    })
}

/// Writes `lines` to `child`'s stdin from a thread, `chunk` bytes every 3 ms,
/// so a producer (kcat) is still sending when a test kills the broker.
pub fn feed_slowly(child: &mut Child, lines: String, chunk: usize) {
    let mut stdin = child.stdin.take().expect("stdin");
    thread::spawn(move || {
        for part in lines.as_bytes().chunks(chunk) {
            if stdin.write_all(part).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(3));
        }
    });
}
