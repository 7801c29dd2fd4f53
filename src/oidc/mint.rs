//! Signed tokens: ID tokens (OIDC Core §2), JWT access tokens (RFC 9068) and their
//! verification. Issuing a JWT access token touches no database.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::keys::KeySet;
use crate::session::SessionClaims;
use crate::storage::identities::IdentityRecord;

/// The access token claim naming its refresh family (a private claim, RFC 7519 §4.3).
pub const GRANT_CLAIM: &str = "grant_id";

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: i64,
}

fn sign(
    keys: &KeySet,
    client: &Client,
    typ: &str,
    claims: Map<String, Value>,
) -> anyhow::Result<String> {
    let key = keys
        .signing(client.signing_alg)
        .ok_or_else(|| anyhow::anyhow!("no current {} signing key", client.signing_alg.as_str()))?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(&key.kid);
    let payload = JwtPayload::from_map(claims)?;
    Ok(jwt::encode_with_signer(&payload, &header, &*key.signer)?)
}

/// A JWT access token for `sub` (an identity id, or the client id for client_credentials).
/// `grant` is the refresh family the token belongs to, if any: the token lives only as long
/// as that family (see [`crate::endpoint::access`]).
#[allow(clippy::too_many_arguments)]
pub fn access_token(
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    sub: &str,
    scope: &str,
    session: Option<&SessionClaims>,
    grant: Option<&str>,
    ttl: i64,
    now: i64,
) -> anyhow::Result<AccessToken> {
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(issuer));
    c.insert("client_id".into(), json!(client.id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + ttl));
    c.insert("jti".into(), json!(jti));
    c.insert("scope".into(), json!(scope));
    if let Some(s) = session {
        c.insert("sid".into(), json!(s.sid));
        c.insert("auth_time".into(), json!(s.auth_time));
        c.insert("acr".into(), json!(s.acr));
        c.insert("amr".into(), json!(s.amr));
        if let Some(idp) = &s.idp {
            c.insert("idp".into(), json!(idp));
        }
    }
    if let Some(g) = grant {
        c.insert(GRANT_CLAIM.into(), json!(g));
    }
    let token = sign(keys, client, "at+jwt", c)?;
    Ok(AccessToken {
        token,
        jti,
        expires_in: ttl,
    })
}

/// The claims an identity releases for the granted scopes.
pub fn identity_claims(identity: &IdentityRecord, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    if scopes.contains(&"profile") {
        c.insert(
            "name".into(),
            json!(format!("{} {}", identity.given_name, identity.family_name)),
        );
        c.insert("given_name".into(), json!(identity.given_name));
        c.insert("family_name".into(), json!(identity.family_name));
        c.insert("preferred_username".into(), json!(identity.username));
        c.insert("updated_at".into(), json!(identity.updated_at));
    }
    if scopes.contains(&"email")
        && let Some(email) = &identity.email
    {
        c.insert("email".into(), json!(email));
        c.insert("email_verified".into(), json!(false));
    }
    c
}

/// An ID token for the client.
#[allow(clippy::too_many_arguments)]
pub fn id_token(
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    identity: &IdentityRecord,
    scope: &str,
    session: &SessionClaims,
    nonce: Option<&str>,
    access_token: Option<&str>,
    extra: Map<String, Value>,
    ttl: i64,
    now: i64,
) -> anyhow::Result<String> {
    let mut scopes: Vec<&str> = scope.split(' ').collect();
    // Pro Santé Connect's broker always receives the names and the email (psc.md).
    if client.policy.psc_broker {
        scopes.extend(["profile", "email"]);
    }
    let mut c = identity_claims(identity, &scopes);
    c.extend(extra);
    if client.policy.psc_broker {
        // The pairing pivot: the identity's immutable id, never reused.
        c.insert("oid".into(), json!(identity.id));
    }
    c.insert("iss".into(), json!(issuer));
    c.insert("sub".into(), json!(identity.id));
    c.insert("aud".into(), json!(client.id));
    c.insert("azp".into(), json!(client.id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + ttl));
    c.insert("auth_time".into(), json!(session.auth_time));
    c.insert("acr".into(), json!(session.acr));
    c.insert("amr".into(), json!(session.amr));
    c.insert("sid".into(), json!(session.sid));
    if let Some(idp) = &session.idp {
        c.insert("idp".into(), json!(idp));
    }
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(at) = access_token {
        let digest = Sha256::digest(at.as_bytes());
        c.insert(
            "at_hash".into(),
            json!(URL_SAFE_NO_PAD.encode(&digest[..16])),
        );
    }
    sign(keys, client, "JWT", c)
}

/// A back-channel logout token (OIDC Back-Channel Logout 1.0 §2.4).
pub fn logout_token(
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    sub: &str,
    sid: &str,
    now: i64,
) -> anyhow::Result<String> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(client.id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + 120));
    c.insert(
        "jti".into(),
        json!(uuid::Uuid::new_v4().simple().to_string()),
    );
    c.insert("sid".into(), json!(sid));
    c.insert(
        "events".into(),
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
    );
    sign(keys, client, "logout+jwt", c)
}

/// Why one of our own tokens was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongType,
    Expired,
}

impl TokenRejection {
    pub fn reason(self) -> &'static str {
        match self {
            TokenRejection::Malformed => "malformed_token",
            TokenRejection::UnknownKey => "unknown_kid",
            TokenRejection::BadSignature => "bad_signature",
            TokenRejection::WrongIssuer => "wrong_issuer",
            TokenRejection::WrongType => "wrong_token_type",
            TokenRejection::Expired => "token_expired",
        }
    }
}

/// Verifies a token signed by this provider; `typ` is checked when given; expiry when `now` is.
pub fn verify(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    typ: Option<&str>,
    now: Option<i64>,
) -> Result<Map<String, Value>, TokenRejection> {
    let header = jwt::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
    let kid = header
        .claim("kid")
        .and_then(Value::as_str)
        .ok_or(TokenRejection::UnknownKey)?;
    let key = keys.public(kid).ok_or(TokenRejection::UnknownKey)?;
    if header.claim("alg").and_then(Value::as_str) != Some(key.alg.as_str()) {
        return Err(TokenRejection::BadSignature);
    }
    if let Some(t) = typ
        && header.claim("typ").and_then(Value::as_str) != Some(t)
    {
        return Err(TokenRejection::WrongType);
    }
    let (payload, _) = jwt::decode_with_verifier(token, &*key.verifier)
        .map_err(|_| TokenRejection::BadSignature)?;
    let claims = payload.claims_set().clone();
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(TokenRejection::WrongIssuer);
    }
    if let Some(now) = now {
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenRejection::Malformed)?;
        if exp <= now {
            return Err(TokenRejection::Expired);
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
