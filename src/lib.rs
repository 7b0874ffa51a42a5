//! pipit: a Kafka-compatible message broker in one small binary for edge gateways.
//!
//! # Layers
//!
//! Each layer is one folder and uses only the layers listed above it. The
//! storage layer builds without std or alloc (`make nostd`); everything else
//! needs std.
//!
//! | layer       | folder            | owns                                                                  |
//! |-------------|-------------------|-----------------------------------------------------------------------|
//! | storage     | `src/storage/`    | record-batch views, CRC-32C, the segment ring, indexes, recovery       |
//! | log         | `src/log/`        | a partition on files: directory layout, preallocation, flush policy    |
//! | protocol    | `src/protocol/`   | Kafka frames, request guard, version table, error codes, record batches and codecs (sans-I/O) |
//! | server      | `src/server/`     | smol listener, connections, dispatch to thin handlers, shutdown        |
//! | cluster     | `src/cluster/`    | peers, controller election, replication, ISR                          |
//! | groups      | `src/groups/`     | group coordinator and committed offsets                               |
//! | client, cli | `src/client/`, `src/cli/` | our Kafka client and the Kafka tools as subcommands           |
//! | dashboard   | `src/dashboard/`  | HTTP page, JSON API and Prometheus `/metrics`                         |
//!
//! `src/main.rs` only turns `pipit <subcommand>` into a call into `cli`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub mod storage;

#[cfg(feature = "std")]
pub mod log;

#[cfg(feature = "std")]
pub mod protocol;

#[cfg(feature = "std")]
pub mod server;

#[cfg(feature = "std")]
pub mod cluster;

#[cfg(feature = "std")]
pub mod groups;

#[cfg(feature = "std")]
pub mod client;

#[cfg(feature = "std")]
pub mod cli;

#[cfg(feature = "std")]
pub mod dashboard;
