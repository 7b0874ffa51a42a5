//! Shared plumbing of the Kafka tools: flag parsing helpers, client settings, exit codes.
//!
//! The tools take Kafka's long options with a separate value (`--topic t`) or
//! `--topic=t`; [`Flags`] wraps lexopt so each tool's parser is one `match`.
//! [`client_config`] layers settings as Kafka's tools do: the config file first,
//! then per-property flags, then `--bootstrap-server`. Exit codes: 0 success,
//! 1 failure at run time, 2 bad command line.

use std::ffi::OsString;

use crate::client::config::{ClientConfig, parse_kv, read_properties_file};

/// Exit code for a command line that cannot run.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a failure while running.
pub const EXIT_FAILURE: i32 = 1;

/// One parsed command-line item.
pub enum Flag {
    /// `--name` (value, if any, taken with [`Flags::value`]).
    Long(String),
    /// A bare argument.
    Positional(String),
}

/// A lexopt parser that yields Kafka-style long flags.
pub struct Flags {
    parser: lexopt::Parser,
}

impl Flags {
    pub fn new(args: impl IntoIterator<Item = OsString>) -> Flags {
        Flags {
            parser: lexopt::Parser::from_args(args),
        }
    }

    /// The next flag, `Ok(None)` at the end.
    pub fn next_flag(&mut self) -> Result<Option<Flag>, String> {
        match self.parser.next() {
            Ok(Some(lexopt::Arg::Long(name))) => Ok(Some(Flag::Long(name.to_string()))),
            Ok(Some(lexopt::Arg::Short(c))) => Ok(Some(Flag::Long(match c {
                'h' => "help".to_string(),
                other => format!("-{other}"),
            }))),
            Ok(Some(lexopt::Arg::Value(v))) => {
                Ok(Some(Flag::Positional(v.to_string_lossy().into_owned())))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The value of the flag just returned by [`Flags::next_flag`].
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.parser
            .value()
            .map(|v| v.to_string_lossy().into_owned())
            .map_err(|_| format!("option --{flag} requires a value"))
    }

    /// The value parsed as a number; the error names the flag and the value.
    pub fn number<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.trim()
            .parse::<T>()
            .map_err(|_| format!("option --{flag}: '{v}' is not a valid number"))
    }

    /// Like [`Flags::value`] but split as `key=value`.
    pub fn kv(&mut self, flag: &str) -> Result<(String, String), String> {
        let v = self.value(flag)?;
        parse_kv(&v).map_err(|e| format!("option --{flag}: {e}"))
    }

    /// An optional value: `--flag=v`, or a following argument that is not a flag.
    pub fn optional_value(&mut self) -> Option<String> {
        if let Some(v) = self.parser.optional_value() {
            return Some(v.to_string_lossy().into_owned());
        }
        let mut raw = self.parser.raw_args().ok()?;
        if raw.peek()?.to_string_lossy().starts_with('-') {
            return None;
        }
        raw.next().map(|v| v.to_string_lossy().into_owned())
    }

    /// Remaining bare values (for `--producer-props k=v k=v ...`), stopping before the next flag.
    pub fn values_until_flag(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(mut raw) = self.parser.raw_args() {
            while let Some(arg) = raw.peek() {
                if arg.to_string_lossy().starts_with("--") {
                    break;
                }
                if let Some(a) = raw.next() {
                    out.push(a.to_string_lossy().into_owned());
                }
            }
        }
        out
    }
}

/// Builds the client settings: `files` first, then `props`, then `bootstrap`.
pub fn client_config(
    bootstrap: Option<&str>,
    files: &[String],
    props: &[(String, String)],
) -> Result<ClientConfig, String> {
    let mut all = Vec::new();
    for f in files {
        all.extend(read_properties_file(f).map_err(|e| e.to_string())?);
    }
    all.extend(props.iter().cloned());
    if let Some(b) = bootstrap {
        all.push(("bootstrap.servers".to_string(), b.to_string()));
    }
    let (config, warnings) = ClientConfig::from_props(&all).map_err(|e| e.to_string())?;
    for w in warnings {
        eprintln!("WARN {w}");
    }
    Ok(config)
}

/// Prints `pipit <tool>: <message>` and the usage hint; returns [`EXIT_USAGE`].
pub fn usage_error(tool: &str, message: &str) -> i32 {
    eprintln!("pipit {tool}: {message}\nSee 'pipit {tool} --help'.");
    EXIT_USAGE
}

/// Prints `pipit <tool>: <message>`; returns [`EXIT_FAILURE`].
pub fn failure(tool: &str, message: &str) -> i32 {
    eprintln!("pipit {tool}: {message}");
    EXIT_FAILURE
}

/// The shape every tool's `run` shares: `--help` prints `usage` and exits 0, a
/// parse error is a usage error, then `body` runs to completion on smol and an
/// error from it is a failure.
pub fn run_tool<O, F>(
    tool: &str,
    usage: &str,
    parsed: Result<Option<O>, String>,
    body: impl FnOnce(O) -> F,
) -> i32
where
    F: std::future::Future<Output = Result<(), String>>,
{
    let o = match parsed {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{usage}");
            return 0;
        }
        Err(e) => return usage_error(tool, &e),
    };
    match smol::block_on(body(o)) {
        Ok(()) => 0,
        Err(e) => failure(tool, &e),
    }
}

/// A `true`/`false` tool property (`--property print.key=true`), any case as
/// Kafka's tools accept it; the error names the property and allowed values.
pub fn bool_property(k: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "invalid value '{v}' for property {k}: allowed values: true, false"
        )),
    }
}

/// Milliseconds since the Unix epoch (Kafka's timestamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats a Unix-ms timestamp as Kafka's perf tools do: `yyyy-MM-dd HH:mm:ss:SSS` (UTC).
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{millis:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_tool_time_format_matches_kafka() {
        // 2024-12-17 23:51:46.518 UTC, the row in the seed notes.
        assert_eq!(format_time_ms(1_734_479_506_518), "2024-12-17 23:51:46:518");
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00:000");
    }

    #[test]
    fn flags_and_values_until_next_flag() {
        let args = ["--producer-props", "a=1", "b=2", "--topic", "t"].map(OsString::from);
        let mut f = Flags::new(args);
        assert!(matches!(f.next_flag(), Ok(Some(Flag::Long(n))) if n == "producer-props"));
        assert_eq!(
            f.values_until_flag(),
            vec!["a=1".to_string(), "b=2".to_string()]
        );
        assert!(matches!(f.next_flag(), Ok(Some(Flag::Long(n))) if n == "topic"));
        assert_eq!(f.value("topic").ok().as_deref(), Some("t"));
    }
}
