//! `pipit console-consumer`: Kafka's kafka-console-consumer.sh without consumer groups.
//!
//! Assigns every partition of the topic (or `--partition P`) starting at the log end,
//! the log start (`--from-beginning`) or `--offset`. Each record prints as Kafka's
//! DefaultMessageFormatter does: optional `CreateTime:ts`, `Partition:p`, `Offset:o`,
//! headers, key — each followed by `key.separator` — then the value and
//! `line.separator`. Stops after `--max-messages` records or when nothing arrived
//! for `--timeout-ms`, then prints `Processed a total of N messages` on stderr.

use std::cell::Cell;
use std::ffi::OsString;
use std::io::Write;
use std::time::{Duration, Instant};

use super::args::{Flag, Flags, client_config, failure, usage_error};
use crate::client::consumer::{Consumer, OffsetSpec};
use crate::client::records::ConsumerRecord;

pub const USAGE: &str = "\
Usage: pipit console-consumer --bootstrap-server HOST:PORT --topic T [options]

Prints records of a topic to stdout (kafka-console-consumer.sh). Consumer groups
are not supported yet: the tool reads all partitions (or --partition) itself.

Options:
  --bootstrap-server B     host:port[,host:port] of any broker (required)
  --topic T                topic to read (required)
  --from-beginning         start at the oldest record instead of the end
  --partition P            read only partition P
  --offset O               start offset with --partition: a number, earliest or latest
  --max-messages N         exit after N records
  --timeout-ms MS          exit when no record arrived for MS milliseconds
  --property k=v           output settings, repeatable: print.key, print.offset, print.partition,
                           print.timestamp, print.headers, print.value (true/false),
                           key.separator (tab), line.separator, headers.separator,
                           headers.key.separator, null.literal
  --consumer-property k=v  consumer setting, repeatable (fetch.max.bytes, ...)
  --consumer.config FILE   consumer properties file (alias --command-config)
  -h, --help               print this text

Examples:
  pipit console-consumer --bootstrap-server 127.0.0.1:9092 --topic test --from-beginning
  pipit console-consumer --bootstrap-server 127.0.0.1:9092 --topic test --from-beginning \\
      --property print.key=true --property print.offset=true --max-messages 10 --timeout-ms 5000
  pipit console-consumer --bootstrap-server 127.0.0.1:9092 --topic test --partition 0 --offset 42
";

/// Kafka DefaultMessageFormatter settings.
#[derive(Debug, Clone, PartialEq)]
struct Format {
    key: bool,
    offset: bool,
    partition: bool,
    timestamp: bool,
    headers: bool,
    value: bool,
    key_separator: String,
    line_separator: String,
    headers_separator: String,
    headers_key_separator: String,
    null_literal: String,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            key: false,
            offset: false,
            partition: false,
            timestamp: false,
            headers: false,
            value: true,
            key_separator: "\t".into(),
            line_separator: "\n".into(),
            headers_separator: ",".into(),
            headers_key_separator: ":".into(),
            null_literal: "null".into(),
        }
    }
}

impl Format {
    fn set(&mut self, k: &str, v: &str) -> Result<(), String> {
        let flag = |v: &str| super::args::bool_property(k, v);
        match k {
            "print.key" => self.key = flag(v)?,
            "print.offset" => self.offset = flag(v)?,
            "print.partition" => self.partition = flag(v)?,
            "print.timestamp" => self.timestamp = flag(v)?,
            "print.headers" => self.headers = flag(v)?,
            "print.value" => self.value = flag(v)?,
            "key.separator" => self.key_separator = v.to_string(),
            "line.separator" => self.line_separator = v.to_string(),
            "headers.separator" => self.headers_separator = v.to_string(),
            "headers.key.separator" => self.headers_key_separator = v.to_string(),
            "null.literal" => self.null_literal = v.to_string(),
            other => return Err(format!("unknown --property {other}")),
        }
        Ok(())
    }

    fn write(&self, out: &mut Vec<u8>, partition: i32, r: &ConsumerRecord) {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.timestamp {
            fields.push(format!("CreateTime:{}", r.timestamp).into_bytes());
        }
        if self.partition {
            fields.push(format!("Partition:{partition}").into_bytes());
        }
        if self.offset {
            fields.push(format!("Offset:{}", r.offset).into_bytes());
        }
        if self.headers {
            if r.headers.is_empty() {
                fields.push(b"NO_HEADERS".to_vec());
            } else {
                let mut h = Vec::new();
                for (i, (k, v)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        h.extend_from_slice(self.headers_separator.as_bytes());
                    }
                    h.extend_from_slice(k.as_bytes());
                    h.extend_from_slice(self.headers_key_separator.as_bytes());
                    h.extend_from_slice(v.as_deref().unwrap_or(self.null_literal.as_bytes()));
                }
                fields.push(h);
            }
        }
        if self.key {
            fields.push(
                r.key
                    .as_deref()
                    .unwrap_or(self.null_literal.as_bytes())
                    .to_vec(),
            );
        }
        if self.value {
            fields.push(
                r.value
                    .as_deref()
                    .unwrap_or(self.null_literal.as_bytes())
                    .to_vec(),
            );
        }
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(self.key_separator.as_bytes());
            }
            out.extend_from_slice(f);
        }
        out.extend_from_slice(self.line_separator.as_bytes());
    }
}

#[derive(Default)]
struct Opts {
    bootstrap: Option<String>,
    topic: String,
    from_beginning: bool,
    partition: Option<i32>,
    offset: Option<String>,
    max_messages: Option<u64>,
    timeout_ms: Option<u64>,
    format: Format,
    props: Vec<(String, String)>,
    files: Vec<String>,
}

