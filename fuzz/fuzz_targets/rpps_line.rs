//! Fuzzes the RPPS extraction parser: lines after a valid header, and any bytes as a header.
//! The body is `entries::rpps_line`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::rpps_line(data));
