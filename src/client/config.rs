//! Client settings under Kafka's property names, validated once.
//!
//! [`ClientConfig::from_props`] takes `(key, value)` pairs as they come from
//! `--producer-property`, `--producer-props`, `--command-config FILE` and friends,
//! checks each value (the error names the property, the value and what is allowed)
//! and fills defaults. Unknown keys are not fatal: like Kafka's clients, they come
//! back as warnings. [`read_properties_file`] reads a tool's config file with the
//! broker's Java `Properties.load` parser (`protocol::properties`).

use std::time::Duration;

use super::compression::Compression;
use super::conn::ClientError;
use crate::protocol::properties::parse_properties;

/// Every setting the client understands, with Kafka's defaults unless noted.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// `bootstrap.servers`: host:port list.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `acks`: 0, 1 or -1 (`all`).
    pub acks: i16,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size` in bytes. Default 1,000,000 (librdkafka's), not Kafka's 16 KiB: this
    /// client keeps one produce in flight per partition to keep order, so batches are larger.
    pub batch_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `delivery.timeout.ms`: bound on send → ack including retries.
    pub delivery_timeout: Duration,
    /// `partitioner`: roundrobin | random | hash | <partition number> (pipit's key).
    pub partitioner: String,
    /// `buffer.memory`: bytes of unsent records before `send` waits.
    pub buffer_memory: usize,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `enable.idempotence` as set by the user; `None` means Kafka's default (true,
    /// but only with acks=all; see [`ClientConfig::idempotence`]).
    pub enable_idempotence: Option<bool>,
    /// `max.in.flight.requests.per.connection`: Produce requests in flight per
    /// partition when idempotent (1..=5, the broker's sequence window).
    pub max_in_flight: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec!["127.0.0.1:9092".into()],
            client_id: "pipit".into(),
            acks: -1,
            linger: Duration::from_millis(5),
            batch_size: 1_000_000,
            compression: Compression::None,
            retries: 5,
            retry_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(30),
            delivery_timeout: Duration::from_secs(120),
            partitioner: "default".into(),
            buffer_memory: 32 * 1024 * 1024,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            enable_idempotence: None,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// Kafka's limit for an idempotent producer: the broker remembers five batches.
pub const MAX_IN_FLIGHT: usize = 5;

fn bad(key: &str, value: &str, allowed: &str) -> ClientError {
    ClientError::Config(format!(
        "invalid value '{value}' for property {key}: {allowed}"
    ))
}

fn num<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    key: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, ClientError> {
    match value.trim().parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(bad(
            key,
            value,
            &format!("expected an integer in [{min}, {max}]"),
        )),
    }
}

fn ms(key: &str, value: &str, min: u64) -> Result<Duration, ClientError> {
    num::<u64>(key, value, min, i32::MAX as u64).map(Duration::from_millis)
}

impl ClientConfig {
    /// Applies `props` over the defaults; returns the config and warnings for unknown keys.
    pub fn from_props(
        props: &[(String, String)],
    ) -> Result<(ClientConfig, Vec<String>), ClientError> {
        let mut c = ClientConfig::default();
        let mut warnings = Vec::new();
        for (k, v) in props {
            if let Some(w) = c.set(k, v)? {
                warnings.push(w);
            }
        }
        c.validate()?;
        Ok((c, warnings))
    }

    /// Checks settings that depend on each other.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.enable_idempotence == Some(true) && self.acks != -1 {
            return Err(ClientError::Config(format!(
                "enable.idempotence=true requires acks=all (acks is {}); set acks=all or \
                 enable.idempotence=false",
                self.acks
            )));
        }
        Ok(())
    }

    /// Whether the producer should be idempotent (if the broker supports it): the
    /// Kafka ≥ 3.0 default is on, but an unset `enable.idempotence` with acks 0/1
    /// quietly means off, as in Kafka.
    pub fn idempotence(&self) -> bool {
        self.acks == -1 && self.enable_idempotence != Some(false)
    }

    /// Sets one property; `Ok(Some(warning))` for a key this client ignores.
    pub fn set(&mut self, key: &str, value: &str) -> Result<Option<String>, ClientError> {
        let v = value.trim();
        match key.trim() {
            "bootstrap.servers" | "metadata.broker.list" => {
                let list: Vec<String> = v
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.is_empty() || list.iter().any(|s| !s.contains(':')) {
                    return Err(bad(key, value, "expected host:port[,host:port...]"));
                }
                self.bootstrap_servers = list;
            }
            "client.id" => self.client_id = v.to_string(),
            "acks" | "request.required.acks" => {
                self.acks = match v {
                    "all" | "-1" => -1,
                    "0" => 0,
                    "1" => 1,
                    _ => return Err(bad(key, value, "allowed values: all, -1, 0, 1")),
                }
            }
            "linger.ms" => self.linger = ms(key, v, 0)?,
            "batch.size" => self.batch_size = num(key, v, 1usize, 64 * 1024 * 1024)?,
            "compression.type" | "compression.codec" => {
                self.compression = Compression::from_name(v).map_err(|_| {
                    bad(
                        key,
                        value,
                        "String must be one of: uncompressed, zstd, lz4, snappy, gzip, none",
                    )
                })?
            }
            "retries" => self.retries = num(key, v, 0u32, i32::MAX as u32)?,
            "retry.backoff.ms" => self.retry_backoff = ms(key, v, 0)?,
            "request.timeout.ms" => self.request_timeout = ms(key, v, 1)?,
            "delivery.timeout.ms" => self.delivery_timeout = ms(key, v, 1)?,
            "partitioner" => {
                if v != "default" {
                    super::partitioner::from_name(v).map_err(|e| bad(key, value, &e))?;
                }
                self.partitioner = v.to_string();
            }
            "buffer.memory" => self.buffer_memory = num(key, v, 1024usize, usize::MAX)?,
            "fetch.max.bytes" => self.fetch_max_bytes = num(key, v, 1, i32::MAX)?,
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = num(key, v, 1, i32::MAX)?
            }
            "fetch.max.wait.ms" => self.fetch_max_wait = ms(key, v, 0)?,
            "fetch.min.bytes" => self.fetch_min_bytes = num(key, v, 0, i32::MAX)?,
            "enable.idempotence" => {
                self.enable_idempotence = Some(match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(key, value, "allowed values: true, false")),
                })
            }
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = num(key, v, 1usize, MAX_IN_FLIGHT)?
            }
            // Accepted for compatibility; this client has no use for them yet.
            "key.serializer" | "value.serializer" | "key.deserializer" | "value.deserializer"
            | "group.id" | "auto.offset.reset" | "enable.auto.commit" | "security.protocol" => {}
            other => {
                return Ok(Some(format!(
                    "the configuration '{other}' was supplied but isn't a known config"
                )));
            }
        }
        Ok(None)
    }
}

/// Splits `key=value`; the error names the text.
pub fn parse_kv(text: &str) -> Result<(String, String), ClientError> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(ClientError::Config(format!("'{text}' is not key=value"))),
    }
}

/// Reads a properties file (`--command-config`, `--producer.config`, `--consumer.config`)
/// as Java's `Properties.load` does: `k=v`, `k: v` or `k v`, continuation lines and
/// escapes; a line with no separator is a key with an empty value (Java accepts it too),
/// which [`ClientConfig::from_props`] then checks like any other value.
pub fn read_properties_file(path: &str) -> Result<Vec<(String, String)>, ClientError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ClientError::Config(format!("cannot read config file {path}: {e}")))?;
    Ok(parse_properties(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kafka_keys_are_applied() {
        let (c, w) = ClientConfig::from_props(&props(&[
            ("bootstrap.servers", "a:1, b:2"),
            ("acks", "all"),
            ("linger.ms", "7"),
            ("compression.type", "gzip"),
        ]))
        .expect("valid");
        assert_eq!(
            c.bootstrap_servers,
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        assert_eq!(c.acks, -1);
        assert_eq!(c.linger, Duration::from_millis(7));
        assert_eq!(c.compression, Compression::Gzip);
        assert!(w.is_empty());
    }

    #[test]
    fn bad_values_name_property_value_and_allowed() {
        let e = ClientConfig::from_props(&props(&[("acks", "2")]))
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.contains("acks") && e.contains("'2'") && e.contains("all, -1, 0, 1"),
            "{e}"
        );
        let e = ClientConfig::from_props(&props(&[("compression.type", "brotli")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("compression.type") && e.contains("gzip"), "{e}");
        assert!(ClientConfig::from_props(&props(&[("linger.ms", "-1")])).is_err());
    }

    #[test]
    fn idempotence_defaults_on_only_with_acks_all_and_explicit_conflicts_fail() {
        let on =
            |l: &[(&str, &str)]| ClientConfig::from_props(&props(l)).map(|c| c.0.idempotence());
        assert_eq!(on(&[]), Ok(true));
        assert_eq!(on(&[("acks", "1")]), Ok(false));
        assert_eq!(on(&[("acks", "0")]), Ok(false));
        assert_eq!(on(&[("enable.idempotence", "false")]), Ok(false));
        let e = on(&[("acks", "1"), ("enable.idempotence", "true")])
            .expect_err("conflict")
            .to_string();
        assert!(
            e.contains("enable.idempotence") && e.contains("acks"),
            "{e}"
        );
        let e = on(&[("max.in.flight.requests.per.connection", "6")]).expect_err("above 5");
        assert!(
            e.to_string()
                .contains("max.in.flight.requests.per.connection")
        );
    }

    #[test]
    fn unknown_keys_warn() {
        let (_, w) = ClientConfig::from_props(&props(&[("foo.bar", "1")])).expect("ok");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("foo.bar"));
    }

    #[test]
    fn tool_config_files_are_read_with_javas_properties_syntax() {
        let path = std::env::temp_dir().join(format!("pipit-client-props-{}", std::process::id()));
        let text = "# c\n\nacks = all\nclient.id: x\n! also comment\n\
            bootstrap.servers localhost:9092\nlinger.ms=\\\n   5\ncompression.type\n";
        std::fs::write(&path, text).unwrap();
        let p = read_properties_file(path.to_str().unwrap()).expect("Java accepts every line");
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            p,
            props(&[
                ("acks", "all"),
                ("client.id", "x"),
                ("bootstrap.servers", "localhost:9092"),
                ("linger.ms", "5"),
                ("compression.type", ""),
            ])
        );
        // A key without a value is then checked like any value, naming the key.
        let e = ClientConfig::from_props(&p).unwrap_err().to_string();
        assert!(e.contains("compression.type"), "{e}");
        assert_eq!(parse_kv("a=b=c").ok(), Some(("a".into(), "b=c".into())));
    }
}
