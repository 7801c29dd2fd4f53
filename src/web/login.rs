//! The login screen (local password for now), the step-up and re-authentication variants, and
//! the "not me / switch user" action for shared workstations.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

use super::key_texts::KeyTexts;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::login::{Checked, Failure, check_login};
use crate::authn::{AuthFactor, Method};
use crate::endpoint::authorize::continue_after_login;
use crate::endpoint::end_session::origin;
use crate::endpoint::flow;
use crate::ldap::{Refusal, normalize_login};
use crate::oidc::params::Params;
use crate::session::{self, Session};
use crate::state::AppState;
use crate::storage::flows::FlowRecord;
use crate::storage::identities::{self};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, req_lang, server_error};
use crate::ui::i18n::{Lang, Texts};
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "login/password.html")]
pub(super) struct LoginPage {
    chrome: Chrome,
    k: &'static KeyTexts,
    flow_id: String,
    csrf: String,
    username: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    client_name: Option<String>,
    show_form: bool,
    cancel_href: Option<String>,
    signed_in_as: Option<String>,
    /// Security keys are configured: passwordless button and conditional UI.
    keys_on: bool,
    /// `passwordless` or `second_factor` (step-up with the session's keys).
    key_mode: &'static str,
    /// The security-key form is shown.
    show_key: bool,
    /// The CPS card login link, when card login is on.
    card_href: Option<String>,
    /// "Se connecter avec e-CPS", when Pro Santé Connect is configured.
    ecps_href: Option<String>,
    ecps_label: &'static str,
}

impl LoginPage {
    /// The login page of a pending request for the person behind `current`, if any.
    pub(super) async fn build(
        req: &HttpRequest,
        state: &AppState,
        p: Pending,
        lang: Lang,
        current: Option<&Session>,
        reason: Option<&str>,
        csrf: String,
    ) -> LoginPage {
        let signed_in_as = who(state, current).await;
        let t = lang.t();
        let keys_on = state.security_keys.is_some();
        let mut key_mode = "passwordless";
        let mut show_key = keys_on;
        let (notice, error, show_form) = match reason {
            Some("stepup") => {
                let usable = match current {
                    Some(s) if keys_on => has_usable_key(state, &s.identity_id).await,
                    _ => false,
                };
                key_mode = "second_factor";
                show_key = usable;
                if usable {
                    (Some(lang.keys().stepup_intro), None, false)
                } else if keys_on && current.is_some() {
                    // Keys exist on this service, just not for this person yet: say how to get one.
                    (Some(t.stepup_needed), Some(lang.keys().stepup_none), false)
                } else {
                    (Some(t.stepup_needed), Some(t.err_level), false)
                }
            }
            Some("reauth") => (Some(t.reauth_needed), None, true),
            _ => (None, None, true),
        };
        let username = match (current, p.params.get("login_hint")) {
            (Some(s), _) => identities::by_id(state.db.pool(), &s.identity_id)
                .await
                .ok()
                .flatten()
                .map(|i| i.username)
                .unwrap_or_default(),
            (None, Some(hint)) => hint.to_owned(),
            (None, None) => String::new(),
        };
        let cancel_href =
            (!show_form).then(|| format!("/authorize/resume?flow={}&cancel=1", p.flow.id));
        let card_href = card_href(state, &p.flow.id).await;
        let flow_id_of_page = p.flow.id.clone();
        LoginPage {
            chrome: Chrome::new(req, lang),
            k: lang.keys(),
            flow_id: p.flow.id,
            csrf,
            username,
            error,
            notice,
            client_name: p.client_name,
            show_form,
            cancel_href,
            signed_in_as,
            keys_on,
            key_mode,
            show_key,
            card_href,
            ecps_href: state
                .psc
                .is_some()
                .then(|| format!("/login/psc?flow={}", flow_id_of_page)),
            ecps_label: super::psc_texts::texts(lang).login_link,
        }
    }

    /// The same page showing a failure (no language switch: it answers a POST).
    pub(super) fn failed(mut self, message: &'static str) -> LoginPage {
        self.chrome.switch_href.clear();
        self.error = Some(message);
        self.notice = None;
        self
    }
}

async fn has_usable_key(state: &AppState, identity_id: &str) -> bool {
    crate::storage::security_keys::of_identity(state.db.pool(), identity_id)
        .await
        .map(|keys| keys.iter().any(|k| k.usable()))
        .unwrap_or(false)
}

