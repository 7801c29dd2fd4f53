//! Authorization flows bound to the browser that started them.
//!
//! A flow is the server-side state of an authorization request waiting for the person (login,
//! step-up, consent). It is created with the hash of a browser binding cookie, and only that
//! browser may use it: a flow id opened anywhere else restarts as a new flow of that browser,
//! which asks for a fresh login. A login or consent made within a flow is recorded with the
//! session that made it, and counts only for that session. The card-login listener may live on
//! another host, where the binding cookie is not sent: the login page gives it a sealed,
//! single-use ticket instead.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::crypto::{ct_eq, hash_secret, random_token};
use crate::oidc::refusal::AuthzRefusal;
use crate::state::AppState;
use crate::storage::flows::{self, FlowRecord};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, server_error};

/// How long a person has, at most, to complete the login and consent screens.
pub const FLOW_TTL: i64 = 1800;
/// A flow that nobody opens for this long is abandoned (and purged).
pub const IDLE_SECS: i64 = 600;
/// How long a card ticket may wait before it is used.
const CARD_TICKET_TTL: i64 = 300;
const CARD_TICKET_AAD: &[u8] = b"trousseau card-login flow binding v1";

/// A flow id as the server mints it: 24 random bytes, base64url (32 characters).
pub fn valid_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a flow id names, as seen from this browser.
pub enum Lookup {
    /// A live flow of this browser.
    Bound(FlowRecord),
    /// A live flow started in another browser.
    Foreign(FlowRecord),
    /// No live flow (unknown, expired, abandoned or malformed id).
    Missing,
}

/// Looks up a flow for this request's browser, and records that it was opened.
pub async fn lookup(state: &AppState, req: &HttpRequest, id: &str) -> Result<Lookup, sqlx::Error> {
    lookup_with(state, id, cookies::presented_binding(req).as_deref()).await
}

/// [`lookup`] with the binding value given (one this very answer sets, say).
pub async fn lookup_with(
    state: &AppState,
    id: &str,
    binding: Option<&str>,
) -> Result<Lookup, sqlx::Error> {
    if !valid_id(id) {
        return Ok(Lookup::Missing);
    }
    let now = state.clock.now();
    let Some(flow) = flows::get_live(state.db.pool(), id, now, now - IDLE_SECS).await? else {
        return Ok(Lookup::Missing);
    };
    if !bound_to(&flow, binding) {
        return Ok(Lookup::Foreign(flow));
    }
    if now > flow.touched_at {
        flows::touch(state.db.pool(), &flow.id, now).await?;
    }
    Ok(Lookup::Bound(flow))
}

/// Whether a presented binding value is the flow's (main host or card host).
fn bound_to(flow: &FlowRecord, presented: Option<&str>) -> bool {
    let Some(value) = presented else {
        return false;
    };
    let h = hash_secret(value);
    ct_eq(&h, &flow.binding_hash)
        || flow
            .card_binding_hash
            .as_deref()
            .is_some_and(|c| ct_eq(&h, c))
}

/// Why a flow could not be opened.
#[derive(Debug)]
pub enum CreateError {
    /// The client address holds `throttle.pending_flows_per_address` flows already.
    TooMany,
    Storage(sqlx::Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        CreateError::Storage(e)
    }
}

/// A new flow, and the binding cookie to set when the browser had none.
pub struct Created {
    pub id: String,
    pub cookie: Option<Cookie<'static>>,
}

impl Created {
    /// A 303 to `target` that also sets the binding cookie when it is new.
    pub fn redirect(self, target: String) -> HttpResponse {
        let mut b = HttpResponse::SeeOther();
        if let Some(c) = self.cookie {
            b.cookie(c);
        }
        b.insert_header((LOCATION, target)).finish()
    }
}

/// Opens a flow for `client_id` bound to this browser.
pub async fn create(
    state: &AppState,
    req: &HttpRequest,
    client_id: &str,
    params_json: String,
    fresh_login: bool,
) -> Result<Created, CreateError> {
    let now = state.clock.now();
    let source_ip = context_of(req).source_ip;
    if let Some(ip) = &source_ip {
        let held = flows::count_from(state.db.pool(), ip, now, now - IDLE_SECS).await?;
        if held >= state.settings.throttle.pending_flows_per_address {
            return Err(CreateError::TooMany);
        }
    }
    let (binding, cookie) = cookies::binding(req);
    let record = FlowRecord {
        id: random_token(24),
        client_id: client_id.to_owned(),
        params: params_json,
        created_at: now,
        expires_at: now + FLOW_TTL,
        touched_at: now,
        binding_hash: hash_secret(&binding),
        card_binding_hash: None,
        source_ip,
        fresh_login: i64::from(fresh_login),
        login_session: None,
        consent_session: None,
    };
    flows::insert(state.db.pool(), &record).await?;
    Ok(Created {
        id: record.id,
        cookie,
    })
}

