//! The UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer token in the header (or the
//! form body on POST, RFC 6750 §2.2).

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Map, Value, json};

use super::access::{self, ActiveToken};
use crate::audit::AuditEvent;
use crate::oidc::error::OAuthError;
use crate::oidc::mint;
use crate::oidc::params::Params;
use crate::oidc::refusal::InactiveToken;
use crate::protocol::{Scope, ScopeSet};
use crate::state::AppState;
use crate::ui::context::context_of;

/// Why UserInfo answers no claims.
enum Refused {
    /// The token is missing, not active or grants no claims: audited with its reason once a
    /// token was presented.
    Token(InactiveToken),
    /// The claims could not be read.
    Unexpected(anyhow::Error),
}

pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let post = req.method() == actix_web::http::Method::POST;
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let answer = match bearer_token(header, &body, post) {
        Ok(token) => person_claims(&state, &token).await,
        Err(why) => return why.answer().error_response(),
    };
    match answer {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .json(Value::Object(claims)),
        Err(Refused::Token(why)) => {
            let event = AuditEvent::failure("userinfo_refused", why.as_str());
            state.audit.record(event.context(&context_of(&req))).await;
            why.answer().error_response()
        }
        Err(Refused::Unexpected(e)) => OAuthError::from(e).error_response(),
    }
}

/// The bearer token of the request: in the `Authorization` header (the scheme name is
/// case-insensitive, RFC 7235 §2.1), or in a POST body's `access_token`, never both.
fn bearer_token(header: Option<&str>, body: &[u8], post: bool) -> Result<String, InactiveToken> {
    let from_body = Params::parse(body)
        .ok()
        .and_then(|p| p.get("access_token").map(str::to_owned));
    let bearer = header.and_then(|h| {
        h.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .and_then(|_| h.get(7..))
    });
    match (bearer, from_body) {
        (Some(t), None) => Ok(t.trim().to_owned()),
        (None, Some(t)) if post => Ok(t),
        (Some(_), Some(_)) => Err(InactiveToken::TokenTwice),
        _ => Err(InactiveToken::NoToken),
    }
}

/// The claims of the person an active token with the `openid` scope speaks for.
async fn person_claims(state: &AppState, token: &str) -> Result<Map<String, Value>, Refused> {
    let ActiveToken { claims, identity } =
        access::active(state, token).await.map_err(Refused::Token)?;
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A token carries the scope Trousseau wrote; a malformed one grants nothing.
    let scopes = ScopeSet::parse(scope).unwrap_or_default();
    if !scopes.contains(Scope::OPENID) {
        return Err(Refused::Token(InactiveToken::OpenidScopeMissing));
    }
    // A token with the openid scope always speaks for a person; `access::active` checked that
    // person is still active.
    let identity = identity.ok_or(Refused::Token(InactiveToken::NotAPerson))?;
    let scopes = scopes.as_strs();
    let mut out = mint::identity_claims(&identity, &scopes);
    let extra = super::claims::scoped(state, &identity.id, &scopes)
        .await
        .map_err(Refused::Unexpected)?;
    out.extend(extra);
    out.insert("sub".into(), json!(identity.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_one_place() {
        let body = b"access_token=b";
        for (header, body, post, want) in [
            (Some("Bearer a"), &b""[..], false, Ok("a")),
            (Some("bEaReR  a "), b"", true, Ok("a")),
            (None, body, true, Ok("b")),
            (None, body, false, Err(InactiveToken::NoToken)),
            (Some("Bearer a"), body, true, Err(InactiveToken::TokenTwice)),
            (Some("Basic a"), b"", false, Err(InactiveToken::NoToken)),
            (None, b"", true, Err(InactiveToken::NoToken)),
        ] {
            let got = bearer_token(header, body, post);
            assert_eq!(got.as_deref().map_err(|e| *e), want, "{header:?}");
        }
    }
}
