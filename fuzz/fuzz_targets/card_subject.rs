//! Fuzzes a CPS card certificate or subject name: the holder it names and the whole check. The
//! body is `entries::card_subject`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::card_subject(data));
