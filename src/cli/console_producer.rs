//! `pipit console-producer`: Kafka's kafka-console-producer.sh — one record per stdin line.
//!
//! Line parsing follows Kafka's LineMessageReader: with `parse.key=true` the key is
//! the text before the first `key.separator` (default tab; a line without it is an
//! error naming the line); with `parse.headers=true` the line starts with
//! `h1:v1,h2:v2` then `headers.delimiter` (tab); `null.marker` turns a key or value
//! into null. Records are sent asynchronously; at end of input everything is
//! flushed, send errors are reported, and the exit code is 1 if any record failed.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::BufRead;

use bytes::Bytes;

use super::args::{Flag, Flags, client_config, now_ms, run_tool};
use crate::client::producer::{DeliveryFuture, Producer};
use crate::client::records::Record;

pub const USAGE: &str = "\
Usage: pipit console-producer --bootstrap-server HOST:PORT --topic T [options] < lines

Reads lines from stdin and produces one record per line (kafka-console-producer.sh).

Options:
  --bootstrap-server B        host:port[,host:port] of any broker (required; alias --broker-list)
  --topic T                   topic to produce to (required)
  --property k=v              line reader settings, repeatable: parse.key=true, key.separator=:,
                              parse.headers=true, headers.delimiter, headers.separator,
                              headers.key.separator, null.marker
  --producer-property k=v     producer setting, repeatable (acks=all, linger.ms=5, batch.size, ...)
  --producer.config FILE      producer properties file (alias --command-config)
  --compression-codec [C]     none, gzip (the default when C is omitted), snappy, lz4, zstd
  --partitioner P             roundrobin, random, hash (murmur2, Kafka's) or a partition number
  --request-required-acks A   same as --producer-property acks=A
  --sync                      wait for each record's acknowledgement before the next
  -h, --help                  print this text

Examples:
  echo hello | pipit console-producer --bootstrap-server 127.0.0.1:9092 --topic test
  printf 'k1:v1\\nk2:v2\\n' | pipit console-producer --bootstrap-server 127.0.0.1:9092 --topic test \\
      --property parse.key=true --property key.separator=: --partitioner hash
  pipit console-producer --broker-list 127.0.0.1:9092 --topic test --compression-codec zstd \\
      --producer-property acks=all
";

/// How a line becomes a record.
#[derive(Debug, Clone, PartialEq)]
struct LineFormat {
    parse_key: bool,
    key_separator: String,
    parse_headers: bool,
    headers_delimiter: String,
    headers_separator: String,
    headers_key_separator: String,
    null_marker: Option<String>,
}

impl Default for LineFormat {
    fn default() -> Self {
        LineFormat {
            parse_key: false,
            key_separator: "\t".into(),
            parse_headers: false,
            headers_delimiter: "\t".into(),
            headers_separator: ",".into(),
            headers_key_separator: ":".into(),
            null_marker: None,
        }
    }
}

impl LineFormat {
    fn set(&mut self, k: &str, v: &str) -> Result<(), String> {
        let flag = |v: &str| super::args::bool_property(k, v);
        match k {
            "parse.key" => self.parse_key = flag(v)?,
            "key.separator" => self.key_separator = v.to_string(),
            "parse.headers" => self.parse_headers = flag(v)?,
            "headers.delimiter" => self.headers_delimiter = v.to_string(),
            "headers.separator" => self.headers_separator = v.to_string(),
            "headers.key.separator" => self.headers_key_separator = v.to_string(),
            "null.marker" => self.null_marker = Some(v.to_string()),
            "ignore.error" => {}
            other => return Err(format!("unknown --property {other}")),
        }
        Ok(())
    }

    fn bytes(&self, s: &str) -> Option<Bytes> {
        match &self.null_marker {
            Some(m) if m == s => None,
            _ => Some(Bytes::copy_from_slice(s.as_bytes())),
        }
    }

    /// Parses line `n` (1-based) into a record.
    fn parse(&self, line: &str, n: usize) -> Result<Record, String> {
        let mut rest = line;
        let mut headers = Vec::new();
        if self.parse_headers {
            let Some((h, r)) = rest.split_once(self.headers_delimiter.as_str()) else {
                return Err(format!(
                    "No headers delimiter found on line number {n}: '{line}'"
                ));
            };
            rest = r;
            for pair in h
                .split(self.headers_separator.as_str())
                .filter(|p| !p.is_empty())
            {
                let Some((k, v)) = pair.split_once(self.headers_key_separator.as_str()) else {
                    return Err(format!(
                        "No header key separator found in pair '{pair}' on line number {n}"
                    ));
                };
                headers.push((k.to_string(), self.bytes(v)));
            }
        }
        let (key, value) = if self.parse_key {
            let Some((k, v)) = rest.split_once(self.key_separator.as_str()) else {
                return Err(format!(
                    "No key separator found on line number {n}: '{line}'"
                ));
            };
            (self.bytes(k), self.bytes(v))
        } else {
            (None, self.bytes(rest))
        };
        Ok(Record {
            key,
            value,
            headers,
            timestamp: now_ms(),
        })
    }
}

struct Opts {
    bootstrap: Option<String>,
    topic: String,
    files: Vec<String>,
    props: Vec<(String, String)>,
    format: LineFormat,
    sync: bool,
}

fn parse(args: impl Iterator<Item = OsString>) -> Result<Option<Opts>, String> {
    let mut f = Flags::new(args);
    let mut o = Opts {
        bootstrap: None,
        topic: String::new(),
        files: vec![],
        props: vec![],
        format: LineFormat::default(),
        sync: false,
    };
    while let Some(flag) = f.next_flag()? {
        let Flag::Long(name) = flag else {
            return Err("unexpected argument".into());
        };
        match name.as_str() {
            "help" => return Ok(None),
            "bootstrap-server" | "broker-list" => o.bootstrap = Some(f.value(&name)?),
            "topic" => o.topic = f.value(&name)?,
            "property" => {
                let (k, v) = f.kv(&name)?;
                o.format.set(&k, &v)?;
            }
            "producer-property" => o.props.push(f.kv(&name)?),
            "producer.config" | "command-config" => o.files.push(f.value(&name)?),
            "compression-codec" => {
                let codec = f.optional_value().unwrap_or_else(|| "gzip".into());
                o.props.push(("compression.type".into(), codec));
            }
            "partitioner" => o.props.push(("partitioner".into(), f.value(&name)?)),
            "request-required-acks" => o.props.push(("acks".into(), f.value(&name)?)),
            "request-timeout-ms" => o.props.push(("request.timeout.ms".into(), f.value(&name)?)),
            "sync" => o.sync = true,
            other => return Err(format!("unknown option --{other}")),
        }
    }
    if o.bootstrap.is_none() {
        return Err("--bootstrap-server (or --broker-list) is required".into());
    }
    if o.topic.is_empty() {
        return Err("--topic is required".into());
    }
    Ok(Some(o))
}

pub fn run(args: impl Iterator<Item = OsString>) -> i32 {
    run_tool("console-producer", USAGE, parse(args), |o| async move {
        produce(&o).await
    })
}

/// Pending deliveries kept before the oldest is awaited (bounds memory on long inputs).
const MAX_PENDING: usize = 10_000;

async fn produce(o: &Opts) -> Result<(), String> {
    let config = client_config(o.bootstrap.as_deref(), &o.files, &o.props)?;
    let producer = Producer::new(config).await.map_err(|e| e.to_string())?;
    producer
        .partitions(&o.topic)
        .await
        .map_err(|e| e.to_string())?;
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut failed = 0usize;
    let mut first_error: Option<String> = None;
    let mut note = |e: String, failed: &mut usize| {
        *failed += 1;
        eprintln!("ERROR Error when sending message to topic {}: {e}", o.topic);
        first_error.get_or_insert(e);
    };
    let stdin = std::io::stdin();
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        let record = o.format.parse(&line, i + 1)?;
        let future = producer
            .send(&o.topic, None, record)
            .await
            .map_err(|e| e.to_string())?;
        pending.push_back(future);
        while o.sync || pending.len() > MAX_PENDING {
            let Some(f) = pending.pop_front() else { break };
            if let Err(e) = f.wait().await {
                note(e.to_string(), &mut failed);
            }
        }
    }
    let closed = producer.close().await;
    for f in pending {
        if let Err(e) = f.wait().await {
            note(e.to_string(), &mut failed);
        }
    }
    closed.map_err(|e| e.to_string())?;
    match first_error {
        Some(e) => Err(format!("{failed} record(s) failed; first error: {e}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_headers_and_null_marker() {
        let mut f = LineFormat::default();
        f.set("parse.key", "true").expect("ok");
        f.set("key.separator", ":").expect("ok");
        let r = f.parse("k1:v:1", 1).expect("parsed");
        assert_eq!(r.key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"v:1"[..]));
        assert!(
            f.parse("novalue", 3)
                .err()
                .unwrap_or_default()
                .contains("line number 3")
        );
        f.set("parse.headers", "true").expect("ok");
        f.set("null.marker", "NULL").expect("ok");
        let r = f.parse("a:1,b:NULL\tNULL:v", 1).expect("parsed");
        assert_eq!(
            r.headers,
            vec![
                ("a".to_string(), Some(Bytes::from_static(b"1"))),
                ("b".to_string(), None)
            ]
        );
        assert_eq!(r.key, None);
        assert!(f.set("parse.key", "yes").is_err());
    }
}
