//! Fuzzes Pro Santé Connect's JSON answers (discovery, keys, tokens, CIBA, errors, userinfo).
//! The body is `entries::psc_answer`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::psc_answer(data));
