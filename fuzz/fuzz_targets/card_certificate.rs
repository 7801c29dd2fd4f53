//! Fuzzes what a card login reads from the network: the proxy's certificate header in its three
//! encodings, and any bytes as a presented certificate or a revocation list. The body is
//! `entries::card_certificate`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::card_certificate(data));
