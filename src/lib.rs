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
//! | log         | `src/log/`        | a partition on files, and its sans-I/O core (`PartitionCore`: group    |
//! |             |                   | commit, reply order, visibility, retention deadlines)                  |
//! | protocol    | `src/protocol/`   | Kafka frames, request guard, version table, error codes, record       |
//! |             |                   | batches and codecs (sans-I/O)                                          |
//! | groups      | `src/groups/`     | the group coordinator core and the offsets-topic format (sans-I/O)    |
//! | cluster     | `src/cluster/`    | election, controller, ISR and high-watermark rules (sans-I/O)         |
//! | server      | `src/server/`     | the smol shell: listener, connections, thin handlers, the owner tasks |
//! |             |                   | that drive the cores, file I/O on blocking workers                    |
//! | client, cli | `src/client/`, `src/cli/` | our Kafka client and the Kafka tools as subcommands           |
//! | dashboard   | `src/dashboard/`  | HTTP page, JSON API and Prometheus `/metrics`                         |
//!
//! Cores (the partition core now; the group coordinator and the controller
//! as they land) take commands and `now` and return actions; they sit below
//! `server`, which only drives them, so no handler imports upward.
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
pub mod groups;

#[cfg(feature = "std")]
pub mod cluster;

#[cfg(feature = "std")]
pub mod server;

#[cfg(feature = "std")]
pub mod client;

#[cfg(feature = "std")]
pub mod cli;

#[cfg(feature = "std")]
pub mod dashboard;
