//! Fuzzes a Pro Santé Connect ID token and signed userinfo, checked with PSC's keys. The body
//! is `entries::psc_id_token`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::psc_id_token(data));
