//! PSC's broker in the sandbox (psc.md, "Trousseau as third-party IdP of PSC"): a service's
//! `kc_idp_hint=<alias>` sends the browser to that Trousseau (code flow with PKCE, state and
//! nonce), its answer comes back to `{issuer}/broker/<alias>/endpoint`, the ID token is
//! verified, then the pairing or confirmation screen (`broker_pages`) leads to the service's
//! own code. Back-channel logout from Trousseau is in `broker_logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::broker_idp::{self, IdpError};
use super::broker_store::{BrokerLogin, BrokerStore, step};
use super::broker_texts::{BrokerTexts, broker_texts};
use super::config::BrokerSettings;
use super::oauth::now;
use super::pages::{
    self, CSRF_COOKIE, browser_of, csrf_token, failure, finish_with_code, html, redirect,
    with_params,
};
use super::server::Sandbox;
use super::store::Session;
use super::texts::{Texts, texts};
use crate::crypto::{random_token, s256};
use crate::psc::protocol::REALM_PATH;

/// The kind of phone request a pairing makes.
pub const KIND_PAIRING: &str = "pairing";
/// The `authMode` (and session channel) of a session opened through a Trousseau.
pub const CHANNEL: &str = "FI_TIERS";
/// How long a broker login may take, from the redirect to Trousseau to the service's code.
const LOGIN_SECS: i64 = 600;
/// Unfinished broker logins one address may hold.
const MAX_OPEN_PER_ADDRESS: i64 = 20;
/// What the broker asks Trousseau for.
const IDP_SCOPE: &str = "openid profile email";

/// The broker's state: its tables and its HTTP client towards the Trousseaus.
pub struct Broker {
    pub store: BrokerStore,
    pub http: reqwest::Client,
}

impl Broker {
    pub async fn open(pool: sqlx::SqlitePool) -> anyhow::Result<Broker> {
        Ok(Broker {
            store: BrokerStore::open(pool).await?,
            http: broker_idp::http_client()?,
        })
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{REALM_PATH}/broker/{{alias}}/endpoint"),
        web::get().to(endpoint),
    );
    super::broker_pages::configure(cfg);
    super::broker_logout::configure(cfg);
}

/// The service's authorization request that a broker login finishes.
pub struct ServiceRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub state: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    /// `prompt=login`: Trousseau is asked to authenticate again.
    pub login_again: bool,
}

/// The redirect URI registered at Trousseau for a broker (Keycloak's form).
pub fn endpoint_uri(s: &Sandbox, alias: &str) -> String {
    format!("{}/broker/{alias}/endpoint", s.endpoints.issuer)
}

pub fn broker<'s>(s: &'s Sandbox, alias: &str) -> Option<&'s BrokerSettings> {
    s.settings.brokers.iter().find(|b| b.alias == alias)
}

#[derive(Template)]
#[template(path = "sandbox/broker_error.html")]
struct ErrorPage<'a> {
    t: &'static Texts,
    b: &'static BrokerTexts,
    text: &'a str,
    reason: &'a str,
    back: &'a str,
}

/// An error page for the person, with a link that gives the service its OAuth error.
pub fn refusal(
    t: &'static Texts,
    status: StatusCode,
    text: &str,
    reason: &str,
    back: Option<String>,
) -> HttpResponse {
    tracing::info!(reason, "broker login refused");
    let b = broker_texts(lang_of(t));
    let back = back.unwrap_or_default();
    html(
        status,
        ErrorPage {
            t,
            b,
            text,
            reason,
            back: &back,
        }
        .render(),
    )
}

pub fn lang_of(t: &Texts) -> super::texts::Lang {
    if t.lang == "en" {
        super::texts::Lang::En
    } else {
        super::texts::Lang::Fr
    }
}

/// The service's error redirect for a login (RFC 6749 §4.1.2.1).
pub fn service_error(s: &Sandbox, l: &BrokerLogin, error: &str, description: &str) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(st) = l.state.as_deref() {
        params.push(("state", st));
    }
    params.push(("iss", s.endpoints.issuer.as_str()));
    with_params(&l.redirect_uri, &params)
}

