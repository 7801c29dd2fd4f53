//! The hospital's directory: password login and synchronisation (`[ldap]`).

use secrecy::SecretString;
use serde::Deserialize;
use std::path::Path;
use url::Url;

use super::ConfigError;

/// The hospital's directory: password login and synchronisation (`[ldap]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// Replicas of one directory, tried in order; empty: directory features off.
    pub servers: Vec<Url>,
    pub kind: DirectoryKind,
    pub starttls: bool,
    pub ca_file: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    pub pool_size: usize,
    pub bind: BindMode,
    pub bind_template: String,
    pub service_dn: String,
    #[serde(default)]
    pub service_password: Option<SecretString>,
    pub service_password_file: String,
    pub user_base: String,
    pub user_filter: String,
    pub group_base: String,
    pub group_filter: String,
    pub page_size: i32,
    pub max_failures: i64,
    pub directory_lockout_threshold: i64,
    pub lockout_window_secs: i64,
    pub link_by: LinkBy,
    pub create_identities: bool,
    pub attributes: LdapAttributes,
    /// Group CN or DN (lower-cased when read) to role name.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, String>,
}

impl LdapSettings {
    /// Whether a directory is configured.
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let l = self;
        if !l.enabled() {
            return Ok(());
        }
        for url in &l.servers {
            if !matches!(url.scheme(), "ldap" | "ldaps") || url.host().is_none() {
                return Err(ConfigError::key(
                    "ldap.servers",
                    format!("`{url}` must be an ldap:// or ldaps:// URL with a host"),
                ));
            }
            if url.scheme() == "ldaps" && l.starttls {
                return Err(ConfigError::key(
                    "ldap.starttls",
                    format!("`{url}` is already ldaps://; StartTLS applies to ldap:// URLs"),
                ));
            }
        }
        if !l.ca_file.is_empty() && !Path::new(&l.ca_file).is_file() {
            return Err(ConfigError::key(
                "ldap.ca_file",
                format!("the file {} does not exist", l.ca_file),
            ));
        }
        if l.pool_size == 0 || l.page_size <= 0 || l.timeout_ms == 0 || l.connect_timeout_ms == 0 {
            return Err(ConfigError::key(
                "ldap.pool_size",
                "pool_size, page_size, timeout_ms and connect_timeout_ms must be positive",
            ));
        }
        if l.user_base.trim().is_empty() {
            return Err(ConfigError::key(
                "ldap.user_base",
                "must name the base of the user entries",
            ));
        }
        if l.attributes.username.trim().is_empty() || l.attributes.unique_id.trim().is_empty() {
            return Err(ConfigError::key(
                "ldap.attributes.username",
                "username and unique_id must name directory attributes",
            ));
        }
        match l.bind {
            BindMode::Direct if !l.bind_template.contains("{username}") => {
                return Err(ConfigError::key(
                    "ldap.bind_template",
                    "direct bind needs a template with {username}, e.g. \"{username}@chu.local\"",
                ));
            }
            BindMode::Search if l.service_dn.trim().is_empty() => {
                return Err(ConfigError::key(
                    "ldap.service_dn",
                    "search-then-bind needs the service account's DN",
                ));
            }
            _ => {}
        }
        if !l.service_password_file.is_empty() && !Path::new(&l.service_password_file).is_file() {
            return Err(ConfigError::key(
                "ldap.service_password_file",
                format!("the file {} does not exist", l.service_password_file),
            ));
        }
        if l.max_failures <= 0 {
            return Err(ConfigError::key(
                "ldap.max_failures",
                "must be a positive number",
            ));
        }
        if l.directory_lockout_threshold > 0 && l.max_failures >= l.directory_lockout_threshold {
            return Err(ConfigError::key(
                "ldap.max_failures",
                format!(
                    "must stay below the directory's lockout threshold ({}), or anyone could lock \
                     a colleague out of the directory through Trousseau",
                    l.directory_lockout_threshold
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    Ad,
    Openldap,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    Search,
    Direct,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkBy {
    EmployeeNumber,
    Username,
    Idnat,
}

/// Directory attribute names; an empty name means the directory has none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapAttributes {
    pub username: String,
    pub upn: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub employee_number: String,
    pub member_of: String,
    pub account_control: String,
    pub idnat: String,
    pub unique_id: String,
    /// The FINESS of the person's establishment (a shared deployment picks the `tid` sent to
    /// Pro Santé Connect from it); "" when the directory has none.
    #[serde(default)]
    pub establishment: String,
}
