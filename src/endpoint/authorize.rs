//! The authorization endpoint (OIDC Core §3.1.2): code flow with PKCE, `response_mode` query or
//! form_post, `iss` in every response (RFC 9207), pushed requests (RFC 9126), and the hand-off
//! to the login and consent screens through a flow stored in the database.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::flow;
use crate::audit::{AuditEvent, RequestContext};
use crate::crypto::{hash_secret, random_token};
use crate::oidc::error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::refusal::AuthzRefusal;
use crate::oidc::request::{
    AuthRequest, Decision, Progress, ReplyTo, RequestError, ResponseMode, decide, parse,
};
use crate::session::{self, Session};
use crate::state::AppState;
use crate::storage::codes::{self, CodeRecord};
use crate::storage::flows::{self, FlowRecord};
use crate::storage::{consents, pairings, par, sessions};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, server_error};
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render};

/// `client_id`'s bound (request::PARAMETER_BOUNDS), checked before the client is looked up.
const MAX_CLIENT_ID: usize = 255;
const PAR_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

pub async fn authorize_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match Params::parse(req.query_string().as_bytes()) {
        Ok(params) => handle(&req, &state, params, None, None).await,
        Err(_) => bad_request_page(&req, &state, AuthzRefusal::RepeatedParameter, None).await,
    }
}

pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    match Params::parse(&body) {
        Ok(params) => handle(&req, &state, params, None, None).await,
        Err(_) => bad_request_page(&req, &state, AuthzRefusal::RepeatedParameter, None).await,
    }
}

#[derive(serde::Deserialize)]
pub struct ResumeQuery {
    flow: String,
    #[serde(default)]
    cancel: Option<String>,
}

/// Continues a request after the login or consent screen.
pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ResumeQuery>,
) -> HttpResponse {
    let flow = match flow::require(&state, &req, &q.flow).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Some(params) = Params::from_json(&flow.params) else {
        return server_error(&req);
    };
    if q.cancel.is_some() {
        let client = state.clients.get(&flow.client_id).await.ok().flatten();
        if let Ok(ar) = parse(client, &params, &state.settings.session.levels) {
            let _ = flows::delete(state.db.pool(), &flow.id).await;
            let ctx = context_of(&req);
            let reason = AuthzRefusal::UserCancelled;
            audit_refusal(&state, &ctx, ar.client.id.as_str(), reason).await;
            return reply_error(
                &req,
                &state,
                &ar.reply_to(),
                &reason.error(reason.description()),
            );
        }
        return page(&req, StatusCode::BAD_REQUEST, |t| t.err_flow);
    }
    let mut resp = handle(&req, &state, params, Some(flow), None).await;
    if req.cookie(cookies::RESUME).is_some() {
        // The flow that waited for a pairing goes on: the pairing page forgets it.
        let _ = resp.add_cookie(&cookies::clear_resume());
    }
    resp
}

/// The client id of flows opened by Trousseau's own pages (security-key self-service) rather
/// than by a relying party: after the login they go back to that page.
pub const ACCOUNT_FLOW_CLIENT: &str = "trousseau:account";

/// Opens a login flow, bound to this browser, for Trousseau's own page `return_to` (a local
/// path), and answers with the redirect to its login screen.
pub async fn start_account_login(
    state: &AppState,
    req: &HttpRequest,
    return_to: &str,
) -> HttpResponse {
    start_account_login_because(state, req, return_to, None).await
}

/// Why a login screen of Trousseau's own pages is shown to someone already signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountLoginReason {
    /// The session's level is too low: the step-up screen (a security key or a card).
    StepUp,
    /// The last authentication is too old for the action: sign in again.
    Reauthenticate,
}

/// Like [`start_account_login`], showing the step-up or re-authentication screen.
pub async fn start_account_login_because(
    state: &AppState,
    req: &HttpRequest,
    return_to: &str,
    reason: Option<AccountLoginReason>,
) -> HttpResponse {
    let params = serde_json::json!({ "return_to": return_to }).to_string();
    let reason = match reason {
        None => "",
        Some(AccountLoginReason::StepUp) => "&reason=stepup",
        Some(AccountLoginReason::Reauthenticate) => "&reason=reauth",
    };
    match flow::create(state, req, ACCOUNT_FLOW_CLIENT, params, false).await {
        Ok(created) => {
            let target = format!("/login?flow={}{reason}", created.id);
            created.redirect(target)
        }
        Err(e) => flow::refused(state, req, ACCOUNT_FLOW_CLIENT, e).await,
    }
}

