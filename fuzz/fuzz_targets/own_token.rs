//! Fuzzes Trousseau's own tokens presented back: `id_token_hint`, access and logout tokens. The
//! body is `entries::own_token`, shared with the corpus replay of `cargo test --test
//! fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::own_token(data));
