//! Power-cut soak (issue 10): cycles of start broker → idempotent acks=all producers → SIGSTOP, then
//! SIGKILL while records are in flight → a simulated power cut on the data directory → restart → verify.
//!
//! A process kill keeps the page cache, so on its own it never tests fsync. The broker binary of a test
//! build with the `powercut-journal` feature journals every write to its data files with the bytes it
//! replaces, and every successful sync (`src/log/powercut.rs`); after the kill, `common::powercut::cut`
//! drops, tears or garbles each write no sync had covered yet, and keeps or undoes unsynced renames.
//!
//! - `log.durability=fsync`: every acknowledged record is present exactly once, in order, checksum intact,
//!   and the broker started after every cut. Producers: pipit's (partition 0) and kcat / librdkafka
//!   (partition 1), both idempotent with acks=all.
//! - `log.durability=replicated`: a cut may take back acknowledged records, at most those appended since
//!   the last completed sync: the test measures the most lost in one cut against
//!   `log.flush.interval.messages` and checks nothing is duplicated or corrupt.
//! - The test notices a missing fsync: with `PIPIT_POWERCUT_LOSE_SYNCS=1` the journal records no sync,
//!   as if every fsync were lost, and the same fsync run must then lose acknowledged records.
//!
//! `make test` runs 50 cycles; `make soak` runs `PIPIT_SOAK_CYCLES` (1,000). Prints cycles, acknowledged,
//! lost, duplicates and the faults applied.

mod common;

#[cfg(not(feature = "powercut-journal"))]
#[test]
fn power_cut_tests_need_the_powercut_journal_feature() {
    panic!(
        "tests/powercut.rs needs a broker built with the journal: \
         run `cargo test --features powercut-journal --test powercut` (make test does)"
    );
}

#[cfg(feature = "powercut-journal")]
#[path = "powercut/cuts.rs"]
mod cuts;