/// What the page needs to know about the pending request.
pub(super) struct Pending {
    pub(super) flow: FlowRecord,
    pub(super) params: Params,
    pub(super) client_name: Option<String>,
}

/// The pending request of a flow of this browser, or the answer to give instead (the error
/// page for an unknown flow, a fresh start for another browser's flow).
pub(super) async fn pending(
    req: &HttpRequest,
    state: &AppState,
    flow_id: &str,
) -> Result<Pending, HttpResponse> {
    let flow = flow::require(state, req, flow_id).await?;
    pending_of(req, state, flow).await
}

/// The pending request of a flow already checked to be this browser's.
pub(super) async fn pending_of(
    req: &HttpRequest,
    state: &AppState,
    flow: FlowRecord,
) -> Result<Pending, HttpResponse> {
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let client_name = match state.clients.get(&flow.client_id).await {
        Ok(c) => c.map(|c| c.name.clone()),
        Err(_) => return Err(server_error(req)),
    };
    Ok(Pending {
        flow,
        params,
        client_name,
    })
}

pub(super) async fn who(state: &AppState, s: Option<&Session>) -> Option<String> {
    let s = s?;
    let i = identities::by_id(state.db.pool(), &s.identity_id)
        .await
        .ok()??;
    Some(format!(
        "{} {} ({})",
        i.given_name, i.family_name, i.username
    ))
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    flow: String,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn login_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let p = match pending(&req, &state, &q.flow).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let explicit = req_lang(&req);
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), explicit.as_deref());
    let current = session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    if let Some(l) = explicit.as_deref() {
        b.cookie(cookies::lang(if l == "en" { "en" } else { "fr" }));
    }
    let page = LoginPage::build(
        &req,
        &state,
        p,
        lang,
        current.as_ref(),
        q.reason.as_deref(),
        csrf,
    )
    .await;
    render_with(b, &page)
}

/// The answer's status for a refused password login.
pub(super) fn failure_status(f: Failure) -> StatusCode {
    match f {
        Failure::MissingFields => StatusCode::BAD_REQUEST,
        Failure::Credentials(_) => StatusCode::UNAUTHORIZED,
        Failure::Locked | Failure::AddressBlocked => StatusCode::TOO_MANY_REQUESTS,
        Failure::Disabled | Failure::NotYetArrived => StatusCode::FORBIDDEN,
        Failure::Unavailable | Failure::DirectoryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Failure::Directory(Refusal::Locked | Refusal::NearLockout) => StatusCode::TOO_MANY_REQUESTS,
        Failure::Directory(_) | Failure::Conflict => StatusCode::FORBIDDEN,
    }
}

/// The person's message for a refused password login.
pub(super) fn failure_message(f: Failure, t: &'static Texts) -> &'static str {
    match f {
        Failure::MissingFields => t.err_missing_fields,
        Failure::Credentials(_) => t.err_credentials,
        Failure::Locked => t.err_locked,
        Failure::AddressBlocked => t.err_address_blocked,
        Failure::Disabled => t.err_disabled,
        Failure::NotYetArrived => t.err_pending,
        Failure::Unavailable => t.err_unavailable,
        Failure::Directory(r) => match r {
            Refusal::WrongPassword | Refusal::UnknownUser => t.err_credentials,
            Refusal::Disabled => t.err_dir_disabled,
            Refusal::Locked => t.err_dir_locked,
            Refusal::NearLockout => t.err_locked,
            Refusal::AccountExpired => t.err_dir_account_expired,
            Refusal::Restricted => t.err_dir_restricted,
            Refusal::PasswordExpired => t.pw_change_expired,
            Refusal::MustChangePassword => t.pw_change_must,
        },
        Failure::DirectoryUnavailable => t.err_dir_unavailable,
        Failure::Conflict => t.err_dir_conflict,
    }
}

pub async fn login_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let Ok(mut form) = Params::parse(&body) else {
        return page(&req, StatusCode::BAD_REQUEST, |t| t.err_csrf);
    };
    let flow_id = form.get("flow").unwrap_or_default().to_owned();
    let p = match pending(&req, &state, &flow_id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), None);
    if !cookies::csrf_ok(&req, form.get("csrf"), &origin(&state)) {
        state
            .audit
            .record(AuditEvent::failure("login", "csrf").context(&ctx))
            .await;
        return page(&req, StatusCode::FORBIDDEN, |t| t.err_csrf);
    }
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let password = form.remove("password").map(SecretString::from);
    let current = session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    match check_login(&state.authn(), &username, password, &ctx).await {
        Ok(Checked::Identity(identity_id, method)) => {
            state.metrics.login(method.as_str(), "success");
            logged_in(&req, &state, current, &identity_id, method, p.flow, &ctx).await
        }
        Ok(Checked::ChangePassword(dn, reason)) => {
            let login = normalize_login(&username).to_lowercase();
            match crate::authn::login::directory::open_change(
                &state.authn(),
                &p.flow.id,
                &login,
                &dn,
                reason,
            )
            .await
            {
                Ok(ticket) => HttpResponse::SeeOther()
                    .insert_header((LOCATION, format!("/password/change?ticket={ticket}")))
                    .finish(),
                Err(_) => server_error(&req),
            }
        }
        Err(failure) => {
            state.metrics.login("password", "failure");
            let (csrf, _) = cookies::csrf(&req);
            let page = LoginPage::build(&req, &state, p, lang, current.as_ref(), None, csrf).await;
            let page = LoginPage {
                username,
                ..page.failed(failure_message(failure, lang.t()))
            };
            render_with(HttpResponse::build(failure_status(failure)), &page)
        }
    }
}

