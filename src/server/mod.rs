//! The server layer: the smol listener, connections, handlers, and the
//! partition owner tasks, around the [`broker::Broker`] state.
//!
//! `run` binds the listener, checks that the log directory can be written
//! (a read-only one stops the start with an error naming it), recovers it, prints
//! `pipit: listening on PLAINTEXT://host:port` on stdout once it accepts
//! connections, and serves until SIGTERM or SIGINT. Then it stops accepting,
//! stops reading new requests, lets in-flight ones finish (bounded), syncs
//! and checkpoints every partition, and returns.

pub mod broker;
pub mod config;
pub mod conn;
pub mod handlers;
pub mod limits;
pub mod log_limit;
pub mod partition_task;
pub mod rt;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smol::Async;
use smol::stream::StreamExt;

use broker::Broker;
use config::{BrokerConfig, Listener};

/// How long shutdown waits for in-flight requests before closing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Name of the file written and removed at start to prove `log.dirs` writable.
const WRITE_CHECK: &str = ".pipit-write-check";

/// Refuses to start on a log dir that cannot be written (a read-only mount,
/// no permission): otherwise the broker would start and every partition
/// would be offline, or the first write would fail long after start.
fn check_writable(dir: &std::path::Path) -> Result<(), String> {
    let fail = |e: std::io::Error| {
        format!(
            "log.dirs {} is not writable: {e}; pipit writes its logs, checkpoints and metadata there \
             (mount it read-write or set log.dirs to another directory)",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(WRITE_CHECK);
    std::fs::write(&probe, b"pipit").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Runs a broker until a signal stops it.
pub fn run(config: BrokerConfig) -> Result<(), String> {
    let (net, io) = (
        config.num_network_threads as usize,
        config.num_io_threads as usize,
    );
    rt::block_on(net, io, serve(config))
}

async fn serve(config: BrokerConfig) -> Result<(), String> {
    let listen = config
        .listeners
        .first()
        .cloned()
        .ok_or("listeners: at least one PLAINTEXT listener is needed")?;
    let bind_host = if listen.host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        listen.host.clone()
    };
    let std_listener = TcpListener::bind((bind_host.as_str(), listen.port))
        .map_err(|e| format!("listeners: cannot bind {listen}: {e}"))?;
    let local = std_listener.local_addr().map_err(|e| e.to_string())?;
    let advertised = match config.advertised_listeners.as_ref().and_then(|l| l.first()) {
        Some(a) => a.clone(),
        None => Listener {
            host: if listen.host.is_empty() || listen.host == "0.0.0.0" {
                local.ip().to_string()
            } else {
                listen.host.clone()
            },
            port: local.port(),
        },
    };
    let log_dir = config.log_dir.clone();
    let max_connections = config.max_connections as usize;
    check_writable(&log_dir)?;
    let broker = Broker::open(config, advertised.clone())?;
    let listener = Async::new(std_listener).map_err(|e| e.to_string())?;
    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    log::info!(
        "pipit {} broker {} serving {} topic(s) from {}; advertised as {advertised}",
        env!("CARGO_PKG_VERSION"),
        broker.config.broker_id,
        broker.topics().len(),
        log_dir.display()
    );
    println!("pipit: listening on PLAINTEXT://{local}");
    println!("pipit: data in {}", log_dir.display());
    let _ = std::io::stdout().flush();

    let open = Arc::new(AtomicUsize::new(0));
    let budget = limits::RequestBudget::new(broker.config.queued_max_request_bytes);
    loop {
        let event = smol::future::or(async { Some(listener.accept().await) }, async {
            signals.next().await;
            None
        })
        .await;
        let Some(accepted) = event else { break };
        let (stream, peer): (Async<TcpStream>, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                log::warn!("accept failed: {e}");
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Ordering::Acquire) >= max_connections {
            log_limit::log(
                log_limit::Kind::ConnectionLimit,
                log::Level::Warn,
                format_args!(
                    "{peer}: max.connections ({max_connections}) reached; closing the new connection"
                ),
            );
            continue;
        }
        let _ = stream.get_ref().set_nodelay(true);
        open.fetch_add(1, Ordering::AcqRel);
        let (b, o, q) = (broker.clone(), open.clone(), budget.clone());
        rt::spawn(async move {
            conn::serve(b, stream, peer, q).await;
            o.fetch_sub(1, Ordering::AcqRel);
        })
        .detach();
    }
    log::info!("signal received: stopping (finishing in-flight requests, syncing)");
    drop(listener);
    broker.begin_shutdown();
    let start = Instant::now();
    while open.load(Ordering::Acquire) > 0 && start.elapsed() < DRAIN_TIMEOUT {
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    broker.close_all().await;
    log_limit::flush();
    log::info!("stopped cleanly");
    Ok(())
}
