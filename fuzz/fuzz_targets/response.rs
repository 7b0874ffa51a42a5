#![no_main]
//! `response`: see `fuzz/targets.rs` (the body is shared with the stable replay test).

#[path = "../targets.rs"]
mod targets;

#[global_allocator]
static METER: targets::Meter = targets::Meter;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::response(data));
