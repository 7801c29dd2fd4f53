//! CIBA in poll mode (OpenID CIBA Core 1.0 §7, §10.1), as PSC offers it to validate a
//! professional's identity with the e-CPS app or a CPS card (psc.md, "CIBA"). openidconnect
//! has no CIBA grant: the request and the polling are written here, and the ID token goes
//! through the same checks as in the code flow, without a nonce.

use serde::Deserialize;

use super::{ProvenIdentity, PscClient};
use crate::identity::IdNat;
use crate::psc::PscError;

/// The grant type of a CIBA token request.
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Where PSC asks the professional to approve (PSC's own `channel` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The e-CPS app.
    Mobile,
    /// A CPS card through the CPS-Gestion app.
    Card,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mobile => "MOBILE",
            Channel::Card => "CARD",
        }
    }
}

/// A CIBA request PSC accepted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CibaStarted {
    pub auth_req_id: String,
    pub expires_in: u64,
    /// Seconds between polls (5 when PSC does not say, CIBA Core §7.3).
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// One poll of a CIBA request. A refusal or an expiry is a `PscError`.
#[derive(Debug)]
pub enum CibaPoll {
    Pending,
    /// Poll less often: the interval grows by 5 seconds (CIBA Core §11).
    SlowDown,
    Approved(Box<ProvenIdentity>),
}

impl PscClient {
    /// Asks PSC to have `idnat` approve this request, showing `binding_message`.
    pub async fn ciba_start(
        &self,
        idnat: &IdNat,
        binding_message: &str,
        channel: Channel,
    ) -> Result<CibaStarted, PscError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints
            .ciba
            .as_ref()
            .ok_or(PscError::DiscoveryMalformed)?;
        let answer = self
            .post_form(
                url,
                &[
                    ("scope", "openid scope_all"),
                    ("acr_values", "eidas1"),
                    ("login_hint", idnat.as_str()),
                    ("binding_message", binding_message),
                    ("channel", channel.as_str()),
                ],
            )
            .await?;
        if answer.status != 200 {
            return Err(answer.oauth_error());
        }
        let started: CibaStarted = serde_json::from_slice(&answer.body)
            .map_err(|_| PscError::Protocol("malformed CIBA answer".into()))?;
        if started.auth_req_id.is_empty() {
            return Err(PscError::Protocol("empty auth_req_id".into()));
        }
        Ok(started)
    }

    /// Polls the token endpoint once for a CIBA request.
    pub async fn ciba_poll(&self, auth_req_id: &str) -> Result<CibaPoll, PscError> {
        let endpoints = self.endpoints().await?;
        let answer = self
            .post_form(
                &endpoints.token,
                &[("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)],
            )
            .await?;
        if answer.status != 200 {
            return match answer.oauth_error() {
                PscError::AuthorizationPending => Ok(CibaPoll::Pending),
                PscError::SlowDown => Ok(CibaPoll::SlowDown),
                e => Err(e),
            };
        }
        let proven = self.identity_from_tokens(&answer.body, None).await?;
        Ok(CibaPoll::Approved(Box::new(proven)))
    }
}
