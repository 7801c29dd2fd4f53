//! A configuration that cannot be used.

/// A configuration that cannot be used, with the key at fault when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl ConfigError {
    /// The error of one key.
    pub(super) fn key(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