/// Where an account flow returns: its local path, never another site.
fn account_return(flow: &FlowRecord) -> String {
    serde_json::from_str::<serde_json::Value>(&flow.params)
        .ok()
        .and_then(|v| {
            v.get("return_to")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        })
        .filter(|r| r.starts_with('/') && !r.starts_with("//"))
        .unwrap_or_else(|| "/".to_owned())
}

/// Continues a flow right after a login, with the session just recorded (its cookie is not in
/// the request yet) and the flow the login page already read: one round trip less than
/// redirecting to `/authorize/resume`.
pub async fn continue_after_login(
    req: &HttpRequest,
    state: &AppState,
    flow: FlowRecord,
    session: Session,
) -> HttpResponse {
    if flow.client_id == ACCOUNT_FLOW_CLIENT {
        let _ = flows::delete(state.db.pool(), &flow.id).await;
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, account_return(&flow)))
            .finish();
    }
    let Some(params) = Params::from_json(&flow.params) else {
        return server_error(req);
    };
    handle(req, state, params, Some(flow), Some(session)).await
}

async fn handle(
    req: &HttpRequest,
    state: &AppState,
    params: Params,
    flow: Option<FlowRecord>,
    session: Option<Session>,
) -> HttpResponse {
    let ctx = context_of(req);
    let (params, ar) = match request_of(req, state, params, flow.is_some(), &ctx).await {
        Ok(parsed) => parsed,
        Err(answer) => return answer,
    };
    let current = match session {
        Some(s) => Some(s),
        None => {
            match session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
                .await
            {
                Ok(s) => s,
                Err(_) => return server_error(req),
            }
        }
    };
    let progress = match progress(state, &ar, current.as_ref(), flow.as_ref()).await {
        Ok(p) => p,
        Err(_) => return server_error(req),
    };
    let decision = decide(&ar, current.as_ref(), progress, state.clock.now());
    let step = Step {
        req,
        state,
        ctx: &ctx,
        ar: &ar,
        flow: flow.as_ref(),
    };
    match decision {
        Decision::Issue => match current {
            Some(s) => step.issue(&s).await,
            None => server_error(req),
        },
        Decision::Refuse(reason) => step.refuse(reason).await,
        Decision::Stop(reason) => step.stop(reason, current.as_ref()).await,
        interactive => step.interact(&interactive, &params, current.as_ref()).await,
    }
}

/// The request behind the parameters (a pushed one resolved), parsed against its client, or
/// the answer that refuses it.
async fn request_of(
    req: &HttpRequest,
    state: &AppState,
    mut params: Params,
    in_flow: bool,
    ctx: &RequestContext,
) -> Result<(Params, AuthRequest), HttpResponse> {
    if !in_flow && let Some(uri) = params.get("request_uri").map(str::to_owned) {
        match take_pushed(state, &params, &uri, state.clock.now()).await {
            Ok(Some(pushed)) => params = pushed,
            Ok(None) => {
                let client = params.get("client_id");
                let reason = AuthzRefusal::InvalidRequestUri;
                return Err(bad_request_page(req, state, reason, client).await);
            }
            Err(_) => return Err(server_error(req)),
        }
    }
    if params
        .get("client_id")
        .is_some_and(|id| id.len() > MAX_CLIENT_ID)
    {
        let reason = AuthzRefusal::ParameterTooLong;
        return Err(bad_request_page(req, state, reason, None).await);
    }
    let client = match params.get("client_id") {
        Some(id) => match state.clients.get(id).await {
            Ok(c) => c,
            Err(_) => return Err(server_error(req)),
        },
        None => None,
    };
    match parse(client, &params, &state.settings.session.levels) {
        Ok(ar) => Ok((params, ar.with_federation(&state.settings.psc.federation))),
        Err(e) => Err(refused_request(req, state, ctx, e).await),
    }
}

