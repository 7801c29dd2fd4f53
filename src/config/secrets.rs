//! Where the master key comes from (`[secrets]`).

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    pub master_key_file: PathBuf,
    #[serde(default)]
    pub master_key: Option<SecretString>,
}
