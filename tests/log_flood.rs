//! A flood of bad frames, or a consumer polling a file that cannot be read,
//! does not fill the disk with log lines: lines a client can cause at will are
//! rate-limited per kind (`server/log_limit.rs`), and well-behaved kcat
//! clients keep working alongside the flood.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::Broker;
use common::clients::kcat_ok;
use common::requests::Conn;
use common::wire::{Request, SeededRng, connect, wait_closed, write_lossy};
use pipit::server::log_limit::{LINES_PER_WINDOW, WINDOW};

const BAD_FRAMES: usize = 5_000;
const FLOOD_THREADS: usize = 8;
/// The whole stderr of the run, start and stop lines included. Without the
/// limit the flood alone writes one line per bad frame (5,000).
const MAX_LOG_LINES: usize = 300;
/// Bounded rounds of the well-behaved clients.
const KCAT_ROUNDS: usize = 30;
const KCAT_LINES: usize = 100;

/// One bad frame of four sorts, then waits for the broker to close.
fn send_bad_frame(addr: &str, n: usize, rng: &mut SeededRng) {
    let mut s = connect(addr);
    let frame: Vec<u8> = match n % 4 {
        // Over socket.request.max.bytes.
        0 => 0x7fff_0000u32.to_be_bytes().to_vec(),
        // A size prefix, a few bytes and then the peer closes.
        1 => {
            let mut f = 200u32.to_be_bytes().to_vec();
            f.extend(rng.bytes(20));
            f
        }
        // An API key nobody serves.
        2 => Request::new(9_999, 0, n as i32, "flood")
            .raw(&rng.bytes(30))
            .finish(),
        // A Metadata v1 header with garbage for a body.
        _ => Request::new(3, 1, n as i32, "flood")
            .raw(&[0x7f, 0xff, 0xff, 0xff])
            .raw(&rng.bytes(8))
            .finish(),
    };
    write_lossy(&mut s, &frame);
    if n % 4 == 1 {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let _ = wait_closed(&mut s, Duration::from_secs(5));
}

/// A kcat producer then consumer, round after round, until `stop` (bounded);
/// returns each round's duration.
fn kcat_rounds(addr: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut times = Vec::new();
    for round in 0..KCAT_ROUNDS {
        if stop.load(Ordering::Acquire) && round >= 2 {
            break;
        }
        let start = Instant::now();
        let input: String = (0..KCAT_LINES).map(|i| format!("r{round}-{i}\n")).collect();
        kcat_ok(
            &["-b", &addr, "-P", "-t", "calm", "-X", "acks=all"],
            Some(input.as_bytes()),
        );
        let out = kcat_ok(
            &["-b", &addr, "-C", "-t", "calm", "-o", "beginning", "-e"],
            None,
        );
        assert_eq!(
            out.lines().count(),
            (round + 1) * KCAT_LINES,
            "the consumer reads every record produced so far"
        );
        times.push(start.elapsed());
    }
    times
}

#[test]
fn a_flood_of_bad_frames_writes_few_log_lines_and_good_clients_keep_working() {
    let broker = Broker::start(&[]);
    let addr = broker.addr();
    assert_eq!(Conn::new(&addr).create_topic("calm", 1).0, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let good = {
        let (addr, stop) = (addr.clone(), stop.clone());
        thread::spawn(move || kcat_rounds(addr, stop))
    };
    let sent = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let flooders: Vec<_> = (0..FLOOD_THREADS)
        .map(|t| {
            let (addr, sent) = (addr.clone(), sent.clone());
            thread::spawn(move || {
                let mut rng = SeededRng::new(0x5eed + t as u64);
                for n in (t..BAD_FRAMES).step_by(FLOOD_THREADS) {
                    send_bad_frame(&addr, n, &mut rng);
                    *sent.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for f in flooders {
        f.join().expect("flood thread");
    }
    let flood_time = start.elapsed();
    // Suppressed lines are summed up with the first line of the next window.
    thread::sleep((start + Duration::from_secs(11)).saturating_duration_since(Instant::now()));
    let mut rng = SeededRng::new(7);
    for n in 0..4 {
        send_bad_frame(&addr, n, &mut rng);
    }
    stop.store(true, Ordering::Release);
    let times = good.join().expect("kcat thread");
    assert_eq!(*sent.lock().unwrap(), BAD_FRAMES);

    let log = broker.stderr_log();
    let lines = log.lines().count();
    let total: Duration = times.iter().sum();
    let mut sorted = times.clone();
    sorted.sort();
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let _ = writeln!(
        std::io::stderr(),
        "{BAD_FRAMES} bad frames in {flood_time:?}: broker log {lines} lines ({} bytes); \
         {} kcat rounds ({KCAT_LINES} records produced + all read back): total {total:?}, p99 {p99:?}",
        log.len(),
        times.len()
    );
    assert!(
        lines < MAX_LOG_LINES,
        "{lines} log lines for {BAD_FRAMES} bad frames (at most {MAX_LOG_LINES}):\n{}",
        broker.log_tail()
    );
    assert!(
        log.contains("similar lines in the last"),
        "suppressed lines are summarised: {}",
        broker.log_tail()
    );
}

/// Kafka's KAFKA_STORAGE_ERROR.
const KAFKA_STORAGE_ERROR: i16 = 56;
const DAMAGED_FETCHES: usize = 300;

/// The active slot's `.log` file of a partition directory.
fn log_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect()
}

#[test]
fn fetches_from_a_file_that_cannot_be_read_log_the_error_a_few_times() {
    let mut broker = Broker::start(&[]);
    let mut c = Conn::new(&broker.addr());
    assert_eq!(c.create_topic("damaged", 1).0, 0);
    assert_eq!(c.create_topic("fine", 1).0, 0);
    let mut b = vec![0u8; 61 + 500];
    pipit::storage::batch::build_test_batch(&mut b, 500, 1, 1_700_000_000_000, 7).unwrap();
    assert_eq!(c.produce("damaged", 0, b.clone()), (0, 0));
    // A card that lost the file under the running broker: every read fails.
    for f in log_files(&broker.data_dir().join("damaged-0")) {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .and_then(|f| f.set_len(0))
            .unwrap_or_else(|e| panic!("truncate {}: {e}", f.display()));
    }
    let start = Instant::now();
    for _ in 0..DAMAGED_FETCHES {
        let (code, _, _) = c.fetch("damaged", 0, 0);
        assert_eq!(code, KAFKA_STORAGE_ERROR, "{}", broker.log_tail());
    }
    let took = start.elapsed();
    assert_eq!(
        c.produce("fine", 0, b),
        (0, 0),
        "the other partitions are served"
    );
    // At most LINES_PER_WINDOW per started window while the fetches ran.
    let windows = took.as_secs() / WINDOW.as_secs() + 1;
    let max = LINES_PER_WINDOW as usize * windows as usize;
    drop(c);
    // The summary still pending is written when the broker stops.
    assert!(broker.sigterm_and_wait().success());
    let log = broker.stderr_log();
    let lines = log.lines().filter(|l| l.contains("read failed")).count();
    let suppressed: usize = log
        .lines()
        .filter(|l| l.ends_with("(StorageIo)"))
        .filter_map(|l| {
            l.split("suppressed ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert_eq!(
        lines + suppressed,
        DAMAGED_FETCHES,
        "every failed read is either logged or counted in a summary:\n{log}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "{DAMAGED_FETCHES} fetches from an unreadable file in {took:?}: {lines} 'read failed' lines"
    );
    assert!(
        (1..=max).contains(&lines),
        "{lines} 'read failed' lines for {DAMAGED_FETCHES} fetches (at most {max}):\n{}",
        broker.log_tail()
    );
}
