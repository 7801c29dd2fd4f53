//! The establishment: its FINESS numbers and time zone (`[establishment]`).

use serde::Deserialize;

/// The establishment's FINESS numbers: legal entities (EJ) and geographic sites (EG). "Our
/// professionals" are the RPPS activities at any of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstablishmentSettings {
    pub finess: Vec<crate::identity::Finess>,
    /// The establishment's time zone (IANA name): HR arrival and departure dates are whole
    /// days there.
    pub time_zone: crate::clock::LocalZone,
}
