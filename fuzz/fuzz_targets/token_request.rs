//! Fuzzes a token request: the `Authorization: Basic` value, then the form body and one grant's
//! parameters. The body is `entries::token_request`, shared with the corpus replay of `cargo
//! test --test fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::token_request(data));