/// Starts a broker login: remembers the service's request and sends the browser to Trousseau.
pub async fn start(
    s: &Sandbox,
    req: &HttpRequest,
    t: &'static Texts,
    alias: &str,
    service: &ServiceRequest<'_>,
) -> HttpResponse {
    let b = broker_texts(lang_of(t));
    let Some(idp) = broker(s, alias) else {
        return refusal(
            t,
            StatusCode::BAD_REQUEST,
            b.unknown_idp,
            "unknown_idp",
            None,
        );
    };
    let now = now();
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let result = async {
        s.broker.store.purge(now).await?;
        if s.broker.store.open_logins(&address, now).await? >= MAX_OPEN_PER_ADDRESS {
            return Ok(refusal(
                t,
                StatusCode::TOO_MANY_REQUESTS,
                b.too_many,
                "too_many_logins",
                None,
            ));
        }
        let doc = match broker_idp::discover(&s.broker.http, idp).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = ?e, alias, "Trousseau discovery failed");
                return Ok(refusal(
                    t,
                    StatusCode::BAD_GATEWAY,
                    b.idp_unreachable,
                    e.reason(),
                    None,
                ));
            }
        };
        let (csrf, set) = csrf_token(s, req);
        let login = BrokerLogin {
            id: random_token(24),
            alias: alias.to_owned(),
            browser: browser_of(&csrf),
            address,
            client_id: service.client_id.to_owned(),
            redirect_uri: service.redirect_uri.to_owned(),
            scope: service.scope.to_owned(),
            state: service.state.map(str::to_owned),
            nonce: service.nonce.map(str::to_owned),
            code_challenge: service.code_challenge.to_owned(),
            idp_nonce: random_token(24),
            verifier: random_token(48),
            status: step::REDIRECTED.into(),
            created_at: now,
            expires_at: now + LOGIN_SECS,
            tid: None,
            oid: None,
            idp_sub: None,
            idp_sid: None,
            amr: None,
            auth_time: None,
            account: None,
            request_id: None,
        };
        s.broker.store.insert(&login).await?;
        let challenge = s256(&login.verifier);
        let callback = endpoint_uri(s, alias);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", idp.client_id.as_str()),
            ("redirect_uri", callback.as_str()),
            ("scope", IDP_SCOPE),
            ("state", login.id.as_str()),
            ("nonce", login.idp_nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if service.login_again {
            params.push(("prompt", "login"));
        }
        let mut resp = redirect(&with_params(&doc.authorization_endpoint, &params));
        if let Some(c) = set {
            let _ = resp.add_cookie(&c);
        }
        Ok::<_, anyhow::Error>(resp)
    };
    result.await.unwrap_or_else(|e| failure(t, e))
}

/// A broker login of this browser, live and at `expected` step.
pub async fn own_login(
    s: &Sandbox,
    req: &HttpRequest,
    id: &str,
    expected: &str,
    t: &'static Texts,
) -> Result<BrokerLogin, HttpResponse> {
    let found = s.broker.store.login(id).await.map_err(|e| failure(t, e))?;
    let Some(l) = found else {
        return Err(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
    };
    let cookie = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if cookie.is_empty() || !crate::crypto::ct_eq(&l.browser, &browser_of(&cookie)) {
        return Err(pages::message(t, StatusCode::FORBIDDEN, t.error_browser));
    }
    if l.status != expected || l.expires_at <= now() {
        return Err(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
    }
    Ok(l)
}

#[derive(Deserialize)]
struct EndpointQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    lang: Option<String>,
}

/// Trousseau's answer: an error for the person and the service, or a code to exchange.
async fn endpoint(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    alias: web::Path<String>,
    q: web::Query<EndpointQuery>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, q.lang.as_deref()));
    let b = broker_texts(lang_of(t));
    let id = q.state.as_deref().unwrap_or("");
    let l = match own_login(&s, &req, id, step::REDIRECTED, t).await {
        Ok(l) if l.alias == *alias => l,
        Ok(_) => return pages::message(t, StatusCode::BAD_REQUEST, t.error_request),
        Err(resp) => return resp,
    };
    let now = now();
    let result = async {
        if !s
            .broker
            .store
            .advance(&l.id, step::REDIRECTED, step::RETURNED, now)
            .await?
        {
            return Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
        }
        if let Some(error) = q.error.as_deref() {
            s.broker
                .store
                .advance(&l.id, step::RETURNED, step::FAILED, now)
                .await?;
            tracing::info!(alias = %l.alias, error, "Trousseau answered an error");
            let description = format!("the identity provider answered {error}");
            let back = service_error(&s, &l, "access_denied", &description);
            return Ok(refusal(
                t,
                StatusCode::FORBIDDEN,
                b.idp_refused,
                "idp_error",
                Some(back),
            ));
        }
        Ok(
            match verify(&s, &l, q.code.as_deref().unwrap_or(""), now).await? {
                Ok(()) => next_screen(&s, &l).await?,
                Err((status, text, reason)) => {
                    s.broker
                        .store
                        .advance(&l.id, step::RETURNED, step::FAILED, now)
                        .await?;
                    let back = service_error(&s, &l, "access_denied", reason);
                    refusal(t, status, pick(b, text), reason, Some(back))
                }
            },
        )
    };
    result
        .await
        .unwrap_or_else(|e: anyhow::Error| failure(t, e))
}

/// Which refusal text an outcome shows.
#[derive(Debug, Clone, Copy)]
pub enum Why {
    Unreachable,
    BadAnswer,
    Weak,
    Stale,
}

