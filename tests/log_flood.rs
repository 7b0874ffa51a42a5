//! A flood of bad frames does not fill the disk with log lines: lines a
//! client can cause at will are rate-limited per kind (`server/log_limit.rs`),
//! and well-behaved kcat clients keep working alongside the flood.

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
