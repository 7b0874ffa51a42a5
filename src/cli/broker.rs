//! `pipit broker [server.properties] [--override key=value]...`

use std::ffi::OsString;

use crate::server::config::BrokerConfig;

pub const USAGE: &str = "\
Usage: pipit broker [server.properties] [--override key=value]...

Runs a broker. Settings use Kafka's server.properties keys; --override wins
over the file. With no file, defaults apply: listeners=PLAINTEXT://127.0.0.1:9092,
log.dirs=./data, log.durability=fsync.

Examples:
  pipit broker
  pipit broker /etc/pipit/server.properties
  pipit broker --override listeners=PLAINTEXT://0.0.0.0:9092 --override log.dirs=/var/lib/pipit
";

pub fn run(args: impl Iterator<Item = OsString>) -> i32 {
    let mut file: Option<String> = None;
    let mut overrides = Vec::new();
    let mut args = args.map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            "--override" => {
                let Some(kv) = args.next() else {
                    eprintln!("pipit broker: --override needs key=value");
                    return 2;
                };
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("pipit broker: --override '{kv}' is not key=value");
                    return 2;
                };
                overrides.push((k.trim().to_string(), v.trim().to_string()));
            }
            other if other.starts_with('-') => {
                eprintln!("pipit broker: unknown option '{other}'\n\n{USAGE}");
                return 2;
            }
            path => {
                if file.replace(path.to_string()).is_some() {
                    eprintln!("pipit broker: only one server.properties file may be given");
                    return 2;
                }
            }
        }
    }
    let text = match &file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("pipit broker: cannot read {path}: {e}");
                return 1;
            }
        },
        None => String::new(),
    };
    let (config, warnings) = match BrokerConfig::parse(&text, &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pipit broker: {e}");
            return 1;
        }
    };
    super::init_logging();
    for w in warnings {
        log::warn!("config: {w}");
    }
    match crate::server::run(config) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            eprintln!("pipit broker: {e}");
            1
        }
    }
}
