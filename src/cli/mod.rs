//! The command line: `pipit <subcommand>`, Kafka's tools with Kafka's flags.

use std::ffi::OsString;

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
