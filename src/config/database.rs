//! The database connection (`[database]`).

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub migrate: bool,
    pub max_connections: u32,
}

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(self.url.starts_with("sqlite:")
            || self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://"))
        {
            return Err(ConfigError::key(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        Ok(())
    }
}

/// The file path and query of a `sqlite:` URL; `None` for another database.
pub fn sqlite_path(url: &str) -> Option<(&str, Option<&str>)> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    Some(match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    })
}
