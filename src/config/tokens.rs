//! Lifetimes of codes, tokens and pushed requests (`[tokens]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    pub offline_max_secs: i64,
    pub par_ttl_secs: i64,
    pub key_publish_after_retire_secs: i64,
}
