//! PSC's userinfo (OIDC Core §5.3), read when the ID token does not name the professional:
//! `application/json`, or `application/jwt` signed with PSC's keys (RS256 or ES256, psc.md
//! "Authorization request"), whose `iss` and `aud`, when present, must be PSC and this client
//! (OIDC Core §5.3.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use openidconnect::core::CoreJwsSigningAlgorithm;
use serde_json::Value;

use super::PscClient;
use super::verify::{payload, text};
use crate::instruments::PscCall;
use crate::psc::PscError;

const MALFORMED: PscError = PscError::Malformed("userinfo");

impl PscClient {
    /// Userinfo for `access_token`; `None` when PSC publishes no userinfo endpoint.
    pub(super) async fn userinfo(&self, access_token: &str) -> Result<Option<Value>, PscError> {
        let endpoints = self.endpoints().await?;
        let Some(url) = endpoints.userinfo.as_ref() else {
            return Ok(None);
        };
        let answer = self.get(PscCall::Userinfo, url, Some(access_token)).await?;
        if answer.status >= 500 {
            return Err(PscError::ServerError(answer.status));
        }
        if answer.status != 200 {
            return Err(PscError::Protocol(format!(
                "userinfo answered HTTP {}",
                answer.status
            )));
        }
        if answer.content_type.starts_with("application/jwt") {
            let jwt = String::from_utf8(answer.body).map_err(|_| MALFORMED)?;
            return self.verified_userinfo_jwt(jwt.trim()).await.map(Some);
        }
        let claims: Value = serde_json::from_slice(&answer.body).map_err(|_| MALFORMED)?;
        if !claims.is_object() {
            return Err(MALFORMED);
        }
        Ok(Some(claims))
    }

    /// The claims of a signed userinfo, once its signature, issuer and audience are checked.
    pub(super) async fn verified_userinfo_jwt(&self, jwt: &str) -> Result<Value, PscError> {
        let mut parts = jwt.split('.');
        let (Some(head), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MALFORMED);
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(head)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(MALFORMED)?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            _ => return Err(PscError::AlgRefused),
        };
        let kid = text(&header, "kid");
        let signature = URL_SAFE_NO_PAD.decode(sig).map_err(|_| MALFORMED)?;
        let message = format!("{head}.{body}");
        let mut verified = None;
        // The cached keys first; read again once when none carries this `kid`.
        for refresh in [false, true] {
            let keys = self.signing_keys(refresh).await?;
            let mut candidates = keys
                .keys()
                .iter()
                .filter(|k| kid.is_none() || k.key_id().map(|i| i.as_str()) == kid.as_deref())
                .peekable();
            if candidates.peek().is_none() {
                continue;
            }
            verified = Some(candidates.any(|k| {
                k.verify_signature(&alg, message.as_bytes(), &signature)
                    .is_ok()
            }));
            break;
        }
        match verified {
            None => return Err(PscError::UnknownKey),
            Some(false) => return Err(PscError::BadSignature),
            Some(true) => {}
        }
        let claims = payload(jwt)?;
        if let Some(iss) = text(&claims, "iss")
            && iss.trim_end_matches('/') != self.issuer
        {
            return Err(PscError::WrongIssuer);
        }
        let client_id = self.settings.client_id.as_str();
        let audience_ok = match claims.get("aud") {
            None => true,
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(client_id)),
            Some(_) => false,
        };
        if !audience_ok {
            return Err(PscError::WrongAudience);
        }
        Ok(claims)
    }
}
