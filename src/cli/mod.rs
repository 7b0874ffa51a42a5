//! The command line: `pipit <subcommand>`, Kafka's tools with Kafka's flags.

use std::ffi::OsString;

pub mod args;
pub mod broker;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_perf_test;
pub mod producer_perf_test;
pub mod topics;

/// Logs go to stderr, one line per event: `LEVEL [module] message`.
pub fn init_logging() {
    let level = match std::env::var("PIPIT_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Info,
    };
    let config = simplelog::ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(log::LevelFilter::Off)
        .set_thread_level(log::LevelFilter::Off)
        .build();
    let _ = simplelog::WriteLogger::init(level, config, std::io::stderr());
}

/// Usage text for `pipit --help`.
pub const USAGE: &str = "\
pipit - a Kafka-compatible message broker for edge gateways

Usage: pipit <subcommand> [options]

Subcommands:
  broker [server.properties] [--override key=value]...
                 run a broker (Kafka's server.properties keys)
  topics         create, list, describe, alter, delete topics (kafka-topics.sh)
  console-producer
                 produce stdin lines to a topic (kafka-console-producer.sh)
  console-consumer
                 print a topic's records (kafka-console-consumer.sh)
  producer-perf-test
                 measure produce throughput and latency (kafka-producer-perf-test.sh)
  consumer-perf-test
                 measure consume throughput (kafka-consumer-perf-test.sh)
  help           print this text

Options:
  -h, --help     print this text
  -V, --version  print the version
";

/// Runs the command line and returns the process exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let mut args = args.into_iter().skip(1);
    let Some(first) = args.next() else {
        eprint!("{USAGE}");
        return 2;
    };
    match first.to_string_lossy().as_ref() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            0
        }
        "broker" => broker::run(args),
        "topics" => topics::run(args),
        "console-producer" => console_producer::run(args),
        "console-consumer" => console_consumer::run(args),
        "producer-perf-test" => producer_perf_test::run(args),
        "consumer-perf-test" => consumer_perf_test::run(args),
        "-V" | "--version" => {
            println!("pipit {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => {
            eprintln!("pipit: unknown subcommand '{other}'; see 'pipit --help'");
            2
        }
    }
}
