//! The ring's full policies seen from a real client: under `reject_new` a full
//! ring refuses produce with a retriable error and writes nothing; once
//! `retention.ms` frees the oldest segment, produce works again.

mod common;

use common::Broker;
use common::clients::py_venv;

#[test]
fn reject_new_refuses_with_a_retriable_error_until_retention_frees_a_segment() {
    let broker = Broker::start(&[]);
    let r = py_venv("confluent_ring_full.py", &[&broker.addr(), "full"]);
    let ctx = format!("{r:?}\n{}", broker.log_tail());
    // 2 slots × 64 KiB hold about 120 one-KiB batches; then the ring is full.
    let accepted = r.get("accepted").i64();
    assert!((100..130).contains(&accepted), "accepted {accepted}: {ctx}");
    assert_eq!(r.get("refused_error").str(), "KAFKA_STORAGE_ERROR", "{ctx}");
    // librdkafka treats it as retriable: a record sent while the ring is full
    // waits in retries and is delivered once retention frees a segment.
    assert!(r.get("still_waiting_before_retention").bool(), "{ctx}");
    assert!(r.get("retried_until_accepted").bool(), "{ctx}");
    // Nothing of the refused record was written.
    assert_eq!(r.get("high_watermark_when_full").i64(), accepted, "{ctx}");
    assert!(
        r.get("log_start_after").i64() > 0,
        "retention freed the oldest segment: {ctx}"
    );
    assert!(
        broker.stderr_log().contains("retention.ms=1000 freed"),
        "{ctx}"
    );
}
