//! The command line: `pipit <subcommand>`, Kafka's tools with Kafka's flags.

use std::ffi::OsString;

pub mod broker;

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
