//! The Kafka tools as `pipit` subcommands, end to end against `pipit broker`, and
//! interop with kcat (librdkafka 2.0.2) in both directions.
//!
//! What pipit's console-producer writes (keys, partitioner choices, every codec)
//! kcat reads back identically; what kcat writes (every codec, keys, headers)
//! console-consumer prints in Kafka's format. Key-hash placement is compared with
//! kcat's `murmur2_random` partitioner (librdkafka's name for Java's default). The
//! perf tools' output is parsed field by field against Kafka's formats.

mod common;

use common::Broker;
use common::clients::{kcat_ok, run_bounded};
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

fn pipit(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let bin = std::env::var_os("PIPIT_TEST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_pipit")));
    run_bounded(Command::new(bin).args(args), stdin, Duration::from_secs(60))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs pipit, panics unless it exits 0; returns stdout.
fn pipit_ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = pipit(args, stdin);
    assert!(
        out.status.success(),
        "pipit {args:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn create(b: &Broker, topic: &str, partitions: &str) {
    let addr = b.addr();
    let out = pipit_ok(
        &[
            "topics",
            "--bootstrap-server",
            &addr,
            "--create",
            "--topic",
            topic,
            "--partitions",
            partitions,
        ],
        None,
    );
    assert_eq!(out, format!("Created topic {topic}.\n"));
}

