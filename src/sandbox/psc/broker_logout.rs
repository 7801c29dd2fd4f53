//! Back-channel logout from a Trousseau (OIDC Back-Channel Logout 1.0 §2.5–2.8): its logout
//! token ends the sandbox sessions of that Trousseau login, and the sandbox's own clients of
//! those sessions that registered a `backchannel_logout_uri` get a logout token in turn.
//! Served at `{issuer}/broker/<alias>/backchannel-logout` and at Keycloak's
//! `{issuer}/protocol/openid-connect/logout/backchannel-logout` (the broker found by `iss`).
//! A token's `jti` is remembered until the token expires: a replay is refused.

use std::time::Duration;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::broker::broker;
use super::broker_idp::{self, LOGOUT_EVENT, SKEW};
use super::broker_store::Jti;
use super::config::BrokerSettings;
use super::oauth::{now, oauth_error};
use super::server::Sandbox;
use crate::identity::IdNat;
use crate::psc::protocol::{ErrorCode, LOGOUT_PATH, REALM_PATH};

/// How long the sandbox waits for one of its clients to take a logout token.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{REALM_PATH}/broker/{{alias}}/backchannel-logout"),
        web::post().to(by_alias),
    )
    .route(
        &format!("{REALM_PATH}{LOGOUT_PATH}/backchannel-logout"),
        web::post().to(by_issuer),
    );
}

fn logout_token(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
}

async fn by_alias(
    s: web::Data<Sandbox>,
    alias: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(idp) = broker(&s, &alias) else {
        return oauth_error(ErrorCode::InvalidRequest, "unknown identity provider");
    };
    let Some(token) = logout_token(&body) else {
        return oauth_error(ErrorCode::InvalidRequest, "logout_token is required");
    };
    receive(&s, idp, &token).await
}

async fn by_issuer(s: web::Data<Sandbox>, body: web::Bytes) -> HttpResponse {
    let Some(token) = logout_token(&body) else {
        return oauth_error(ErrorCode::InvalidRequest, "logout_token is required");
    };
    // The issuer only picks the broker; the signature is checked with that broker's keys.
    let iss = unverified_issuer(&token).unwrap_or_default();
    let idp = s
        .settings
        .brokers
        .iter()
        .find(|b| b.trousseau_issuer.trim_end_matches('/') == iss.trim_end_matches('/'));
    let Some(idp) = idp else {
        return oauth_error(ErrorCode::InvalidRequest, "unknown identity provider");
    };
    receive(&s, idp, &token).await
}

fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let part = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

/// Verifies the token, ends the sessions it names, notifies their clients.
async fn receive(s: &Sandbox, idp: &BrokerSettings, token: &str) -> HttpResponse {
    let now = now();
    let http = &s.broker.http;
    let checked = async {
        let doc = broker_idp::discover(http, idp).await?;
        broker_idp::verify_logout_token(http, &doc, idp, token, now).await
    };
    let subject = match checked.await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(alias = %idp.alias, reason = e.reason(), error = ?e, "logout token refused");
            return oauth_error(ErrorCode::InvalidRequest, "the logout token is not valid");
        }
    };
    // The same token twice ends nothing more: it is refused while it lives.
    let remembered = s
        .broker
        .store
        .remember_logout_token(&idp.alias, &subject.jti, subject.exp + SKEW, now)
        .await;
    match remembered {
        Ok(Jti::Fresh) => {}
        Ok(Jti::Replayed) => {
            tracing::warn!(alias = %idp.alias, jti = %subject.jti, "logout token replayed");
            return oauth_error(
                ErrorCode::InvalidRequest,
                "this logout token was already received (jti replayed)",
            );
        }
        Ok(Jti::Full) => {
            tracing::warn!(alias = %idp.alias, "too many logout tokens remembered");
            return oauth_error(
                ErrorCode::InvalidRequest,
                "sandbox: too many recent logout tokens; try again once older ones expire",
            );
        }
        Err(e) => {
            tracing::error!(error = ?e, "back-channel logout failed");
            return oauth_error(ErrorCode::ServerError, "internal error");
        }
    }
    let ended = async {
        let sessions = s
            .broker
            .store
            .sessions_of(&idp.alias, subject.sid.as_deref(), subject.sub.as_deref())
            .await?;
        for id in &sessions {
            if s.store.end_session(id).await? {
                notify_clients(s, id).await?;
            }
        }
        Ok::<_, anyhow::Error>(sessions.len())
    };
    match ended.await {
        Ok(n) => {
            tracing::info!(alias = %idp.alias, sessions = n, "back-channel logout from Trousseau");
            HttpResponse::Ok()
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish()
        }
        Err(e) => {
            tracing::error!(error = ?e, "back-channel logout failed");
            oauth_error(ErrorCode::ServerError, "internal error")
        }
    }
}

/// Sends a logout token to every client of the session that registered a back-channel URI.
/// A client that does not answer in time is logged and skipped.
async fn notify_clients(s: &Sandbox, session_id: &str) -> anyhow::Result<()> {
    let Some(session) = s.store.session(session_id).await? else {
        return Ok(());
    };
    let sub = IdNat::parse(&session.idnat)
        .ok()
        .and_then(|i| s.directory.get(&i))
        .map(|p| p.sub.clone())
        .unwrap_or_default();
    let now = now();
    for client_id in s.broker.store.clients_of(session_id).await? {
        let Some(uri) = s
            .settings
            .client(&client_id)
            .and_then(|c| c.backchannel_logout_uri.as_deref())
        else {
            continue;
        };
        let mut c = Map::new();
        c.insert("iss".into(), json!(s.endpoints.issuer));
        c.insert("sub".into(), json!(sub));
        c.insert("aud".into(), json!(client_id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now + 120));
        c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        c.insert("sid".into(), json!(session_id));
        let mut events = Map::new();
        events.insert(LOGOUT_EVENT.into(), json!({}));
        c.insert("events".into(), Value::Object(events));
        let token = s.keys.sign("logout+jwt", c)?;
        let sent = s
            .broker
            .http
            .post(uri)
            .timeout(NOTIFY_TIMEOUT)
            .form(&[("logout_token", token.as_str())])
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tracing::info!(client_id = %client_id, "back-channel logout delivered");
            }
            Ok(r) => {
                tracing::warn!(client_id = %client_id, status = %r.status(), "back-channel logout refused")
            }
            Err(e) => {
                tracing::warn!(client_id = %client_id, error = %e, "back-channel logout not delivered")
            }
        }
    }
    Ok(())
}
