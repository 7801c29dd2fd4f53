//! The HR export's shape (`[hr]`).

use serde::Deserialize;

use super::ConfigError;

/// The HR export read by `trousseau hr import` and the HR drop folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrSettings {
    /// One character.
    pub delimiter: String,
    pub columns: HrColumns,
}

/// Header names of the HR export; an empty name means the export has no such column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HrColumns {
    pub employee_number: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: String,
    pub email: String,
    pub department: String,
    pub arrival: String,
    pub departure: String,
    pub idnat: String,
    /// The FINESS of the establishment the person works for (a shared deployment picks the
    /// `tid` announced to Pro Santé Connect from it, `[psc.federation]`).
    #[serde(default)]
    pub establishment_finess: String,
}

impl HrSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.delimiter.chars().count() != 1 || !self.delimiter.is_ascii() {
            return Err(ConfigError::key(
                "hr.delimiter",
                "must be one ASCII character",
            ));
        }
        for (name, value) in [
            ("hr.columns.employee_number", &self.columns.employee_number),
            ("hr.columns.given_name", &self.columns.given_name),
            ("hr.columns.family_name", &self.columns.family_name),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::key(
                    name,
                    "must name a column of the HR export",
                ));
            }
        }
        Ok(())
    }
}
