//! Whether PSC accepts this client's credentials, without asking any professional anything:
//! a CIBA request (CIBA Core §7.1) for a national identifier that no professional holds. PSC
//! authenticates the client before it looks at the request, so `invalid_client` (or HTTP 401)
//! means the credentials are refused, and any other answer means they were accepted.

use super::PscClient;
use crate::identity::IdNat;
use crate::instruments::PscCall;
use crate::psc::PscError;
use crate::psc::protocol::{CIBA_GRANT_TYPE, Channel, CibaRequest};

/// The IdNat of the credentials probe: a well-formed RPPS-based identifier (`8` and eleven
/// digits) from the test range, held by no real professional.
pub const CREDENTIALS_PROBE_IDNAT: &str = "899999999999";

/// PSC accepted the client's credentials; what it then answered (an OAuth error code such as
/// `unknown_user_id`, or `accepted` when it started the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsAccepted {
    /// The endpoint asked: `ciba`, or `token` when PSC publishes no CIBA endpoint.
    pub endpoint: &'static str,
    pub answer: String,
}

impl PscClient {
    /// Checks the client credentials (`trousseau psc test`): a refused client is
    /// [`PscError::InvalidClient`]; a transport failure is its own error.
    pub async fn check_credentials(&self) -> Result<CredentialsAccepted, PscError> {
        let endpoints = self.endpoints().await?;
        let (endpoint, answer) = match endpoints.ciba.as_ref() {
            Some(url) => {
                let idnat = IdNat::parse(CREDENTIALS_PROBE_IDNAT)
                    .map_err(|e| PscError::Unexpected(anyhow::anyhow!("probe IdNat: {e}")))?;
                let form = CibaRequest::new(&idnat, "00", Channel::Mobile);
                ("ciba", self.post_form(PscCall::Ciba, url, &form).await?)
            }
            // Without CIBA, a poll for a request that does not exist: `invalid_grant` once the
            // client is authenticated.
            None => (
                "token",
                self.post_form(
                    PscCall::CibaPoll,
                    &endpoints.token,
                    &[
                        ("grant_type", CIBA_GRANT_TYPE),
                        ("auth_req_id", "trousseau-credentials-probe"),
                    ],
                )
                .await?,
            ),
        };
        if answer.status == 200 {
            return Ok(CredentialsAccepted {
                endpoint,
                answer: "accepted".into(),
            });
        }
        match answer.oauth_error() {
            e @ (PscError::InvalidClient | PscError::ServerError(_)) => Err(e),
            _ => {
                let code =
                    serde_json::from_slice::<crate::psc::protocol::ErrorResponse>(&answer.body)
                        .map(|e| e.error)
                        .unwrap_or_else(|_| format!("HTTP {}", answer.status));
                Ok(CredentialsAccepted {
                    endpoint,
                    answer: code,
                })
            }
        }
    }
}