/// The answer when a flow cannot be opened: the error page, the refusal audited.
pub async fn refused(
    state: &AppState,
    req: &HttpRequest,
    client_id: &str,
    e: CreateError,
) -> HttpResponse {
    match e {
        CreateError::TooMany => {
            state
                .audit
                .record(
                    AuditEvent::failure("authorization_refused", AuthzRefusal::TooManyPendingFlows)
                        .client(client_id)
                        .context(&context_of(req)),
                )
                .await;
            page(req, StatusCode::TOO_MANY_REQUESTS, |t| t.err_too_many_flows)
        }
        CreateError::Storage(e) => {
            tracing::error!(error = %e, "cannot open an authorization flow");
            server_error(req)
        }
    }
}

/// A flow id opened in a browser that did not start it: the refusal is audited and the same
/// request starts again as a flow of this browser, at a fresh login. Nothing done in the other
/// browser (login, consent, step-up) carries over.
pub async fn restart(state: &AppState, req: &HttpRequest, foreign: FlowRecord) -> HttpResponse {
    state
        .audit
        .record(
            AuditEvent::failure("authorization_refused", AuthzRefusal::FlowNotBound)
                .client(&foreign.client_id)
                .context(&context_of(req))
                .details(json!({ "flow_created_at": foreign.created_at })),
        )
        .await;
    match create(state, req, &foreign.client_id, foreign.params, true).await {
        Ok(created) => {
            let target = format!("/login?flow={}&reason=reauth", created.id);
            created.redirect(target)
        }
        Err(e) => refused(state, req, &foreign.client_id, e).await,
    }
}

/// A live flow of this browser, or the answer to give instead: the error page for a missing
/// flow, a restart for another browser's flow.
pub async fn require(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<FlowRecord, HttpResponse> {
    match lookup(state, req, id).await {
        Ok(Lookup::Bound(f)) => Ok(f),
        Ok(Lookup::Foreign(f)) => Err(restart(state, req, f).await),
        Ok(Lookup::Missing) => Err(page(req, StatusCode::BAD_REQUEST, |t| t.err_flow)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read an authorization flow");
            Err(server_error(req))
        }
    }
}

/// A sealed, single-use ticket that lets the card-login host (where this browser's binding
/// cookie is not sent) continue this flow: the flow id, a nonce whose hash the flow keeps, and
/// an expiry, encrypted and authenticated with the master key. Arming a new ticket replaces
/// the previous one.
pub async fn card_ticket(state: &AppState, flow_id: &str) -> anyhow::Result<String> {
    let nonce = random_token(18);
    let exp = state.clock.now() + CARD_TICKET_TTL;
    flows::set_card_nonce(state.db.pool(), flow_id, &hash_secret(&nonce)).await?;
    let sealed = state.master.seal(
        format!("{flow_id}.{nonce}.{exp}").as_bytes(),
        CARD_TICKET_AAD,
    )?;
    Ok(url::form_urlencoded::byte_serialize(sealed.as_bytes()).collect())
}

/// Uses a card ticket for `flow_id` on this browser: binds the browser to the flow once.
/// `Some(cookie)` when it was accepted (the binding cookie to set, when new); `None` when the
/// ticket is forged, altered, expired, for another flow or already used.
pub async fn use_card_ticket(
    state: &AppState,
    req: &HttpRequest,
    flow_id: &str,
    ticket: &str,
) -> Result<Option<Option<Cookie<'static>>>, sqlx::Error> {
    let Ok(plain) = state.master.open(ticket, CARD_TICKET_AAD) else {
        return Ok(None);
    };
    let Ok(plain) = String::from_utf8(plain) else {
        return Ok(None);
    };
    let mut parts = plain.splitn(3, '.');
    let (Some(id), Some(nonce), Some(exp)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let fresh = exp.parse::<i64>().is_ok_and(|exp| exp > state.clock.now());
    if id != flow_id || !fresh {
        return Ok(None);
    }
    let (binding, cookie) = cookies::binding(req);
    let taken = flows::take_card_nonce(
        state.db.pool(),
        id,
        &hash_secret(nonce),
        &hash_secret(&binding),
    )
    .await?;
    Ok(taken.then_some(cookie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_minted_ids_are_valid() {
        assert!(valid_id(&random_token(24)));
        assert!(!valid_id("short"));
        assert!(!valid_id("abc\r\nSet-Cookie: x=1abcdefghijklmnop"));
        assert!(!valid_id(&"a".repeat(65)));
        assert!(!valid_id("abcdefghijklmnop%00"));
    }

    fn flow(binding: &str, card: Option<&str>) -> FlowRecord {
        FlowRecord {
            id: random_token(24),
            client_id: "c".into(),
            params: "{}".into(),
            created_at: 0,
            expires_at: 1,
            touched_at: 0,
            binding_hash: hash_secret(binding),
            card_binding_hash: card.map(hash_secret),
            source_ip: None,
            fresh_login: 0,
            login_session: None,
            consent_session: None,
        }
    }

    #[test]
    fn a_flow_is_bound_to_its_browser_or_card_host() {
        let f = flow("browser-a", None);
        assert!(bound_to(&f, Some("browser-a")));
        assert!(!bound_to(&f, Some("browser-b")));
        assert!(!bound_to(&f, None));
        let f = flow("browser-a", Some("card-host"));
        assert!(bound_to(&f, Some("card-host")));
        assert!(!bound_to(&f, Some("browser-b")));
    }
}