/// kcat reads the whole topic as sorted `partition|key|value` lines.
fn kcat_read(b: &Broker, topic: &str) -> Vec<String> {
    let addr = b.addr();
    let out = kcat_ok(
        &[
            "-b",
            &addr,
            "-C",
            "-t",
            topic,
            "-e",
            "-q",
            "-f",
            "%p|%k|%s\n",
        ],
        None,
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn topics_create_list_describe_alter_delete() {
    let b = Broker::start(&[]);
    let addr = b.addr();
    let bs = ["topics", "--bootstrap-server", addr.as_str()];
    let run = |extra: &[&str]| pipit([&bs[..], extra].concat().as_slice(), None);
    let out = run(&[
        "--create",
        "--topic",
        "t1",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
        "--config",
        "compression.type=gzip",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Created topic t1.\n");
    create(&b, "t2", "1");
    // A second create fails (exit 1) unless --if-not-exists.
    let again = run(&["--create", "--topic", "t1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        run(&["--create", "--topic", "t1", "--if-not-exists"])
            .status
            .success()
    );
    assert_eq!(text(&run(&["--list"]).stdout), "t1\nt2\n");

    let describe = text(&run(&["--describe", "--topic", "t1"]).stdout);
    let lines: Vec<&str> = describe.lines().collect();
    assert_eq!(lines.len(), 4, "{describe}");
    let head: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(head[0], "Topic: t1");
    assert!(
        head[1].starts_with("TopicId: ") && head[1].len() == "TopicId: ".len() + 22,
        "{describe}"
    );
    assert_eq!(
        &head[2..],
        [
            "PartitionCount: 3",
            "ReplicationFactor: 1",
            "Configs: compression.type=gzip"
        ]
    );
    for (p, line) in lines[1..].iter().enumerate() {
        assert_eq!(
            *line,
            format!("\tTopic: t1\tPartition: {p}\tLeader: 0\tReplicas: 0\tIsr: 0")
        );
    }

    assert!(
        run(&["--alter", "--topic", "t1", "--partitions", "5"])
            .status
            .success()
    );
    assert!(
        run(&["--alter", "--topic", "t1", "--config", "retention.ms=60000"])
            .status
            .success()
    );
    let describe = text(&run(&["--describe", "--topic", "t1"]).stdout);
    assert!(describe.contains("PartitionCount: 5\t"), "{describe}");
    assert!(describe.contains("retention.ms=60000"), "{describe}");

    let missing = run(&["--describe", "--topic", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("'nope' does not exist"),
        "{}",
        text(&missing.stderr)
    );

    assert!(run(&["--delete", "--topic", "t1"]).status.success());
    assert_eq!(text(&run(&["--list"]).stdout), "t2\n");
    assert!(run(&["--help"]).status.success());
}

#[test]
fn console_producer_output_reads_back_in_kcat_under_every_codec() {
    let b = Broker::start(&[]);
    let addr = b.addr();
    let input: String = (0..30)
        .map(|i| format!("key-{i}:value-{i}-{}\n", "x".repeat(100)))
        .collect();
    for (codec, bits) in [
        ("none", 0u8),
        ("gzip", 1),
        ("snappy", 2),
        ("lz4", 3),
        ("zstd", 4),
    ] {
        let topic = format!("p-{codec}");
        create(&b, &topic, "1");
        pipit_ok(
            &[
                "console-producer",
                "--bootstrap-server",
                &addr,
                "--topic",
                &topic,
                "--compression-codec",
                codec,
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
                "--producer-property",
                "acks=all",
            ],
            Some(input.as_bytes()),
        );
        let mut want: Vec<String> = input
            .lines()
            .map(|l| format!("0|{}", l.replacen(':', "|", 1)))
            .collect();
        want.sort();
        assert_eq!(kcat_read(&b, &topic), want, "codec {codec}");
        let log = b
            .data_dir()
            .join(format!("{topic}-0"))
            .join("00000000000000000000.log");
        let bytes = std::fs::read(&log).unwrap_or_else(|e| panic!("read {}: {e}", log.display()));
        assert_eq!(
            bytes.get(22).map(|a| a & 7),
            Some(bits),
            "codec bits stored for {codec}"
        );
    }
}

#[test]
fn hash_partitioner_places_keys_like_kafka_and_librdkafka_murmur2() {
    let b = Broker::start(&[]);
    let addr = b.addr();
    create(&b, "ours", "6");
    create(&b, "theirs", "6");
    let input: String = (0..60).map(|i| format!("user-{i}:v{i}\n")).collect();
    pipit_ok(
        &[
            "console-producer",
            "--bootstrap-server",
            &addr,
            "--topic",
            "ours",
            "--partitioner",
            "hash",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        Some(input.as_bytes()),
    );
    kcat_ok(
        &[
            "-b",
            &addr,
            "-P",
            "-t",
            "theirs",
            "-K:",
            "-X",
            "partitioner=murmur2_random",
        ],
        Some(input.as_bytes()),
    );
    let ours = kcat_read(&b, "ours");
    let theirs = kcat_read(&b, "theirs");
    assert_eq!(ours.len(), 60);
    assert_eq!(
        ours, theirs,
        "key → partition must match librdkafka's murmur2_random"
    );
    let used: std::collections::BTreeSet<&str> =
        ours.iter().filter_map(|l| l.split('|').next()).collect();
    assert!(
        used.len() > 1,
        "60 keys over 6 partitions use more than one: {ours:?}"
    );

    // A partition number sends everything there; roundrobin spreads evenly.
    create(&b, "fixed", "3");
    pipit_ok(
        &[
            "console-producer",
            "--broker-list",
            &addr,
            "--topic",
            "fixed",
            "--partitioner",
            "2",
        ],
        Some(b"a\nb\nc\n"),
    );
    assert_eq!(kcat_read(&b, "fixed"), ["2||a", "2||b", "2||c"]);
    create(&b, "rr", "3");
    pipit_ok(
        &[
            "console-producer",
            "--bootstrap-server",
            &addr,
            "--topic",
            "rr",
            "--partitioner",
            "roundrobin",
        ],
        Some(b"a\nb\nc\nd\ne\nf\n"),
    );
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for l in kcat_read(&b, "rr") {
        *per.entry(l.split('|').next().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        per.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{per:?}"
    );
}

#[test]
fn console_consumer_reads_what_kcat_wrote_under_every_codec() {
    let b = Broker::start(&[]);
    let addr = b.addr();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("c-{codec}");
        create(&b, &topic, "2");
        let input: String = (0..10).map(|i| format!("k{i}:{codec}-{i}\n")).collect();
        kcat_ok(
            &[
                "-b", &addr, "-P", "-t", &topic, "-p", "1", "-K:", "-z", codec, "-H", "h1=v1",
                "-H", "h2=v2",
            ],
            Some(input.as_bytes()),
        );
        let out = pipit(
            &[
                "console-consumer",
                "--bootstrap-server",
                &addr,
                "--topic",
                &topic,
                "--from-beginning",
                "--max-messages",
                "10",
                "--timeout-ms",
                "10000",
                "--property",
                "print.key=true",
                "--property",
                "print.partition=true",
                "--property",
                "print.offset=true",
                "--property",
                "print.headers=true",
                "--property",
                "print.timestamp=true",
                "--property",
                "key.separator=|",
            ],
            None,
        );
        assert!(out.status.success(), "{codec}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("Processed a total of 10 messages"),
            "{}",
            text(&out.stderr)
        );
        let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        assert_eq!(lines.len(), 10, "{codec}: {lines:?}");
        for (i, line) in lines.iter().enumerate() {
            let f: Vec<&str> = line.split('|').collect();
            assert!(
                f[0].starts_with("CreateTime:")
                    && f[0]["CreateTime:".len()..].parse::<i64>().is_ok(),
                "{line}"
            );
            assert_eq!(
                f[1..].join("|"),
                format!("Partition:1|Offset:{i}|h1:v1,h2:v2|k{i}|{codec}-{i}"),
                "{line}"
            );
        }
    }
    // --partition/--offset start mid-log; --timeout-ms ends an idle read with exit 0.
    let out = pipit(
        &[
            "console-consumer",
            "--bootstrap-server",
            &addr,
            "--topic",
            "c-gzip",
            "--partition",
            "1",
            "--offset",
            "7",
            "--timeout-ms",
            "1500",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "gzip-7\ngzip-8\ngzip-9\n");
    assert!(text(&out.stderr).contains("Processed a total of 3 messages"));
}

#[test]
fn errors_are_clear_and_exit_nonzero() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string());
    let closed = closed.unwrap_or_else(|e| panic!("bind: {e}"));
    let out = pipit(&["topics", "--bootstrap-server", &closed, "--list"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot connect to bootstrap server {closed}: connection refused"
        )),
        "{}",
        text(&out.stderr)
    );
    let b = Broker::start(&[]);
    let addr = b.addr();
    let out = pipit(
        &[
            "console-consumer",
            "--bootstrap-server",
            &addr,
            "--topic",
            "missing",
            "--timeout-ms",
            "500",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("topic 'missing' does not exist"),
        "{}",
        text(&out.stderr)
    );
    let out = pipit(
        &[
            "console-producer",
            "--bootstrap-server",
            &addr,
            "--topic",
            "x",
            "--producer-property",
            "acks=2",
        ],
        Some(b"a\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("acks") && err.contains("'2'") && err.contains("all, -1, 0, 1"),
        "{err}"
    );
    let out = pipit(
        &[
            "consumer-perf-test",
            "--bootstrap-server",
            &addr,
            "--topic",
            "x",
            "--messages",
            "1",
            "--group",
            "g",
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("consumer groups are not supported yet"),
        "{}",
        text(&out.stderr)
    );
    let out = pipit(&["console-producer", "--topic", "x"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --bootstrap-server is a usage error"
    );
    for tool in [
        "topics",
        "console-producer",
        "console-consumer",
        "producer-perf-test",
        "consumer-perf-test",
    ] {
        let help = pipit_ok(&[tool, "--help"], None);
        assert!(help.contains("Example"), "{tool} --help has examples");
    }
}

#[test]
fn perf_tools_print_kafkas_formats() {
    let b = Broker::start(&[]);
    let addr = b.addr();
    create(&b, "bench", "2");
    let props = format!("bootstrap.servers={addr}");
    let out = pipit_ok(
        &[
            "producer-perf-test",
            "--topic",
            "bench",
            "--num-records",
            "3000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-props",
            &props,
            "acks=1",
        ],
        None,
    );
    let last = out.lines().last().unwrap_or_default().to_string();
    // N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, a ms 50th, b ms 95th, c ms 99th, d ms 99.9th.
    let parts: Vec<&str> = last.split(", ").collect();
    assert_eq!(parts.len(), 8, "{last}");
    assert_eq!(parts[0], "3000 records sent");
    let (rate, mb) = parts[1]
        .split_once(" records/sec (")
        .unwrap_or_else(|| panic!("{last}"));
    let rate: f64 = rate.parse().unwrap_or_else(|_| panic!("{last}"));
    assert!(rate > 0.0, "{last}");
    assert!(
        mb.ends_with(" MB/sec)") && mb.trim_end_matches(" MB/sec)").parse::<f64>().is_ok(),
        "{last}"
    );
    for (i, suffix) in [(2, " ms avg latency"), (3, " ms max latency")] {
        let v = parts[i]
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("{last}"));
        assert_eq!(
            v.split('.').nth(1).map(str::len),
            Some(2),
            "two decimals: {last}"
        );
    }
    for (i, suffix) in [
        (4, " ms 50th"),
        (5, " ms 95th"),
        (6, " ms 99th"),
        (7, " ms 99.9th."),
    ] {
        let v = parts[i]
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("{last}"));
        assert!(v.parse::<u64>().is_ok(), "{last}");
    }
    assert_eq!(
        parts[1]
            .split(" records/sec")
            .next()
            .and_then(|r| r.split('.').nth(1))
            .map(str::len),
        Some(6)
    );

    let out = pipit_ok(
        &[
            "consumer-perf-test",
            "--broker-list",
            &addr,
            "--topic",
            "bench",
            "--messages",
            "3000",
            "--fetch-size",
            "100000",
            "--timeout",
            "10000",
        ],
        None,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    );
    let row: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(row.len(), 10, "{}", lines[1]);
    for t in &row[0..2] {
        // yyyy-MM-dd HH:mm:ss:SSS
        assert_eq!(t.len(), 23, "{t}");
        assert_eq!(t.as_bytes()[10], b' ');
    }
    let mb: f64 = row[2].parse().unwrap_or(-1.0);
    assert!(
        (mb - 3000.0 * 100.0 / 1048576.0).abs() < 0.0001,
        "{}",
        lines[1]
    );
    assert_eq!(row[4], "3000");
    for i in [2, 3, 5, 8, 9] {
        assert_eq!(
            row[i].split('.').nth(1).map(str::len),
            Some(4),
            "four decimals: {}",
            lines[1]
        );
    }
    assert!(
        row[6].parse::<u64>().is_ok() && row[7].parse::<u64>().is_ok(),
        "{}",
        lines[1]
    );
}

/// The library API the tools are built on: offsets reported per record are the
/// offsets the consumer reads back, per partition in send order, headers intact.
#[test]
fn producer_reports_offsets_the_consumer_reads_back_in_order() {
    use pipit::client::config::ClientConfig;
    use pipit::client::consumer::{Consumer, OffsetSpec};
    use pipit::client::producer::Producer;
    use pipit::client::records::Record;

    let b = Broker::start(&[]);
    create(&b, "api", "4");
    let (config, _) = ClientConfig::from_props(&[
        ("bootstrap.servers".to_string(), b.addr()),
        ("acks".to_string(), "all".to_string()),
        ("linger.ms".to_string(), "2".to_string()),
        ("batch.size".to_string(), "2000".to_string()),
        ("compression.type".to_string(), "lz4".to_string()),
    ])
    .unwrap_or_else(|e| panic!("config: {e}"));
    smol::block_on(async {
        let producer = Producer::new(config.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut futures = Vec::new();
        for i in 0..400 {
            let record = Record {
                key: Some(format!("key-{}", i % 17).into_bytes().into()),
                value: Some(format!("value-{i}").into_bytes().into()),
                headers: vec![("i".to_string(), Some(i.to_string().into_bytes().into()))],
                timestamp: common::now_ms(),
            };
            futures.push(
                producer
                    .send("api", None, record)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        let mut placed: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
        for (i, f) in futures.into_iter().enumerate() {
            let report = f.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
            placed
                .entry(report.partition)
                .or_default()
                .push((report.offset, i));
        }
        producer
            .close()
            .await
            .unwrap_or_else(|e| panic!("close: {e}"));
        assert!(placed.len() > 1, "keys spread over partitions");
        let mut consumer = Consumer::new(config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let assignment: Vec<_> = (0..4)
            .map(|p| ("api".to_string(), p, OffsetSpec::Earliest))
            .collect();
        consumer
            .assign(&assignment)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut read: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
        for _ in 0..50 {
            for (_, p, r) in consumer
                .poll(Duration::from_millis(200))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
            {
                let i: usize =
                    String::from_utf8_lossy(r.headers[0].1.as_deref().unwrap_or_default())
                        .parse()
                        .unwrap_or(usize::MAX);
                assert_eq!(r.value.as_deref(), Some(format!("value-{i}").as_bytes()));
                assert_eq!(r.key.as_deref(), Some(format!("key-{}", i % 17).as_bytes()));
                read.entry(p).or_default().push((r.offset, i));
            }
            if read.values().map(Vec::len).sum::<usize>() == 400 {
                break;
            }
        }
        for v in placed.values() {
            let offsets: Vec<i64> = v.iter().map(|(o, _)| *o).collect();
            assert_eq!(
                offsets,
                (0..v.len() as i64).collect::<Vec<_>>(),
                "offsets per partition follow send order"
            );
        }
        assert_eq!(read, placed, "consumer reads what the producer reported");
    });
}

/// Retries keep order: the broker is killed (SIGKILL) and restarted on the same
/// port while the producer sends; every acknowledged record is in the log exactly
/// once (acks=all: the producer is idempotent) and in send order. The test checks
/// that records were in flight at the kill: sent before it, acknowledged after the
/// restart.
#[test]
fn retries_across_a_broker_restart_keep_partition_order() {
    use pipit::client::config::ClientConfig;
    use pipit::client::producer::Producer;
    use pipit::client::records::Record;

    let mut b = Broker::start_on_fixed_port();
    create(&b, "order", "1");
    let (config, _) = ClientConfig::from_props(&b.retrying_producer_props(&[]))
        .unwrap_or_else(|e| panic!("config: {e}"));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent_in_thread = sent.clone();
    let producer_thread = std::thread::spawn(move || {
        smol::block_on(async {
            let producer = Producer::new(config).await.map_err(|e| e.to_string())?;
            let mut futures = Vec::new();
            for i in 0..600u32 {
                let record = Record {
                    value: Some(i.to_string().into_bytes().into()),
                    timestamp: common::now_ms(),
                    ..Record::default()
                };
                futures.push(
                    producer
                        .send("order", Some(0), record)
                        .await
                        .map_err(|e| e.to_string())?,
                );
                sent_in_thread.store(i as usize + 1, std::sync::atomic::Ordering::Release);
                smol::Timer::after(Duration::from_millis(3)).await;
            }
            let mut acked = Vec::new();
            for (i, f) in futures.into_iter().enumerate() {
                if let Ok(report) = f.await {
                    acked.push((i as u32, report.acked_at));
                }
            }
            let _ = producer.close().await;
            Ok::<Vec<(u32, std::time::Instant)>, String>(acked)
        })
    });
    std::thread::sleep(Duration::from_millis(600));
    // Freeze the broker, let the producer send a few more (they cannot be
    // acknowledged now), then kill it: records are surely in flight.
    b.signal("STOP");
    let sent_at_stop = sent.load(std::sync::atomic::Ordering::Acquire);
    let frozen = std::time::Instant::now();
    while sent.load(std::sync::atomic::Ordering::Acquire) < sent_at_stop + 5
        && frozen.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    b.kill9();
    let sent_before_kill = sent.load(std::sync::atomic::Ordering::Acquire) as u32;
    std::thread::sleep(Duration::from_millis(300));
    let restarted_at = std::time::Instant::now();
    b.restart();
    let acked = producer_thread
        .join()
        .unwrap_or_else(|_| panic!("producer thread panicked"))
        .unwrap_or_else(|e| panic!("producer: {e}"));
    assert_eq!(
        acked.len(),
        600,
        "with retries every record is acknowledged in the end"
    );
    let in_flight = acked
        .iter()
        .filter(|(i, at)| *i < sent_before_kill && *at >= restarted_at)
        .count();
    assert!(
        sent_before_kill > 0 && in_flight > 0,
        "records must be in flight at the kill: {sent_before_kill} sent before it, \
         {in_flight} of them acknowledged only after the restart"
    );
    let acked: Vec<u32> = acked.into_iter().map(|(i, _)| i).collect();
    let logged: Vec<u32> = kcat_read_in_order(&b, "order");
    for w in logged.windows(2) {
        assert!(
            w[0] < w[1],
            "order broken or a record repeated: {} then {} in {logged:?}",
            w[0],
            w[1]
        );
    }
    for i in &acked {
        assert!(
            logged.contains(i),
            "acknowledged record {i} missing from the log"
        );
    }
}

/// Values of partition 0 as numbers, in log order.
fn kcat_read_in_order(b: &Broker, topic: &str) -> Vec<u32> {
    let addr = b.addr();
    let out = kcat_ok(
        &[
            "-b", &addr, "-C", "-t", topic, "-p", "0", "-e", "-q", "-f", "%s\n",
        ],
        None,
    );
    out.lines().filter_map(|l| l.parse().ok()).collect()
}
