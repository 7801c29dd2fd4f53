//! Fuzzes an HR export: CSV records checked against the configured columns. The body is
//! `entries::hr_line`, shared with the corpus replay of `cargo test --test fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::hr_line(data));
