//! Fuzzes a `private_key_jwt` client assertion against the client's registered keys. The body
//! is `entries::client_assertion`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::client_assertion(data));
