//! The idempotent producer end to end: with acks=all (idempotence on by default)
//! a broker killed with SIGKILL and restarted mid-send still ends up with every
//! record exactly once, in send order, although several batches were in flight
//! when it died (resends are recognised by their sequence numbers).

mod common;

use common::Broker;
use common::clients::kcat_ok;
use std::time::Duration;

use pipit::client::config::ClientConfig;
use pipit::client::producer::Producer;
use pipit::client::records::Record;

const RECORDS: u32 = 1500;

#[test]
fn idempotent_producer_delivers_exactly_once_in_order_across_a_broker_restart() {
    let mut b = Broker::start_on_fixed_port();
    let (config, _) =
        ClientConfig::from_props(&b.retrying_producer_props(&[("batch.size", "2000")]))
            .unwrap_or_else(|e| panic!("config: {e}"));
    let producer_thread = std::thread::spawn(move || {
        smol::block_on(async {
            let producer = Producer::new(config).await.map_err(|e| e.to_string())?;
            if producer.producer_id().is_none() {
                return Err("idempotence is not in effect".to_string());
            }
            let mut futures = Vec::new();
            for i in 0..RECORDS {
                let record = Record {
                    value: Some(format!("{i:0>200}").into_bytes().into()),
                    timestamp: common::now_ms(),
                    ..Record::default()
                };
                futures.push(
                    producer
                        .send("idem", Some(0), record)
                        .await
                        .map_err(|e| e.to_string())?,
                );
                if i % 4 == 0 {
                    smol::Timer::after(Duration::from_millis(2)).await;
                }
            }
            let mut offsets = Vec::new();
            for f in futures {
                offsets.push(f.await.map_err(|e| e.to_string())?.offset);
            }
            let _ = producer.close().await;
            Ok::<Vec<i64>, String>(offsets)
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    b.kill9();
    std::thread::sleep(Duration::from_millis(300));
    b.restart();
    let offsets = producer_thread
        .join()
        .unwrap_or_else(|_| panic!("producer thread panicked"))
        .unwrap_or_else(|e| panic!("producer: {e}"));
    let addr = b.addr();
    let out = kcat_ok(
        &[
            "-b", &addr, "-C", "-t", "idem", "-p", "0", "-e", "-q", "-f", "%s\n",
        ],
        None,
    );
    let logged: Vec<u32> = out.lines().filter_map(|l| l.parse().ok()).collect();
    let want: Vec<u32> = (0..RECORDS).collect();
    assert_eq!(logged, want, "every record exactly once, in order");
    let expected: Vec<i64> = (0..i64::from(RECORDS)).collect();
    assert_eq!(offsets, expected, "each record reports its own offset");
}
