//! The login screen (password; security keys and cards start from it), the step-up and
//! re-authentication variants, the "not me / switch user" action for shared workstations, and
//! what every login method does once decided: sign in, or say why not.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use secrecy::SecretString;

use super::key_texts::KeyTexts;
use crate::audit::AuditEvent;
use crate::authn::login::{self, Class, Failure, LoginOutcome, Proof, Say};
use crate::endpoint::authorize::continue_after_login;
use crate::endpoint::flow;
use crate::ldap::{Refusal, normalize_login};
use crate::oidc::params::Params;
use crate::session::{self, KeyUse, Session};
use crate::state::AppState;
use crate::storage::flows::FlowRecord;
use crate::storage::identities::{self};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{PageError, req_lang};
use crate::ui::extract::{CheckedForm, CurrentSession, LoginForm, SwitchUserForm};
use crate::ui::i18n::{Lang, Texts, card_refusal};
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

/// What the login page says above its forms, and which forms it shows.
struct Banner {
    notice: Option<&'static str>,
    error: Option<&'static str>,
    show_form: bool,
    key_mode: &'static str,
    show_key: bool,
}

impl Banner {
    /// The banner for a login (`reason` none), a re-authentication or a step-up.
    async fn of(
        state: &AppState,
        lang: Lang,
        current: Option<&Session>,
        reason: Option<&str>,
    ) -> Banner {
        let t = lang.t();
        let keys_on = state.security_keys.is_some();
        let plain = |notice| Banner {
            notice,
            error: None,
            show_form: true,
            key_mode: "passwordless",
            show_key: keys_on,
        };
        if reason == Some("reauth") {
            return plain(Some(t.reauth_needed));
        }
        if reason != Some("stepup") {
            return plain(None);
        }
        let usable = match current {
            Some(s) if keys_on => has_usable_key(state, &s.identity_id).await,
            _ => false,
        };
        let (notice, error) = if usable {
            (Some(lang.keys().stepup_intro), None)
        } else if keys_on && current.is_some() {
            // Keys exist on this service, just not for this person yet: say how to get one.
            (Some(t.stepup_needed), Some(lang.keys().stepup_none))
        } else {
            (Some(t.stepup_needed), Some(t.err_level))
        };
        Banner {
            notice,
            error,
            show_form: false,
            key_mode: "second_factor",
            show_key: usable,
        }
    }
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
        let banner = Banner::of(state, lang, current, reason).await;
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
            (!banner.show_form).then(|| format!("/authorize/resume?flow={}&cancel=1", p.flow.id));
        LoginPage {
            chrome: Chrome::new(req, lang),
            k: lang.keys(),
            csrf,
            username,
            error: banner.error,
            notice: banner.notice,
            client_name: p.client_name,
            show_form: banner.show_form,
            cancel_href,
            signed_in_as: who(state, current).await,
            keys_on: state.security_keys.is_some(),
            key_mode: banner.key_mode,
            show_key: banner.show_key,
            card_href: card_href(state, &p.flow.id).await,
            ecps_href: state
                .psc
                .is_some()
                .then(|| format!("/login/psc?flow={}", p.flow.id)),
            ecps_label: super::psc_texts::texts(lang).login_link,
            flow_id: p.flow.id,
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

impl Pending {
    /// The page's language: the request's `ui_locales`, then the browser's choice.
    pub(super) fn lang(&self, req: &HttpRequest, explicit: Option<&str>) -> Lang {
        Lang::negotiate(req, self.params.get("ui_locales"), explicit)
    }
}

/// The pending request of a flow of this browser; for an unknown flow the error page, for
/// another browser's flow a fresh start.
pub(super) async fn pending(
    req: &HttpRequest,
    state: &AppState,
    flow_id: &str,
) -> Result<Pending, PageError> {
    let flow = flow::require(state, req, flow_id).await?;
    pending_of(state, flow).await
}

/// The pending request of a flow already checked to be this browser's.
pub(super) async fn pending_of(state: &AppState, flow: FlowRecord) -> Result<Pending, PageError> {
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let client = state
        .clients
        .get(&flow.client_id)
        .await
        .context("cannot read the flow's client")?;
    Ok(Pending {
        flow,
        params,
        client_name: client.map(|c| c.name.clone()),
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
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let p = pending(&req, &state, &q.flow).await?;
    let explicit = req_lang(&req);
    let lang = p.lang(&req, explicit.as_deref());
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    if let Some(l) = explicit.as_deref() {
        b.cookie(cookies::lang(if l == "en" { "en" } else { "fr" }));
    }
    let reason = q.reason.as_deref();
    let page = LoginPage::build(&req, &state, p, lang, current.0.as_ref(), reason, csrf).await;
    Ok(render_with(b, &page))
}

/// The answer's status for a refused login.
pub(super) fn refusal_status(class: Class) -> StatusCode {
    match class {
        Class::Incomplete => StatusCode::BAD_REQUEST,
        Class::Credentials => StatusCode::UNAUTHORIZED,
        Class::Throttled => StatusCode::TOO_MANY_REQUESTS,
        Class::Forbidden => StatusCode::FORBIDDEN,
        Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Class::Off => StatusCode::NOT_FOUND,
    }
}

/// The person's message for a refused login.
pub(super) fn refusal_message(say: Say, lang: Lang) -> &'static str {
    match say {
        Say::Password(f) => failure_message(f, lang.t()),
        Say::Key(e) => lang.keys().error(e),
        Say::KeyScriptMissing => lang.keys().js_missing,
        Say::Card(r) => card_refusal(lang.t(), r),
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

/// POST /login: `flow`, `csrf`, `username`, `password`.
pub async fn login_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<LoginForm>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    let mut form = form.into_inner();
    let p = pending(&req, &state, form.get("flow").unwrap_or_default()).await?;
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let password = form.remove("password").map(SecretString::from);
    match login::with_password(&state.authn(), &username, password, &ctx).await {
        LoginOutcome::SignedIn(proof) => sign_in(&req, &state, current.0, proof, p.flow).await,
        LoginOutcome::ChangePassword { dn, reason } => {
            let login = normalize_login(&username).to_lowercase();
            let ticket =
                login::directory::open_change(&state.authn(), &p.flow.id, &login, &dn, reason)
                    .await
                    .context("cannot open a password change")?;
            Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/password/change?ticket={ticket}")))
                .finish())
        }
        LoginOutcome::Refused(refused) => {
            state.metrics.login(refused.method.as_str(), "failure");
            let lang = p.lang(&req, None);
            let (csrf, _) = cookies::csrf(&req);
            let page =
                LoginPage::build(&req, &state, p, lang, current.0.as_ref(), None, csrf).await;
            let page = LoginPage {
                username,
                ..page.failed(refusal_message(refused.say, lang))
            };
            Ok(render_with(
                HttpResponse::build(refusal_status(refused.class())),
                &page,
            ))
        }
    }
}

/// Goes back to the authorization request after a login recorded elsewhere (e-CPS), setting
/// a new session's cookie on that answer.
pub(super) async fn after_login(
    req: &HttpRequest,
    state: &AppState,
    recorded: anyhow::Result<session::LoggedIn>,
    mut flow: FlowRecord,
) -> HttpResponse {
    match recorded {
        Ok(done) => {
            flow.login_session = Some(done.session.id.clone());
            let mut resp = continue_after_login(req, state, flow, done.session).await;
            if let Some(token) = done.new_token
                && let Err(e) = resp.add_cookie(&cookies::session(token))
            {
                tracing::error!(error = %e, "cannot set the session cookie");
                return crate::ui::error::server_error(req);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = ?e, "cannot record the login");
            crate::ui::error::server_error(req)
        }
    }
}

/// Records a successful proof in the SSO session (with a key's new state, for a key) and goes
/// on with the authorization request, setting a new session's cookie on that answer.
pub(super) async fn sign_in(
    req: &HttpRequest,
    state: &AppState,
    current: Option<Session>,
    proof: Proof,
    mut flow: FlowRecord,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(req);
    state.metrics.login(proof.factor.method.as_str(), "success");
    let flow_id = Some(flow.id.as_str());
    let (id, factor) = (&proof.identity_id, proof.factor);
    let recorded = match &proof.key {
        None => session::record_login(&state.sessions(), current, id, factor, flow_id, &ctx).await,
        Some(k) => {
            let key = KeyUse {
                key_id: &k.key_id,
                credential: &k.credential,
                counter: k.counter,
            };
            session::record_key_login(&state.sessions(), current, id, factor, &key, flow_id, &ctx)
                .await
        }
    };
    let done = recorded.context("cannot record the login")?;
    flow.login_session = Some(done.session.id.clone());
    // Straight on with the authorization request (code, consent or step-up), the new session
    // cookie set on that answer.
    let mut resp = continue_after_login(req, state, flow, done.session).await;
    if let Some(token) = done.new_token {
        resp.add_cookie(&cookies::session(token))
            .context("cannot set the session cookie")?;
    }
    Ok(resp)
}

/// "Ce n'est pas moi / changer d'utilisateur": ends the session, then back to the login screen.
pub async fn switch_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<SwitchUserForm>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    // The flow goes into a Location header: only an id of the server's own alphabet may.
    let target = match form.get("flow") {
        Some(flow) if flow::valid_id(flow) => format!("/login?flow={flow}"),
        Some(_) => {
            let refusal = AuditEvent::failure("switch_user", "malformed_flow").context(&ctx);
            state.audit.record(refusal).await;
            return Err(PageError::BadRequest(|t| t.err_flow));
        }
        None => "/".to_owned(),
    };
    if let Some(s) = current.0 {
        session::end(&state.sessions(), &s.id, "switch_user", &ctx)
            .await
            .context("switch user failed")?;
    }
    Ok(HttpResponse::SeeOther()
        .cookie(cookies::clear_session())
        .insert_header((LOCATION, target))
        .finish())
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
