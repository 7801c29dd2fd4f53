//! Fuzzes the query of `/authorize`: the strict parameter parser, then the authorization
//! request. The body is `entries::authorize_query`, shared with the corpus replay of `cargo
//! test --test fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::authorize_query(data));
