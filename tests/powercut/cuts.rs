//! The power-cut cycles (compiled with the `powercut-journal` feature only; see `tests/powercut.rs`).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::Broker;
use crate::common::clients::{kcat_ok, wait_bounded};
use crate::common::powercut::{self, Faults, JOURNAL_ENV, LOSE_SYNCS_ENV};
use crate::common::wire::SeededRng;
use pipit::client::config::ClientConfig;
use pipit::client::producer::Producer;
use pipit::client::records::Record;

const TOPIC: &str = "cuts";
/// Records per producer per cycle.
const PER_CYCLE: u32 = 200;
/// `log.flush.interval.messages` (the replicated run syncs at least this often, and every 1–20 ms).
const FLUSH_MESSAGES: u64 = 50;

fn cycles() -> u32 {
    crate::common::env_count("PIPIT_SOAK_CYCLES", 50)
}

/// The checksum of the record's identity, carried in its value.
fn check(tag: &str, cycle: u32, i: u32) -> u32 {
    crate::common::fnv1a(&format!("{tag}:{cycle}:{i}"))
}

/// `tag:cycle:i:check:pad`, the pad (the check repeated, ~300 bytes) so that batches cross sector
/// boundaries and a cut can tear inside them.
fn value(tag: &str, cycle: u32, i: u32) -> String {
    let c = format!("{:08x}", check(tag, cycle, i));
    format!("{tag}:{cycle}:{i}:{c}:{}", c.repeat(PAD_REPEATS))
}

const PAD_REPEATS: usize = 38;

/// What pipit's producer got: (record index, when acknowledged) per ack, and the errors.
type Acks = (Vec<(u32, Instant)>, Vec<String>);