fn pick(b: &BrokerTexts, why: Why) -> &'static str {
    match why {
        Why::Unreachable => b.idp_unreachable,
        Why::BadAnswer => b.idp_bad_answer,
        Why::Weak => b.weak_authentication,
        Why::Stale => b.stale_authentication,
    }
}

type Refused = (StatusCode, Why, &'static str);

/// Exchanges the code, verifies the ID token and PSC's rules on it (phishing-resistant MFA,
/// an authentication younger than the session's absolute life), and records the identity.
async fn verify(
    s: &Sandbox,
    l: &BrokerLogin,
    code: &str,
    now: i64,
) -> anyhow::Result<Result<(), Refused>> {
    let Some(idp) = broker(s, &l.alias) else {
        return Ok(Err((
            StatusCode::BAD_REQUEST,
            Why::BadAnswer,
            "unknown_idp",
        )));
    };
    let http = &s.broker.http;
    let checked = async {
        let doc = broker_idp::discover(http, idp).await?;
        let callback = endpoint_uri(s, &l.alias);
        let raw = broker_idp::exchange(http, &doc, idp, code, &callback, &l.verifier).await?;
        broker_idp::verify_id_token(http, &doc, idp, &raw, &l.idp_nonce, now).await
    };
    let v = match checked.await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = ?e, alias = %l.alias, "Trousseau's answer refused");
            let why = match e {
                IdpError::Unreachable(_) => (StatusCode::BAD_GATEWAY, Why::Unreachable),
                _ => (StatusCode::BAD_REQUEST, Why::BadAnswer),
            };
            return Ok(Err((why.0, why.1, e.reason())));
        }
    };
    if !broker_idp::phishing_resistant(&v.amr) {
        return Ok(Err((
            StatusCode::FORBIDDEN,
            Why::Weak,
            "weak_authentication",
        )));
    }
    if now - v.auth_time > s.settings.session_absolute_secs as i64 {
        return Ok(Err((
            StatusCode::FORBIDDEN,
            Why::Stale,
            "stale_authentication",
        )));
    }
    if !s.broker.store.verified(&l.id, &v).await? {
        return Ok(Err((StatusCode::BAD_REQUEST, Why::BadAnswer, "login_gone")));
    }
    tracing::info!(alias = %l.alias, tid = %v.tid, oid = %v.oid, "broker login verified");
    Ok(Ok(()))
}

/// The confirmation screen for a paired account, else the pairing screen.
async fn next_screen(s: &Sandbox, l: &BrokerLogin) -> anyhow::Result<HttpResponse> {
    let Some(l) = s.broker.store.login(&l.id).await? else {
        anyhow::bail!("broker login vanished");
    };
    let paired = s
        .broker
        .store
        .pairing(
            l.tid.as_deref().unwrap_or(""),
            l.oid.as_deref().unwrap_or(""),
            now(),
        )
        .await?;
    let page = if paired.is_some() { "confirm" } else { "pair" };
    Ok(redirect(&format!("/wallet/broker/{page}?login={}", l.id)))
}

/// Ends a broker login: a sandbox session for `idnat` (its authentication time is
/// Trousseau's, so the 4-hour limit counts from there), linked to the Trousseau login, then
/// the service's code. `from` is the step the login must still be at.
pub async fn finish(
    s: &Sandbox,
    l: &BrokerLogin,
    from: &str,
    idnat: &str,
) -> anyhow::Result<Option<HttpResponse>> {
    let now = now();
    if !s.broker.store.advance(&l.id, from, step::DONE, now).await? {
        return Ok(None);
    }
    let auth_time = l.auth_time.unwrap_or(now);
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        idnat: idnat.to_owned(),
        channel: CHANNEL.into(),
        auth_time,
        created_at: auth_time,
        last_seen_at: now,
        ended: 0,
    };
    s.store.insert_session(&session).await?;
    s.broker
        .store
        .link_session(
            &session.id,
            &l.alias,
            l.idp_sid.as_deref(),
            l.idp_sub.as_deref().unwrap_or(""),
            l.amr.as_deref().unwrap_or(""),
        )
        .await?;
    tracing::info!(alias = %l.alias, idnat, client_id = %l.client_id, "broker login finished");
    let resp = finish_with_code(
        s,
        &session,
        &l.client_id,
        &l.redirect_uri,
        &l.scope,
        l.state.as_deref(),
        l.nonce.as_deref(),
        &l.code_challenge,
    )
    .await?;
    Ok(Some(resp))
}

/// The `amr` of a session opened through a Trousseau: Trousseau's own values.
pub async fn session_amr(s: &Sandbox, session: &Session) -> anyhow::Result<Option<Vec<String>>> {
    if session.channel != CHANNEL {
        return Ok(None);
    }
    Ok(s.broker.store.session(&session.id).await?.map(|b| {
        b.amr
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    }))
}
