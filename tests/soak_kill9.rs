//! kill -9 soak (issue 10): cycles of start → idempotent acks=all producers →
//! SIGKILL at a random moment (sometimes after a SIGSTOP pause) → restart → verify.
//!
//! Two producers write numbered records with a checksum in every value: pipit's
//! own client (in this process) and kcat (librdkafka 2.0.2, idempotent). A cycle
//! freezes the broker with SIGSTOP for a moment before some kills, so records are
//! in flight at the kill (checked: each cycle counts records acknowledged only
//! after the restart). At the end every acknowledged record must be in the log
//! exactly once, in order per producer, with its checksum intact; the broker must
//! have restarted every time. Prints cycles, acknowledged, lost, duplicates and
//! restart time p50/max.
//!
//! `make test` runs 20 cycles; `make soak` runs `PIPIT_SOAK_CYCLES` (1,000).
//! A process kill keeps the page cache, so this proves recovery and idempotence
//! across crashes, not fsync; the power-cut tests prove that.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Broker;
use common::clients::{kcat_ok, wait_bounded};
use common::wire::SeededRng;
use pipit::client::config::ClientConfig;
use pipit::client::producer::Producer;
use pipit::client::records::Record;

const TOPIC: &str = "soak";
/// Records per producer per cycle.
const PER_CYCLE: u32 = 300;

fn cycles() -> u32 {
    common::env_count("PIPIT_SOAK_CYCLES", 20)
}

/// The checksum of the record's identity, carried in its value.
fn check(tag: &str, cycle: u32, i: u32) -> u32 {
    common::fnv1a(&format!("{tag}:{cycle}:{i}"))
}

fn value(tag: &str, cycle: u32, i: u32) -> String {
    format!("{tag}:{cycle}:{i}:{:08x}", check(tag, cycle, i))
}