/// The answer to a request that does not parse: the error page when the redirect URI cannot
/// be trusted, the error at the redirect URI otherwise; audited either way.
async fn refused_request(
    req: &HttpRequest,
    state: &AppState,
    ctx: &RequestContext,
    e: RequestError,
) -> HttpResponse {
    match e {
        RequestError::Page {
            reason,
            bad_redirect,
            client_id,
        } => {
            let event = AuditEvent::failure("authorization_refused", reason).context(ctx);
            let event = match client_id {
                Some(c) => event.client(c),
                None => event,
            };
            state.audit.record(event).await;
            if bad_redirect {
                page(req, StatusCode::BAD_REQUEST, |t| t.bad_request_redirect)
            } else {
                page(req, StatusCode::BAD_REQUEST, |t| t.bad_request_client)
            }
        }
        RequestError::Redirect {
            to,
            reason,
            description,
        } => {
            audit_refusal(state, ctx, &to.client_id, reason).await;
            reply_error(req, state, &to, &reason.error(description))
        }
    }
}

/// One parsed request on its way to an answer.
struct Step<'a> {
    req: &'a HttpRequest,
    state: &'a AppState,
    ctx: &'a RequestContext,
    ar: &'a AuthRequest,
    flow: Option<&'a FlowRecord>,
}

impl Step<'_> {
    async fn issue(&self, s: &Session) -> HttpResponse {
        match issue_code(self.state, self.ar, s, self.flow, self.ctx).await {
            Ok(code) => reply_code(self.req, self.state, self.ar, &code),
            Err(e) => {
                tracing::error!(error = ?e, "cannot issue an authorization code");
                let err = OAuthError::server_error();
                reply_error(self.req, self.state, &self.ar.reply_to(), &err)
            }
        }
    }

    /// The refusal sent to the client at its redirect URI.
    async fn refuse(&self, reason: AuthzRefusal) -> HttpResponse {
        if let Some(f) = self.flow {
            let _ = flows::delete(self.state.db.pool(), &f.id).await;
        }
        audit_refusal(self.state, self.ctx, self.ar.client.id.as_str(), reason).await;
        let err = reason.error(reason.description());
        reply_error(self.req, self.state, &self.ar.reply_to(), &err)
    }

    /// The refusal shown to the person, with a message for the helpdesk.
    async fn stop(&self, reason: AuthzRefusal, s: Option<&Session>) -> HttpResponse {
        if let Some(f) = self.flow {
            let _ = flows::delete(self.state.db.pool(), &f.id).await;
        }
        let mut event = AuditEvent::failure("authorization_refused", reason)
            .client(&self.ar.client.id)
            .context(self.ctx);
        if let Some(s) = s {
            event = event.subject(&s.identity_id);
        }
        self.state.audit.record(event).await;
        page(self.req, StatusCode::FORBIDDEN, |t| {
            t.err_establishment_unknown
        })
    }

    /// Off to the page that supplies what is missing (login, step-up, pairing, consent), in a
    /// flow that comes back here.
    async fn interact(
        &self,
        decision: &Decision,
        params: &Params,
        current: Option<&Session>,
    ) -> HttpResponse {
        if let Some(s) = current {
            // An authorization request is activity of the session.
            let _ = session::touch(&self.state.sessions(), &s.id).await;
            self.audit_shortfall(decision, s).await;
        }
        let target = |flow_id: &str| match decision {
            Decision::Consent => format!("/consent?flow={flow_id}"),
            Decision::Reauthenticate => format!("/login?flow={flow_id}&reason=reauth"),
            Decision::StepUp(_) => format!("/login?flow={flow_id}&reason=stepup"),
            Decision::Pair => format!("/pairing?flow={flow_id}"),
            _ => format!("/login?flow={flow_id}"),
        };
        if let Some(f) = self.flow {
            return HttpResponse::SeeOther()
                .insert_header((LOCATION, target(&f.id)))
                .finish();
        }
        let (state, req, client) = (self.state, self.req, self.ar.client.id.as_str());
        match flow::create(state, req, client, stored_params(params), false).await {
            Ok(created) => {
                let to = target(&created.id);
                created.redirect(to)
            }
            Err(e) => flow::refused(state, req, client, e).await,
        }
    }

    /// Pro Santé Connect's broker: what the session lacks, audited with a stable reason.
    async fn audit_shortfall(&self, decision: &Decision, s: &Session) {
        if self.ar.federation.is_none() {
            return;
        }
        let reason = match decision {
            Decision::StepUp(_) => AuthzRefusal::LevelTooLow,
            Decision::Reauthenticate => AuthzRefusal::ReauthenticationRequired,
            Decision::Pair => AuthzRefusal::PairingRequired,
            _ => return,
        };
        let event = AuditEvent::failure("federation_shortfall", reason)
            .subject(&s.identity_id)
            .client(&self.ar.client.id)
            .context(self.ctx);
        self.state.audit.record(event).await;
    }
}