fn parse(args: impl Iterator<Item = OsString>) -> Result<Option<Opts>, String> {
    let mut f = Flags::new(args);
    let mut o = Opts::default();
    while let Some(flag) = f.next_flag()? {
        let Flag::Long(name) = flag else {
            return Err("unexpected argument".into());
        };
        match name.as_str() {
            "help" => return Ok(None),
            "bootstrap-server" | "broker-list" => o.bootstrap = Some(f.value(&name)?),
            "topic" => o.topic = f.value(&name)?,
            "from-beginning" => o.from_beginning = true,
            "partition" => o.partition = Some(f.number(&name)?),
            "offset" => o.offset = Some(f.value(&name)?),
            "max-messages" => o.max_messages = Some(f.number(&name)?),
            "timeout-ms" => o.timeout_ms = Some(f.number(&name)?),
            "property" => {
                let (k, v) = f.kv(&name)?;
                o.format.set(&k, &v)?;
            }
            "consumer-property" => o.props.push(f.kv(&name)?),
            "consumer.config" | "command-config" => o.files.push(f.value(&name)?),
            "group" => {
                return Err("consumer groups are not supported yet: drop --group; the tool reads all partitions".into());
            }
            "isolation-level" | "skip-message-on-error" => {}
            other => return Err(format!("unknown option --{other}")),
        }
    }
    if o.bootstrap.is_none() {
        return Err("--bootstrap-server is required".into());
    }
    if o.topic.is_empty() {
        return Err("--topic is required".into());
    }
    if o.offset.is_some() && o.partition.is_none() {
        return Err("the partition is required when offset is specified (--partition)".into());
    }
    if o.offset.is_some() && o.from_beginning {
        return Err("--from-beginning and --offset cannot be used together".into());
    }
    Ok(Some(o))
}

fn start(o: &Opts) -> Result<OffsetSpec, String> {
    match o.offset.as_deref() {
        None if o.from_beginning => Ok(OffsetSpec::Earliest),
        None | Some("latest") => Ok(OffsetSpec::Latest),
        Some("earliest") => Ok(OffsetSpec::Earliest),
        Some(n) => match n.parse::<i64>() {
            Ok(v) if v >= 0 => Ok(OffsetSpec::At(v)),
            _ => Err(format!(
                "invalid --offset '{n}': expected a non-negative number, earliest or latest"
            )),
        },
    }
}

pub fn run(args: impl Iterator<Item = OsString>) -> i32 {
    let o = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return 0;
        }
        Err(e) => return usage_error("console-consumer", &e),
    };
    let count = Cell::new(0u64);
    // Ctrl-C / SIGTERM end the run like --max-messages does: summary, exit 0.
    let r = smol::block_on(async {
        let stop = async {
            use smol::stream::StreamExt;
            match async_signal::Signals::new([
                async_signal::Signal::Int,
                async_signal::Signal::Term,
            ]) {
                Ok(mut signals) => {
                    signals.next().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
            Ok(())
        };
        smol::future::or(consume(&o, &count), stop).await
    });
    eprintln!("Processed a total of {} messages", count.get());
    match r {
        Ok(()) => 0,
        Err(e) => failure("console-consumer", &e),
    }
}

async fn consume(o: &Opts, count: &Cell<u64>) -> Result<(), String> {
    let spec = start(o)?;
    let config = client_config(o.bootstrap.as_deref(), &o.files, &o.props)?;
    let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
    let partitions = consumer
        .partitions_for(&o.topic)
        .await
        .map_err(|e| e.to_string())?;
    let chosen: Vec<i32> = match o.partition {
        Some(p) if partitions.contains(&p) => vec![p],
        Some(p) => {
            return Err(format!(
                "partition {p} of topic '{}' does not exist",
                o.topic
            ));
        }
        None => partitions,
    };
    let assignment: Vec<(String, i32, OffsetSpec)> =
        chosen.iter().map(|p| (o.topic.clone(), *p, spec)).collect();
    consumer
        .assign(&assignment)
        .await
        .map_err(|e| e.to_string())?;
    let idle_limit = o.timeout_ms.map(Duration::from_millis);
    let mut last = Instant::now();
    let stdout = std::io::stdout();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let poll_for = idle_limit.map_or(Duration::from_millis(500), |l| {
            l.saturating_sub(last.elapsed())
                .clamp(Duration::from_millis(1), Duration::from_millis(500))
        });
        let records = consumer.poll(poll_for).await.map_err(|e| e.to_string())?;
        if !records.is_empty() {
            last = Instant::now();
        }
        for (_, partition, r) in &records {
            if o.max_messages.is_some_and(|m| count.get() >= m) {
                break;
            }
            o.format.write(&mut buf, *partition, r);
            count.set(count.get() + 1);
        }
        {
            let mut lock = stdout.lock();
            lock.write_all(&buf)
                .and_then(|_| lock.flush())
                .map_err(|e| format!("cannot write stdout: {e}"))?;
        }
        buf.clear();
        if o.max_messages.is_some_and(|m| count.get() >= m) {
            return Ok(());
        }
        if idle_limit.is_some_and(|l| last.elapsed() >= l) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn fields_print_in_kafka_order() {
        let mut f = Format::default();
        for k in [
            "print.key",
            "print.offset",
            "print.timestamp",
            "print.partition",
        ] {
            f.set(k, "true").expect("ok");
        }
        let r = ConsumerRecord {
            offset: 7,
            timestamp: 1000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![],
        };
        let mut out = Vec::new();
        f.write(&mut out, 2, &r);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "CreateTime:1000\tPartition:2\tOffset:7\tk\tv\n"
        );
        let mut plain = Vec::new();
        Format::default().write(&mut plain, 0, &ConsumerRecord { key: None, ..r });
        assert_eq!(plain, b"v\n");
    }
}
