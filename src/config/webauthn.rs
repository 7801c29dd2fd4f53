//! FIDO2 security keys (`[webauthn]`).

use serde::Deserialize;
use std::path::PathBuf;
use url::Url;

use super::ConfigError;

/// FIDO2 security keys (`[webauthn]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSettings {
    /// The domain keys are bound to; "" means the host of `http.public_url`.
    pub rp_id: String,
    pub rp_name: String,
    /// Origins allowed in ceremonies; empty means the origin of `http.public_url`.
    pub origins: Vec<Url>,
    pub timeout_secs: u64,
    /// How long an enrolment code issued by an admin stays valid.
    pub enrolment_code_ttl_secs: i64,
    /// Whether e-CPS authorises enrolling a key without an enrolment code (a valid pairing with
    /// a session of the person, or a fresh e-CPS validation); only when `[psc]` is enabled.
    pub enrol_with_ecps: bool,
    /// The oldest e-CPS validation (CIBA) that still authorises an enrolment.
    pub ecps_proof_max_age_secs: i64,
    /// Accept keys whose model is not proven by attestation (any model).
    pub allow_unattested: bool,
    /// The authenticator models the establishment accepts, proven by attestation.
    #[serde(default)]
    pub models: Vec<KeyModelSettings>,
}

/// One accepted authenticator model: its AAGUID and its maker's attestation root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyModelSettings {
    pub name: String,
    pub aaguid: String,
    /// PEM file of the maker's attestation root certificate.
    pub root: PathBuf,
}

impl WebauthnSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let w = self;
        if w.timeout_secs == 0 || w.timeout_secs > 600 {
            return Err(ConfigError::key(
                "webauthn.timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if w.enrolment_code_ttl_secs <= 0 {
            return Err(ConfigError::key(
                "webauthn.enrolment_code_ttl_secs",
                "must be a positive number",
            ));
        }
        if !(1..=3600).contains(&w.ecps_proof_max_age_secs) {
            return Err(ConfigError::key(
                "webauthn.ecps_proof_max_age_secs",
                "must be between 1 and 3600",
            ));
        }
        for (i, m) in w.models.iter().enumerate() {
            if uuid::Uuid::parse_str(&m.aaguid).is_err() {
                return Err(ConfigError::key(
                    &format!("webauthn.models[{i}].aaguid"),
                    format!("{:?} is not an AAGUID (a UUID)", m.aaguid),
                ));
            }
            if !m.root.is_file() {
                return Err(ConfigError::key(
                    &format!("webauthn.models[{i}].root"),
                    format!("the file {} does not exist", m.root.display()),
                ));
            }
        }
        Ok(())
    }
}