async fn progress(
    state: &AppState,
    ar: &AuthRequest,
    s: Option<&Session>,
    flow: Option<&FlowRecord>,
) -> Result<Progress, sqlx::Error> {
    let consented = match s {
        Some(s) if !ar.client.first_party => {
            consents::consent(state.db.pool(), &s.identity_id, ar.client.id.as_str())
                .await?
                .map(|granted| {
                    let granted: Vec<String> = serde_json::from_str(&granted).unwrap_or_default();
                    ar.scope
                        .iter()
                        .all(|sc| granted.iter().any(|g| g == sc.as_str()))
                })
                .unwrap_or(false)
        }
        _ => false,
    };
    // What was done within the flow counts only for the session that did it (in this browser:
    // the flow is bound to it, and so is the session cookie).
    let by_this_session =
        |done: Option<&String>| matches!((done, s), (Some(d), Some(s)) if *d == s.id);
    let (paired, establishment_known) = match s {
        Some(s) if ar.federation.is_some() => federation_progress(state, &s.identity_id).await?,
        _ => (false, false),
    };
    Ok(Progress {
        consented,
        login_done: flow.is_some_and(|f| by_this_session(f.login_session.as_ref())),
        consent_done: flow.is_some_and(|f| by_this_session(f.consent_session.as_ref())),
        fresh_login_required: flow.is_some_and(|f| f.fresh_login != 0),
        paired,
        establishment_known,
    })
}

/// For Pro Santé Connect's broker: whether the identity has a valid pairing, and whether its
/// establishment (its `tid`) is known.
async fn federation_progress(
    state: &AppState,
    identity_id: &str,
) -> Result<(bool, bool), sqlx::Error> {
    let now = state.clock.now();
    let paired = pairings::latest_of(state.db.pool(), identity_id)
        .await?
        .is_some_and(|p| p.status_at(now) == "active");
    let known = super::claims::tenant(state, identity_id).await?.is_some();
    Ok((paired, known))
}

/// The parameters a flow keeps: the ones the request parser reads, each within its bound
/// (unknown parameters are ignored, as OAuth asks, and not stored).
fn stored_params(params: &Params) -> String {
    crate::oidc::request::known_params(params).to_json()
}

/// Resolves a pushed request; the query may carry only client_id and request_uri.
async fn take_pushed(
    state: &AppState,
    query: &Params,
    uri: &str,
    now: i64,
) -> Result<Option<Params>, sqlx::Error> {
    let Some(handle) = uri.strip_prefix(PAR_PREFIX) else {
        return Ok(None);
    };
    let Some((client_id, params, expires_at)) =
        par::take_par(state.db.pool(), &hash_secret(handle), now).await?
    else {
        return Ok(None);
    };
    if expires_at <= now || query.get("client_id") != Some(client_id.as_str()) {
        return Ok(None);
    }
    Ok(Params::from_json(&params))
}