/// Records a successful proof in the SSO session and goes back to the authorization request.
pub(super) async fn logged_in(
    req: &HttpRequest,
    state: &AppState,
    current: Option<Session>,
    identity_id: &str,
    method: Method,
    flow: FlowRecord,
    ctx: &RequestContext,
) -> HttpResponse {
    let factor = AuthFactor {
        method,
        user_verified: false,
    };
    let recorded = session::record_login(
        &state.sessions(),
        current,
        identity_id,
        factor,
        Some(&flow.id),
        ctx,
    )
    .await;
    after_login(req, state, recorded, flow).await
}

/// Goes back to the authorization request after a recorded login, setting a new session's
/// cookie on that answer.
pub(super) async fn after_login(
    req: &HttpRequest,
    state: &AppState,
    recorded: anyhow::Result<session::LoggedIn>,
    mut flow: FlowRecord,
) -> HttpResponse {
    match recorded {
        Ok(done) => {
            flow.login_session = Some(done.session.id.clone());
            // Straight on with the authorization request (code, consent or step-up), the new
            // session cookie set on that answer.
            let mut resp = continue_after_login(req, state, flow, done.session).await;
            if let Some(token) = done.new_token
                && let Err(e) = resp.add_cookie(&cookies::session(token))
            {
                tracing::error!(error = %e, "cannot set the session cookie");
                return server_error(req);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = ?e, "cannot record the login");
            server_error(req)
        }
    }
}

/// "Ce n'est pas moi / changer d'utilisateur": ends the session, then back to the login screen.
pub async fn switch_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let form = match crate::ui::form::checked(&req, &state.audit, &origin(&state), &body, "logout")
        .await
    {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    // The flow goes into a Location header: only an id of the server's own alphabet may.
    let target = match form.get("flow") {
        Some(flow) if flow::valid_id(flow) => format!("/login?flow={flow}"),
        Some(_) => {
            state
                .audit
                .record(AuditEvent::failure("switch_user", "malformed_flow").context(&ctx))
                .await;
            return page(&req, StatusCode::BAD_REQUEST, |t| t.err_flow);
        }
        None => "/".to_owned(),
    };
    if let Ok(Some(s)) =
        session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref()).await
        && let Err(e) = session::end(&state.sessions(), &s.id, "switch_user", &ctx).await
    {
        tracing::error!(error = ?e, "switch user failed");
        return server_error(&req);
    }
    HttpResponse::SeeOther()
        .cookie(cookies::clear_session())
        .insert_header((LOCATION, target))
        .finish()
}

/// Where the card login of this flow starts: this site, or the card listener's own URL. The
/// listener's own host does not see this browser's binding cookie: its link carries a sealed,
/// single-use ticket that binds the flow there once.
async fn card_href(state: &AppState, flow_id: &str) -> Option<String> {
    state.cps.as_ref()?;
    let base = state.settings.cps.tls.public_url.trim_end_matches('/');
    if base.is_empty() {
        return Some(format!("/login/card?flow={flow_id}"));
    }
    match flow::card_ticket(state, flow_id).await {
        Ok(ticket) => Some(format!("{base}/login/card?flow={flow_id}&ticket={ticket}")),
        Err(e) => {
            tracing::error!(error = ?e, "cannot prepare the card-login ticket");
            None
        }
    }
}