/// pipit's producer: sends `PER_CYCLE` records; returns (index, acked after `t`?) per ack.
fn pipit_producer(
    config: ClientConfig,
    cycle: u32,
    sent: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Result<Vec<(u32, Instant)>, String>> {
    std::thread::spawn(move || {
        smol::block_on(async {
            let producer = Producer::new(config).await.map_err(|e| e.to_string())?;
            if producer.producer_id().is_none() {
                return Err("idempotence is not in effect".into());
            }
            let mut futures = Vec::new();
            for i in 0..PER_CYCLE {
                let record = Record {
                    value: Some(value("p", cycle, i).into_bytes().into()),
                    timestamp: common::now_ms(),
                    ..Record::default()
                };
                let f = producer
                    .send(TOPIC, Some(0), record)
                    .await
                    .map_err(|e| e.to_string())?;
                futures.push(f);
                sent.store(i as usize + 1, Ordering::Release);
                // Paced (about 0.6 s a cycle) so every kill lands mid-stream.
                smol::Timer::after(Duration::from_millis(2)).await;
            }
            let mut acked = Vec::new();
            for (i, f) in futures.into_iter().enumerate() {
                let r = f.await.map_err(|e| format!("record {i}: {e}"))?;
                acked.push((i as u32, r.acked_at));
            }
            let _ = producer.close().await;
            Ok(acked)
        })
    })
}

fn kcat_producer(addr: &str, cycle: u32, partition: &str) -> std::process::Child {
    let lines: String = (0..PER_CYCLE)
        .map(|i| value("k", cycle, i) + "\n")
        .collect();
    let mut child = Command::new("kcat")
        .args([
            "-P",
            "-b",
            addr,
            "-t",
            TOPIC,
            "-p",
            partition,
            "-X",
            "enable.idempotence=true",
            "-X",
            "acks=all",
            "-X",
            "linger.ms=2",
            "-X",
            "retry.backoff.ms=50",
            "-X",
            "message.timeout.ms=60000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    common::clients::feed_slowly(&mut child, lines, 4096);
    child
}

/// Parses `tag:cycle:i:check` values of one partition, in log order.
fn read_partition(b: &Broker, partition: &str) -> Vec<(String, u32, u32, bool)> {
    let addr = b.addr();
    let out = kcat_ok(
        &[
            "-b", &addr, "-C", "-t", TOPIC, "-p", partition, "-e", "-q", "-f", "%s\n",
        ],
        None,
    );
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let (tag, c, i) = (f.first()?, f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?);
            let ok = f.get(3) == Some(&format!("{:08x}", check(tag, c, i)).as_str());
            Some((tag.to_string(), c, i, ok))
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn kill9_soak_loses_and_duplicates_nothing_acknowledged() {
    let n_cycles = cycles();
    let mut b = Broker::start_on_fixed_port();
    let addr = b.addr();
    let out = Command::new(env!("CARGO_BIN_EXE_pipit"))
        .args([
            "topics",
            "--bootstrap-server",
            &addr,
            "--create",
            "--topic",
            TOPIC,
            "--partitions",
            "2",
            "--config",
            "segment.bytes=8388608",
            "--config",
            "ring.segments=32",
        ])
        .output()
        .expect("pipit topics");
    assert!(out.status.success(), "{out:?}");
    let mut rng = SeededRng::new(0x5eed_0000 + u64::from(n_cycles));
    let mut restarts = Vec::new();
    let mut acked_pipit = 0usize;
    let mut in_flight_at_kill = 0usize;
    for cycle in 0..n_cycles {
        let (config, _) = ClientConfig::from_props(&b.retrying_producer_props(&[]))
            .unwrap_or_else(|e| panic!("config: {e}"));
        let sent = Arc::new(AtomicUsize::new(0));
        let pipit = pipit_producer(config, cycle, sent.clone());
        let mut kcat = kcat_producer(&addr, cycle, "1");
        std::thread::sleep(Duration::from_millis(50 + rng.next_u64() % 400));
        let pause = rng.next_u64().is_multiple_of(2);
        if pause {
            // SIGSTOP: the broker hangs (a stalled card, a debugger); producers
            // keep sending, and what they send now cannot be acknowledged
            // before the kill: records are surely in flight.
            b.signal("STOP");
            let at_stop = sent.load(Ordering::Acquire);
            let frozen = Instant::now();
            while sent.load(Ordering::Acquire) < (at_stop + 3).min(PER_CYCLE as usize)
                && frozen.elapsed() < Duration::from_secs(2)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(rng.next_u64() % 80));
        }
        b.kill9();
        let at_kill = sent.load(Ordering::Acquire);
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 200));
        let t = Instant::now();
        b.restart();
        restarts.push(t.elapsed());
        let restarted = Instant::now() - t.elapsed();
        let acked = pipit
            .join()
            .unwrap_or_else(|_| panic!("producer thread panicked"))
            .unwrap_or_else(|e| panic!("cycle {cycle}: pipit producer: {e}"));
        in_flight_at_kill += acked
            .iter()
            .filter(|(i, at)| (*i as usize) < at_kill && *at >= restarted)
            .count();
        acked_pipit += acked.len();
        let status = wait_bounded(&mut kcat, Duration::from_secs(90));
        if !status.is_some_and(|s| s.success()) {
            let mut err = String::new();
            if let Some(mut e) = kcat.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("cycle {cycle}: kcat did not deliver everything: {status:?}\n{err}");
        }
    }
    let mut lost = 0usize;
    let mut duplicates = 0usize;
    let mut corrupt = 0usize;
    for (partition, tag) in [("0", "p"), ("1", "k")] {
        let log = read_partition(&b, partition);
        let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
        let mut last: Option<(u32, u32)> = None;
        for (t, c, i, ok) in &log {
            assert_eq!(t, tag, "partition {partition} holds only {tag} records");
            corrupt += usize::from(!ok);
            *seen.entry((*c, *i)).or_default() += 1;
            if let Some(prev) = last {
                assert!(
                    prev < (*c, *i) || seen[&(*c, *i)] > 1,
                    "partition {partition}: {prev:?} then {:?}: out of order",
                    (c, i)
                );
            }
            last = Some((*c, *i));
        }
        duplicates += seen.values().map(|n| n - 1).sum::<usize>();
        for c in 0..n_cycles {
            for i in 0..PER_CYCLE {
                lost += usize::from(!seen.contains_key(&(c, i)));
            }
        }
    }
    restarts.sort();
    let acked_total = acked_pipit + (n_cycles * PER_CYCLE) as usize;
    println!(
        "kill -9 soak: cycles {n_cycles}, acknowledged {acked_total} (pipit {acked_pipit}, \
         kcat {}), in flight at a kill and acknowledged after the restart {in_flight_at_kill}, \
         lost {lost}, duplicates {duplicates}, corrupt {corrupt}, restart p50 {:?} max {:?}",
        n_cycles * PER_CYCLE,
        percentile(&restarts, 0.5),
        percentile(&restarts, 1.0),
    );
    assert!(
        in_flight_at_kill > 0,
        "no record was in flight at any kill: the soak proves nothing"
    );
    assert_eq!(lost, 0, "acknowledged records lost");
    assert_eq!(duplicates, 0, "idempotent producers' records duplicated");
    assert_eq!(corrupt, 0, "records served with a wrong checksum");
}
