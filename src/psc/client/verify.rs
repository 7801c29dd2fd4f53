//! The checks of every PSC ID token (OIDC Core §3.1.3.7): issuer, audience, RS256/ES256
//! signature with PSC's keys (read again once on an unknown `kid`), expiry and issue time with
//! a bounded skew, `acr`, and in the code flow a nonce that answers this request and was never
//! accepted before. Then the proven IdNat, which must be a valid national identifier.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{
    AuthenticationContextClass, ClaimsVerificationError, ClientId, IdTokenVerifier, Nonce,
    SignatureVerificationError,
};
use serde_json::Value;

use super::PscClient;
use super::types::PscIdToken;
use crate::crypto::hash_secret;
use crate::identity::IdNat;
use crate::psc::PscError;

/// What PSC proved about a professional.
#[derive(Debug, Clone)]
pub struct ProvenIdentity {
    pub idnat: IdNat,
    pub sub: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub acr: Option<String>,
    pub auth_time: Option<i64>,
    /// Every claim of the verified ID token (and of userinfo, when it was read).
    pub claims: Value,
}

/// How long a used nonce is remembered: beyond any ID token's life.
const NONCE_MEMORY_SECS: i64 = 86_400;

fn time(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn classify(e: &ClaimsVerificationError) -> PscError {
    match e {
        ClaimsVerificationError::Expired(_) => PscError::TokenExpired,
        ClaimsVerificationError::InvalidAudience(_) => PscError::WrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => PscError::WrongIssuer,
        ClaimsVerificationError::InvalidNonce(_) => PscError::NonceMismatch,
        ClaimsVerificationError::InvalidAuthContext(_) => PscError::InsufficientAcr,
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::NoSignature
            | SignatureVerificationError::UnsupportedAlg(_),
        ) => PscError::AlgRefused,
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => PscError::UnknownKey,
        ClaimsVerificationError::SignatureVerification(_) => PscError::BadSignature,
        other => PscError::Protocol(format!("ID token refused: {other}")),
    }
}

/// The payload of a JWS whose signature was verified.
pub(super) fn payload(jwt: &str) -> Result<Value, PscError> {
    let part = jwt.split('.').nth(1).ok_or(PscError::Malformed("jwt"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| PscError::Malformed("jwt"))?;
    serde_json::from_slice(&bytes).map_err(|_| PscError::Malformed("jwt"))
}

pub(super) fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

impl PscClient {
    fn verifier(
        &self,
        keys: CoreJsonWebKeySet,
    ) -> IdTokenVerifier<'static, openidconnect::core::CoreJsonWebKey> {
        let now = self.clock.now();
        let skew = self.settings.clock_skew_secs;
        let accepted = self.settings.accepted_acr.clone();
        IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            self.issuer_url.clone(),
            keys,
        )
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ])
        .set_time_fn(move || time(now - skew))
        .set_issue_time_verifier_fn(move |iat| {
            if iat.timestamp() > now + skew {
                Err("issued in the future".to_owned())
            } else {
                Ok(())
            }
        })
        .set_auth_context_verifier_fn(move |acr: Option<&AuthenticationContextClass>| {
            if accepted.is_empty() || acr.is_some_and(|a| accepted.iter().any(|x| x == a.as_str()))
            {
                Ok(())
            } else {
                Err(format!("acr {:?} is not accepted", acr.map(|a| a.as_str())))
            }
        })
    }

    /// Checks an ID token; `expected_nonce` in the code flow (CIBA tokens carry none).
    pub(super) async fn verify_id_token(
        &self,
        raw: &str,
        expected_nonce: Option<&str>,
    ) -> Result<Value, PscError> {
        let token: PscIdToken = raw.parse().map_err(|_| PscError::Malformed("id_token"))?;
        let mut refreshed = false;
        let mut keys = self.signing_keys(false).await?;
        loop {
            let verifier = self.verifier((*keys).clone());
            // The nonce is checked below, after the signature: replay first, then match.
            match token.claims(&verifier, |_: Option<&Nonce>| Ok(())) {
                Ok(_) => break,
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refreshed => {
                    refreshed = true;
                    keys = self.signing_keys(true).await?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "PSC ID token refused");
                    return Err(classify(&e));
                }
            }
        }
        let claims = payload(raw)?;
        if let Some(expected) = expected_nonce {
            let Some(nonce) = text(&claims, "nonce") else {
                return Err(PscError::NonceMismatch);
            };
            let hash = hash_secret(&nonce);
            let db = self.db.as_ref().ok_or_else(|| {
                PscError::Unexpected(anyhow::anyhow!("no database to remember PSC nonces"))
            })?;
            let pool = db.pool();
            if crate::storage::psc::nonce_used(pool, &hash)
                .await
                .map_err(|e| PscError::Unexpected(e.into()))?
            {
                return Err(PscError::NonceReplayed);
            }
            if !crate::crypto::ct_eq(&nonce, expected) {
                return Err(PscError::NonceMismatch);
            }
            let now = self.clock.now();
            let fresh = crate::storage::psc::use_nonce(pool, &hash, now, now + NONCE_MEMORY_SECS)
                .await
                .map_err(|e| PscError::Unexpected(e.into()))?;
            if !fresh {
                return Err(PscError::NonceReplayed);
            }
        }
        Ok(claims)
    }

    /// The professional proven by verified claims (userinfo, when read, completes them).
    pub fn proven(claims: Value, userinfo: Option<Value>) -> Result<ProvenIdentity, PscError> {
        let sub = text(&claims, "sub").ok_or(PscError::Malformed("id_token"))?;
        let mut all = claims;
        if let (Some(Value::Object(extra)), Value::Object(map)) = (userinfo, &mut all) {
            if extra.get("sub").and_then(Value::as_str) != Some(sub.as_str()) {
                return Err(PscError::Protocol("userinfo names another subject".into()));
            }
            for (k, v) in extra {
                map.entry(k).or_insert(v);
            }
        }
        let raw = text(&all, "SubjectNameID")
            .or_else(|| text(&all, "preferred_username"))
            .ok_or(PscError::InvalidIdNat)?;
        let idnat = IdNat::parse(&raw).map_err(|_| PscError::InvalidIdNat)?;
        if !idnat.is_personal() {
            return Err(PscError::InvalidIdNat);
        }
        Ok(ProvenIdentity {
            idnat,
            given_name: text(&all, "given_name"),
            family_name: text(&all, "family_name"),
            acr: text(&all, "acr"),
            auth_time: all.get("auth_time").and_then(Value::as_i64),
            sub,
            claims: all,
        })
    }

    /// Checks a PSC ID token, then a signed userinfo when given, with `keys` taken as PSC's
    /// published keys (PSC is called only for an unknown `kid`), and reads the professional
    /// they prove: the checks of the code flow and CIBA without the nonce. Only for the fuzz
    /// targets.
    #[doc(hidden)]
    pub async fn verify_with_keys(
        &self,
        keys: CoreJsonWebKeySet,
        id_token: &str,
        userinfo_jwt: Option<&str>,
    ) -> Result<ProvenIdentity, PscError> {
        *self.keys.write().await = Some(std::sync::Arc::new(keys));
        let claims = self.verify_id_token(id_token, None).await?;
        let userinfo = match userinfo_jwt {
            Some(jwt) => Some(self.verified_userinfo_jwt(jwt).await?),
            None => None,
        };
        Self::proven(claims, userinfo)
    }

    /// Whether verified claims already name the professional (else userinfo is read).
    pub(super) fn names_idnat(claims: &Value) -> bool {
        text(claims, "SubjectNameID").is_some() || text(claims, "preferred_username").is_some()
    }
}
