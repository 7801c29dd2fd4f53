//! Fuzzes a card CA's revocation list and an OCSP answer about a card. The body is
//! `entries::revocation`, shared with the corpus replay of `cargo test --test fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::revocation(data));
