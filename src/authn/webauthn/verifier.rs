//! The establishment's WebAuthn relying party: RP ID, allowed origins and attestation policy,
//! built once from `[webauthn]`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{AttestationCaList, AttestationCaListBuilder};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::config::Settings;

/// An accepted authenticator model.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub aaguid: Uuid,
}

/// The relying party and its policy.
pub struct Verifier {
    pub(super) webauthn: Webauthn,
    /// The roots and AAGUIDs of the accepted models; `None` when any model is accepted.
    pub(super) ca_list: Option<AttestationCaList>,
    pub(super) models: Vec<Model>,
    /// Any key is accepted, attested or not (`webauthn.allow_unattested`).
    accepts_any: bool,
    pub rp_id: String,
    pub origins: Vec<Url>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("rp_id", &self.rp_id)
            .field("origins", &self.origins)
            .field("models", &self.models)
            .field("attestation_enforced", &self.ca_list.is_some())
            .finish()
    }
}

impl Verifier {
    /// The verifier for these settings; `None` (with a warning) when no RP ID can be derived,
    /// e.g. a public URL on an IP address without `webauthn.rp_id`.
    pub fn new(settings: &Settings) -> anyhow::Result<Option<Verifier>> {
        let w = &settings.webauthn;
        let origins: Vec<Url> = if w.origins.is_empty() {
            vec![settings.http.public_url.clone()]
        } else {
            w.origins.clone()
        };
        let rp_id = if w.rp_id.is_empty() {
            match settings.http.public_url.host() {
                Some(url::Host::Domain(d)) => d.to_owned(),
                _ => {
                    tracing::warn!(
                        public_url = %settings.http.public_url,
                        "security keys are off: http.public_url is on an IP address; set webauthn.rp_id and webauthn.origins"
                    );
                    return Ok(None);
                }
            }
        } else {
            w.rp_id.clone()
        };
        let first = origins
            .first()
            .ok_or_else(|| anyhow::anyhow!("webauthn.origins is empty"))?;
        let mut builder = WebauthnBuilder::new(&rp_id, first)
            .with_context(|| {
                format!(
                    "webauthn.rp_id {rp_id:?} does not suit the origin {first} (webauthn.origins)"
                )
            })?
            .rp_name(&w.rp_name)
            .timeout(Duration::from_secs(w.timeout_secs));
        for o in origins.iter().skip(1) {
            builder = builder.append_allowed_origin(o);
        }
        let webauthn = builder
            .build()
            .context("cannot set up security keys (webauthn)")?;
        let mut models = Vec::new();
        let ca_list = if w.models.is_empty() {
            None
        } else {
            let mut list = AttestationCaListBuilder::new();
            for (i, m) in w.models.iter().enumerate() {
                let aaguid = Uuid::parse_str(&m.aaguid)
                    .with_context(|| format!("webauthn.models[{i}].aaguid"))?;
                let pem = std::fs::read(&m.root).with_context(|| {
                    format!("cannot read webauthn.models[{i}].root {}", m.root.display())
                })?;
                list.insert_device_pem(&pem, aaguid, m.name.clone(), BTreeMap::new())
                    .map_err(|e| anyhow::anyhow!("{e:?}"))
                    .with_context(|| {
                        format!(
                            "webauthn.models[{i}].root {} is not a PEM certificate",
                            m.root.display()
                        )
                    })?;
                models.push(Model {
                    name: m.name.clone(),
                    aaguid,
                });
            }
            Some(list.build())
        };
        if ca_list.is_some() && w.allow_unattested {
            tracing::warn!(
                "webauthn.allow_unattested is on: the model list is not enforced, any key is accepted"
            );
        }
        if ca_list.is_none() && !w.allow_unattested {
            tracing::warn!(
                "no security key can be enrolled: list the accepted models in [[webauthn.models]] or set webauthn.allow_unattested"
            );
        }
        Ok(Some(Verifier {
            webauthn,
            ca_list: if w.allow_unattested { None } else { ca_list },
            models,
            accepts_any: w.allow_unattested,
            rp_id,
            origins,
        }))
    }

    /// Whether enrolment is possible at all under this policy.
    pub fn can_enrol(&self) -> bool {
        self.accepts_any || self.ca_list.is_some()
    }

    /// The configured name of a model.
    pub fn model_name(&self, aaguid: &Uuid) -> Option<&str> {
        self.models
            .iter()
            .find(|m| &m.aaguid == aaguid)
            .map(|m| m.name.as_str())
    }
}