async fn issue_code(
    state: &AppState,
    ar: &AuthRequest,
    s: &Session,
    flow: Option<&FlowRecord>,
    ctx: &RequestContext,
) -> anyhow::Result<String> {
    let now = state.clock.now();
    let code = random_token(32);
    // One transaction: the code, the session's client list and activity, the finished flow.
    let mut tx = state.db.begin().await?;
    codes::insert(
        &mut *tx,
        &CodeRecord {
            code_hash: hash_secret(&code),
            client_id: ar.client.id.to_string(),
            identity_id: s.identity_id.clone(),
            session_id: s.id.clone(),
            redirect_uri: ar.redirect_uri.to_string(),
            scope: ar.scope.to_string(),
            nonce: ar.nonce.clone(),
            code_challenge: ar.code_challenge.clone(),
            created_at: now,
            expires_at: now + state.settings.tokens.code_ttl_secs,
            used_at: None,
            family_id: None,
        },
    )
    .await?;
    sessions::add_client(&mut *tx, &s.id, ar.client.id.as_str(), now).await?;
    // A login of this same second already recorded the session's activity.
    if s.auth_time < now {
        sessions::touch(&mut *tx, &s.id, now).await?;
    }
    if let Some(f) = flow {
        flows::delete(&mut *tx, &f.id).await?;
    }
    tx.commit().await?;
    state
        .audit
        .record(
            AuditEvent::success("code_issued")
                .subject(&s.identity_id)
                .client(&ar.client.id)
                .context(ctx)
                .details(json!({ "session": s.id, "scope": ar.scope.to_string() })),
        )
        .await;
    Ok(code)
}

async fn audit_refusal(
    state: &AppState,
    ctx: &RequestContext,
    client_id: &str,
    reason: AuthzRefusal,
) {
    state
        .audit
        .record(
            AuditEvent::failure("authorization_refused", reason)
                .client(client_id)
                .context(ctx),
        )
        .await;
}

async fn bad_request_page(
    req: &HttpRequest,
    state: &AppState,
    reason: AuthzRefusal,
    client_id: Option<&str>,
) -> HttpResponse {
    let ctx = context_of(req);
    let event = AuditEvent::failure("authorization_refused", reason).context(&ctx);
    let event = match client_id {
        Some(c) => event.client(c),
        None => event,
    };
    state.audit.record(event).await;
    page(req, StatusCode::BAD_REQUEST, |t| t.bad_request_client)
}

fn reply_code(req: &HttpRequest, state: &AppState, ar: &AuthRequest, code: &str) -> HttpResponse {
    let mut fields = vec![("code".to_owned(), code.to_owned())];
    if let Some(s) = &ar.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("iss".into(), state.settings.issuer()));
    respond(req, &ar.reply_to(), fields)
}

/// Sends an OAuth error to the client's registered redirect URI.
pub fn reply_error(
    req: &HttpRequest,
    state: &AppState,
    to: &ReplyTo,
    e: &OAuthError,
) -> HttpResponse {
    let mut fields = vec![
        ("error".to_owned(), e.code.as_str().to_owned()),
        ("error_description".to_owned(), e.description.clone()),
    ];
    if let Some(s) = &to.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("iss".into(), state.settings.issuer()));
    respond(req, to, fields)
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost {
    chrome: Chrome,
    action: String,
    fields: Vec<(String, String)>,
}

fn respond(req: &HttpRequest, to: &ReplyTo, fields: Vec<(String, String)>) -> HttpResponse {
    match to.response_mode {
        ResponseMode::Query => {
            let mut url = to.redirect_uri.url().clone();
            url.query_pairs_mut().extend_pairs(fields);
            HttpResponse::SeeOther()
                .insert_header((LOCATION, url.to_string()))
                .finish()
        }
        ResponseMode::FormPost => {
            let mut chrome = Chrome::new(req, Lang::negotiate(req, None, None));
            chrome.switch_href.clear();
            let mut resp = render(
                StatusCode::OK,
                &FormPost {
                    chrome,
                    action: to.redirect_uri.to_string(),
                    fields,
                },
            );
            // The auto-submitting page posts to the client: allow exactly that target.
            let csp = format!(
                "{}; form-action {}",
                crate::ui::security::CSP,
                origin_of(to.redirect_uri.as_str())
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&csp) {
                resp.headers_mut()
                    .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, v);
            }
            resp
        }
    }
}

fn origin_of(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".to_owned())
}
