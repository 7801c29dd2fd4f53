//! CIBA in poll mode (OpenID CIBA Core 1.0 §7, §10.1), as PSC offers it to validate a
//! professional's identity with the e-CPS app or a CPS card (psc.md, "CIBA"). openidconnect
//! has no CIBA grant: the request and the polling are written here, and the ID token goes
//! through the same checks as in the code flow, without a nonce.

use super::{ProvenIdentity, PscClient};
use crate::identity::IdNat;
use crate::instruments::PscCall;
use crate::psc::PscError;
use crate::psc::protocol::{CIBA_GRANT_TYPE, CibaRequest, CibaStartResponse};

pub use crate::psc::protocol::Channel;

/// A CIBA request PSC accepted: its id, its lifetime and the polling interval (5 seconds
/// when PSC does not say, CIBA Core §7.3).
pub type CibaStarted = CibaStartResponse;

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
                PscCall::Ciba,
                url,
                &CibaRequest::new(idnat, binding_message, channel),
            )
            .await?;
        if answer.status != 200 {
            return Err(answer.oauth_error());
        }
        let started: CibaStarted =
            serde_json::from_slice(&answer.body).map_err(|_| PscError::Malformed("ciba"))?;
        if started.auth_req_id.is_empty() {
            return Err(PscError::Malformed("ciba"));
        }
        Ok(started)
    }

    /// Polls the token endpoint once for a CIBA request.
    pub async fn ciba_poll(&self, auth_req_id: &str) -> Result<CibaPoll, PscError> {
        let endpoints = self.endpoints().await?;
        let answer = self
            .post_form(
                PscCall::CibaPoll,
                &endpoints.token,
                &[
                    ("grant_type", CIBA_GRANT_TYPE),
                    ("auth_req_id", auth_req_id),
                ],
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
