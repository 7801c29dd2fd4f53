//! The authorization-code flow to PSC (OIDC Core §3.1, RFC 7636 PKCE S256), with PSC's
//! `scope=openid scope_all` and `acr_values=eidas1` (psc.md, "Authorization request").

use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};
use url::Url;

use super::{ProvenIdentity, PscClient};
use crate::instruments::PscCall;
use crate::psc::PscError;
use crate::psc::protocol::{ACR_EIDAS1, SCOPE, TokenResponse};

/// What the callback needs to finish an authorization: kept server-side, never in the browser.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl PscClient {
    /// The URL to send the browser to, and the values to keep until it comes back.
    pub async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<(Url, PendingAuthorization), PscError> {
        let endpoints = self.endpoints().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let nonce = Nonce::new_random();
        let mut url = endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("acr_values", ACR_EIDAS1)
            .append_pair("state", state.secret())
            .append_pair("nonce", nonce.secret())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method().as_str());
        Ok((
            url,
            PendingAuthorization {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Redeems the code and checks the ID token against the pending authorization.
    pub async fn finish_authorization(
        &self,
        pending: &PendingAuthorization,
        code: &str,
        redirect_uri: &str,
    ) -> Result<ProvenIdentity, PscError> {
        let endpoints = self.endpoints().await?;
        let answer = self
            .post_form(
                PscCall::Token,
                &endpoints.token,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", pending.pkce_verifier.as_str()),
                ],
            )
            .await?;
        if answer.status != 200 {
            return Err(answer.oauth_error());
        }
        self.identity_from_tokens(&answer.body, Some(&pending.nonce))
            .await
    }

    /// The professional proven by a token answer: the ID token checked, userinfo read when
    /// the ID token does not name the IdNat.
    pub(super) async fn identity_from_tokens(
        &self,
        body: &[u8],
        nonce: Option<&str>,
    ) -> Result<ProvenIdentity, PscError> {
        let tokens: TokenResponse =
            serde_json::from_slice(body).map_err(|_| PscError::Malformed("token"))?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or(PscError::Malformed("token"))?;
        let claims = self.verify_id_token(id_token, nonce).await?;
        let userinfo = if Self::names_idnat(&claims) {
            None
        } else {
            self.userinfo(&tokens.access_token).await?
        };
        Self::proven(claims, userinfo)
    }
}