/// pipit's idempotent producer: sends `PER_CYCLE` records to partition 0.
/// A 3 ms pause every `pace` records.
fn pipit_producer(
    config: ClientConfig,
    cycle: u32,
    pace: u32,
    sent: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Acks> {
    std::thread::spawn(move || {
        smol::block_on(async {
            let mut errors = Vec::new();
            let producer = match Producer::new(config).await {
                Ok(p) => p,
                Err(e) => return (Vec::new(), vec![e.to_string()]),
            };
            assert!(
                producer.producer_id().is_some(),
                "idempotence is not in effect"
            );
            let mut futures = Vec::new();
            for i in 0..PER_CYCLE {
                let record = Record {
                    value: Some(value("p", cycle, i).into_bytes().into()),
                    timestamp: crate::common::now_ms(),
                    ..Record::default()
                };
                match producer.send(TOPIC, Some(0), record).await {
                    Ok(f) => futures.push((i, f)),
                    Err(e) => {
                        errors.push(format!("send {i}: {e}"));
                        break;
                    }
                }
                sent.store(i as usize + 1, Ordering::Release);
                if i % pace == 0 {
                    smol::Timer::after(Duration::from_millis(3)).await;
                }
            }
            let mut acked = Vec::new();
            for (i, f) in futures {
                match f.await {
                    Ok(r) => acked.push((i, r.acked_at)),
                    Err(e) => errors.push(format!("record {i}: {e}")),
                }
            }
            let _ = producer.close().await;
            (acked, errors)
        })
    })
}

/// kcat (librdkafka) idempotent producer of `PER_CYCLE` records to partition 1.
fn kcat_producer(addr: &str, cycle: u32) -> std::process::Child {
    let lines: String = (0..PER_CYCLE)
        .map(|i| value("k", cycle, i) + "\n")
        .collect();
    let mut child = Command::new("kcat")
        // -E: a broker down for a restart is not a reason to give up.
        .args(["-P", "-E", "-b", addr, "-t", TOPIC, "-p", "1"])
        .args(["-X", "enable.idempotence=true", "-X", "acks=all"])
        .args(["-X", "linger.ms=2", "-X", "retry.backoff.ms=50"])
        .args(["-X", "message.timeout.ms=60000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    crate::common::clients::feed_slowly(&mut child, lines, 2048);
    child
}

/// `tag:cycle:i:check` values of one partition in log order: (cycle, i, checksum ok).
fn read_partition(b: &Broker, partition: &str) -> Vec<(u32, u32, bool)> {
    let addr = b.addr();
    let args = ["-b", &addr, "-C", "-t", TOPIC, "-p", partition, "-e", "-q"];
    let out = kcat_ok(&[&args[..], &["-f", "%s\n"]].concat(), None);
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let parsed = (|| {
                let (tag, c, i) = (f.first()?, f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?);
                let want = format!("{:08x}", check(tag, c, i));
                let ok = f.get(3) == Some(&want.as_str())
                    && f.get(4) == Some(&want.repeat(PAD_REPEATS).as_str());
                Some((c, i, ok))
            })();
            parsed.unwrap_or((u32::MAX, u32::MAX, false))
        })
        .collect()
}

#[derive(Debug, Default)]
struct Outcome {
    cycles: u32,
    acknowledged: usize,
    /// Acknowledged records missing after the cuts, in all and the most of one cut.
    lost: usize,
    most_lost_in_a_cut: usize,
    /// Of those, records acknowledged after the restart of their cycle (older than the next cut's
    /// window: the flush timer had synced them).
    lost_before_the_window: usize,
    duplicates: usize,
    corrupt: usize,
    out_of_order: usize,
    /// Records sent before a kill and acknowledged after the restart.
    in_flight_at_kill: usize,
    producer_errors: usize,
    /// Cuts that found writes no sync had covered.
    cuts_with_unsynced: u32,
    faults: Faults,
}

/// Runs `n` power-cut cycles against one broker; `lose_syncs` journals no sync (see the module doc).
fn run(durability: &str, n: u32, seed: u64, lose_syncs: bool, with_kcat: bool) -> Outcome {
    let journal_dir = crate::common::unique_temp_dir();
    std::fs::create_dir_all(&journal_dir).expect("journal dir");
    let journal = journal_dir.join("powercut.journal");
    let journal_s = journal.display().to_string();
    let mut env = vec![(JOURNAL_ENV, journal_s.as_str())];
    if lose_syncs {
        env.push((LOSE_SYNCS_ENV, "1"));
    }
    let flush_messages = FLUSH_MESSAGES.to_string();
    let overrides = [
        ("log.durability", durability),
        ("log.flush.interval.messages", flush_messages.as_str()),
        ("log.flush.interval.ms", "20"),
    ];
    let mut b = Broker::start_on_fixed_port_with(&overrides, &env);
    let addr = b.addr();
    let out = Command::new(env!("CARGO_BIN_EXE_pipit"))
        .args(["topics", "--bootstrap-server", &addr, "--create"])
        .args(["--topic", TOPIC, "--partitions", "2"])
        .args([
            "--config",
            "segment.bytes=524288",
            "--config",
            "ring.segments=64",
        ])
        .args(["--config", "max.message.bytes=262144"])
        .output()
        .expect("pipit topics");
    assert!(out.status.success(), "{out:?}");
    assert!(
        journal.exists(),
        "the broker wrote no power-cut journal at {journal_s}: {} was built without the \
         `powercut-journal` feature; run `cargo test --features powercut-journal --test powercut`",
        env!("CARGO_BIN_EXE_pipit")
    );
    let mut rng = SeededRng::new(seed);
    let mut o = Outcome {
        cycles: n,
        ..Outcome::default()
    };
    // Per cycle: (record index, acknowledged before that cycle's cut?).
    let mut acked: Vec<Vec<(u32, bool)>> = Vec::new();
    for cycle in 0..n {
        if durability == "replicated" {
            // Longer than log.flush.interval.ms (at most 20) plus a sync: the records acknowledged
            // after the last restart are synced before this cycle's cut.
            std::thread::sleep(Duration::from_millis(200));
        }
        // replicated: a cut may take back acknowledged records, so the producer's next
        // sequences can be refused for good (OUT_OF_ORDER_SEQUENCE_NUMBER); give up on those
        // within seconds instead of retrying for the default delivery timeout.
        let give_up: &[(&str, &str)] = if durability == "replicated" {
            &[("retries", "5"), ("delivery.timeout.ms", "5000")]
        } else {
            &[]
        };
        let (config, _) = ClientConfig::from_props(&b.retrying_producer_props(give_up))
            .unwrap_or_else(|e| panic!("config: {e}"));
        let sent = Arc::new(AtomicUsize::new(0));
        // fsync: slower, so that cuts often land in a group commit; replicated: faster, as cuts there
        // cost producers OUT_OF_ORDER_SEQUENCE_NUMBER retries that slow the run down.
        let pace = if durability == "fsync" { 4 } else { 8 };
        let pipit = pipit_producer(config, cycle, pace, sent.clone());
        let mut kcat = with_kcat.then(|| kcat_producer(&addr, cycle));
        std::thread::sleep(Duration::from_millis(
            20 + rng.next_u64() % (20 * u64::from(pace)),
        ));
        // Freeze first: requests sent from now on are in flight at the kill.
        b.signal("STOP");
        std::thread::sleep(Duration::from_millis(10 + rng.next_u64() % 40));
        b.kill9();
        let killed = Instant::now();
        let at_kill = sent.load(Ordering::Acquire);
        let f = powercut::cut(&journal, &b.data_dir(), &mut rng);
        o.cuts_with_unsynced += u32::from(f.writes > f.synced);
        o.faults.add(f);
        // A new group-commit window now and then, as an operator might set.
        let window = ["1", "5", "20"][(rng.next_u64() % 3) as usize];
        b.set_override("log.flush.interval.ms", window);
        b.restart();
        let restarted = Instant::now();
        let (acks, errors) = pipit.join().expect("producer thread");
        o.in_flight_at_kill += acks
            .iter()
            .filter(|(i, at)| (*i as usize) < at_kill && *at >= restarted)
            .count();
        o.producer_errors += errors.len();
        if let Some(e) = errors.first() {
            eprintln!(
                "cycle {cycle}: pipit producer: {} error(s), first: {e}",
                errors.len()
            );
        }
        acked.push(acks.iter().map(|(i, at)| (*i, *at < killed)).collect());
        if let Some(kcat) = kcat.as_mut() {
            let status = wait_bounded(kcat, Duration::from_secs(90));
            if !status.is_some_and(|s| s.success()) {
                let mut err = String::new();
                if let Some(mut e) = kcat.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("cycle {cycle}: kcat did not deliver everything: {status:?}\n{err}");
            }
        }
    }
    let mut partitions = vec![("0", acked)];
    if with_kcat {
        // kcat: every record delivered (its exit status), when is not known: counted as before the cut.
        partitions.push((
            "1",
            vec![(0..PER_CYCLE).map(|i| (i, true)).collect(); n as usize],
        ));
    }
    for (partition, acked) in partitions {
        let log = read_partition(&b, partition);
        let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
        let mut last: Option<(u32, u32)> = None;
        for &(c, i, ok) in &log {
            o.corrupt += usize::from(!ok);
            *seen.entry((c, i)).or_default() += 1;
            if last.is_some_and(|prev| prev >= (c, i)) {
                o.out_of_order += 1;
            }
            last = Some((c, i));
        }
        o.duplicates += seen.values().map(|n| n - 1).sum::<usize>();
        for (c, acks) in acked.iter().enumerate() {
            o.acknowledged += acks.len();
            let lost: Vec<bool> = acks
                .iter()
                .filter(|(i, _)| !seen.contains_key(&(c as u32, *i)))
                .map(|(_, before_cut)| *before_cut)
                .collect();
            o.lost += lost.len();
            o.lost_before_the_window += lost.iter().filter(|before_cut| !**before_cut).count();
            o.most_lost_in_a_cut = o
                .most_lost_in_a_cut
                .max(lost.iter().filter(|before_cut| **before_cut).count());
        }
    }
    drop(b);
    let _ = std::fs::remove_dir_all(journal_dir);
    let f = o.faults;
    println!(
        "power cut ({durability}{}): cycles {}, acknowledged {}, in flight at a kill and acknowledged \
         after the restart {}, lost {} (most in one cut {}, acknowledged before the last flush window {}), duplicates {}, corrupt {}, out of order {}, \
         producer errors {}; cuts with unsynced writes {}; writes journalled {} (synced {}), unsynced at a cut ({} to .log files): kept {}, dropped {}, \
         torn {}, garbled {}; unsynced renames {} (undone {})",
        if lose_syncs { ", syncs lost" } else { "" },
        o.cycles,
        o.acknowledged,
        o.in_flight_at_kill,
        o.lost,
        o.most_lost_in_a_cut,
        o.lost_before_the_window,
        o.duplicates,
        o.corrupt,
        o.out_of_order,
        o.producer_errors,
        o.cuts_with_unsynced,
        f.writes,
        f.synced,
        f.unsynced_log,
        f.kept,
        f.dropped,
        f.torn,
        f.garbled,
        f.pending_renames,
        f.renames_undone,
    );
    o
}

#[test]
fn power_cut_with_fsync_durability_loses_nothing_acknowledged() {
    let n = cycles();
    let o = run("fsync", n, 0xc0ffee + u64::from(n), false, true);
    assert!(
        o.in_flight_at_kill > 0,
        "no record was in flight at any kill"
    );
    assert!(
        o.faults.applied() > 0 && o.faults.unsynced_log > 0,
        "no unsynced record write was found at any cut: the test proves nothing: {o:?}"
    );
    assert_eq!(o.lost, 0, "acknowledged records lost: {o:?}");
    assert_eq!(o.duplicates, 0, "idempotent records duplicated: {o:?}");
    assert_eq!(o.corrupt, 0, "records served with a wrong checksum: {o:?}");
    assert_eq!(o.out_of_order, 0, "records out of order: {o:?}");
}

#[test]
fn power_cut_with_replicated_durability_loses_at_most_the_unsynced_tail() {
    // Half the fsync run's cuts: each cut here costs the producer refused sequences.
    let n = (cycles() / 2).max(10);
    let o = run("replicated", n, 0xbad5eed + u64::from(n), false, false);
    assert!(
        o.faults.applied() > 0,
        "no unsynced write was found at any cut: the test proves nothing"
    );
    // A cut takes back what was appended since the last completed sync began (up to
    // log.flush.interval.messages, or log.flush.interval.ms of records, plus those appended while that
    // sync ran), never records the flush timer had synced before the cycle began.
    assert_eq!(
        o.lost_before_the_window, 0,
        "a cut took back records acknowledged before the last flush window: {o:?}"
    );
    assert_eq!(o.duplicates, 0, "idempotent records duplicated: {o:?}");
    assert_eq!(o.corrupt, 0, "records served with a wrong checksum: {o:?}");
    assert_eq!(o.out_of_order, 0, "records out of order: {o:?}");
}

#[test]
fn power_cut_test_notices_lost_fsyncs() {
    // Every fsync "lost": the fsync run must see acknowledged records go.
    let o = run("fsync", 8, 0x10575, true, false);
    assert!(
        o.lost > 0,
        "with no sync durable the power cuts lost nothing acknowledged: the test cannot tell a missing fsync: {o:?}"
    );
}
