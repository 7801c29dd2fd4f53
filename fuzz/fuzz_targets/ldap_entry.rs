//! Fuzzes a directory entry mapped to an account, bind diagnostics and password-policy
//! controls. The body is `entries::ldap_entry`, shared with the corpus replay of `cargo test
//! --test fuzz_corpus`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::ldap_entry(data));
