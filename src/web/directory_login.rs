//! Directory (AD/LDAP) password login: throttling that stops before the directory's own
//! lockout, precise refusals, provisioning at first login, and the change of an expired
//! password in the same authorization flow.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use secrecy::SecretString;
use serde_json::json;

use super::login::{Pending, failure_message, pending, refusal_message, refusal_status, sign_in};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::login::directory::{check, throttle_key, throttle_settings};
use crate::authn::login::{Failure, LoginOutcome};
use crate::authn::throttle::{self};
use crate::ldap::{DirError, LdapClient, Refusal};
use crate::oidc::params::Params;
use crate::state::AppState;
use crate::storage::directory::{self, PasswordChange};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, CurrentSession, PasswordChangeForm};
use crate::ui::i18n::{Lang, Texts};
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "login/change_password.html")]
struct ChangePage {
    chrome: Chrome,
    ticket: String,
    csrf: String,
    username: String,
    intro: &'static str,
    error: Option<&'static str>,
    client_name: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ChangeQuery {
    ticket: String,
}

/// The live change ticket `id` and its authorization request, or the error page to show.
async fn ticket(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
) -> Result<(PasswordChange, Pending), PageError> {
    let change = directory::change(state.db.pool(), id)
        .await
        .ok()
        .flatten()
        .filter(|c| c.expires_at > state.clock.now())
        .ok_or(PageError::BadRequest(|t| t.err_pw_ticket))?;
    let p = pending(req, state, &change.flow_id).await?;
    Ok((change, p))
}

pub async fn change_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ChangeQuery>,
) -> Result<HttpResponse, PageError> {
    let (c, p) = ticket(&req, &state, &q.ticket).await?;
    let lang = p.lang(&req, None);
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(cookie) = csrf_cookie {
        b.cookie(cookie);
    }
    let page = ChangePage {
        chrome: Chrome::new(&req, lang),
        ticket: c.id,
        csrf,
        username: c.login,
        intro: intro(lang.t(), &c.reason),
        error: None,
        client_name: p.client_name,
    };
    Ok(render_with(b, &page))
}

fn intro(t: &'static Texts, reason: &str) -> &'static str {
    if reason == Refusal::PasswordExpired.reason() {
        t.pw_change_expired
    } else {
        t.pw_change_must
    }
}

/// The change page again, with why the change did not happen.
struct Shown<'a> {
    req: &'a HttpRequest,
    lang: Lang,
    change: &'a PasswordChange,
    client_name: Option<String>,
}

impl Shown<'_> {
    fn error(&self, status: StatusCode, error: &'static str) -> HttpResponse {
        let (csrf, _) = cookies::csrf(self.req);
        let mut chrome = Chrome::new(self.req, self.lang);
        chrome.switch_href.clear();
        let page = ChangePage {
            chrome,
            ticket: self.change.id.clone(),
            csrf,
            username: self.change.login.clone(),
            intro: intro(self.lang.t(), &self.change.reason),
            error: Some(error),
            client_name: self.client_name.clone(),
        };
        render_with(HttpResponse::build(status), &page)
    }
}

/// The three fields of the change form, or the message saying which is wrong.
fn fields(
    form: &mut Params,
    t: &'static Texts,
) -> Result<(SecretString, SecretString), &'static str> {
    let current = form.remove("current").unwrap_or_default();
    let new = form.remove("new").unwrap_or_default();
    let confirm = form.remove("confirm").unwrap_or_default();
    if current.is_empty() || new.is_empty() {
        return Err(t.err_missing_fields);
    }
    if new != confirm {
        return Err(t.err_pw_mismatch);
    }
    if new == current {
        return Err(t.err_pw_same);
    }
    Ok((SecretString::from(current), SecretString::from(new)))
}

/// POST /password/change: `csrf`, `ticket`, `current`, `new`, `confirm`. The new password
/// then signs the person in.
pub async fn change_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<PasswordChangeForm>,
    session: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    let mut form = form.into_inner();
    let (c, p) = ticket(&req, &state, form.get("ticket").unwrap_or_default()).await?;
    let Some(dir) = state.directory.clone() else {
        return Err(PageError::BadRequest(|t| t.err_pw_ticket));
    };
    let lang = p.lang(&req, None);
    let shown = Shown {
        req: &req,
        lang,
        change: &c,
        client_name: p.client_name.clone(),
    };
    let (current, new) = match fields(&mut form, lang.t()) {
        Ok(f) => f,
        Err(message) => return Ok(shown.error(StatusCode::BAD_REQUEST, message)),
    };
    let account = directory::by_login(state.db.pool(), &c.login)
        .await
        .ok()
        .flatten();
    let key = throttle_key(account.as_ref(), &c.login);
    let change = Change {
        state: &state,
        ctx: &ctx,
        change: &c,
        key: &key,
        t: lang.t(),
    };
    if let Err((status, message)) = change.at_directory(&dir, &current, &new).await? {
        return Ok(shown.error(status, message));
    }
    match change.sign_in_with(&dir, account, new).await {
        LoginOutcome::SignedIn(proof) => sign_in(&req, &state, session.0, proof, p.flow).await,
        LoginOutcome::ChangePassword { .. } => {
            Ok(shown.error(StatusCode::BAD_REQUEST, lang.t().pw_change_must))
        }
        LoginOutcome::Refused(r) => {
            let message = refusal_message(r.say, lang);
            Ok(shown.error(refusal_status(r.class()), message))
        }
    }
}

/// A password change at the directory, throttled like a login and audited.
struct Change<'a> {
    state: &'a AppState,
    ctx: &'a RequestContext,
    change: &'a PasswordChange,
    key: &'a str,
    t: &'static Texts,
}

/// A change that did not happen: the status and what the page says.
type NotChanged = (StatusCode, &'static str);

impl Change<'_> {
    fn audit(&self, ev: AuditEvent) -> AuditEvent {
        let c = self.change;
        ev.context(self.ctx)
            .details(json!({ "method": "directory_password", "username": c.login, "dn": c.dn }))
    }

    /// Signs in with the new password, as a directory login would.
    async fn sign_in_with(
        &self,
        dir: &std::sync::Arc<LdapClient>,
        account: Option<directory::AccountRecord>,
        new: SecretString,
    ) -> LoginOutcome {
        let login = &self.change.login;
        let authn = self.state.authn();
        let checked = check(&authn, dir, login, login, account, Some(new), self.ctx).await;
        LoginOutcome::of_password(checked)
    }

    /// Changes the password; `Ok(Err(..))` when the throttle or the directory refused it.
    async fn at_directory(
        &self,
        dir: &LdapClient,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Result<(), NotChanged>, PageError> {
        let (state, c) = (self.state, self.change);
        let now = state.clock.now();
        let ts = throttle_settings(&state.authn());
        let ip = self.ctx.source_ip.as_deref();
        let blocked = throttle::check(&state.db, &ts, now, Some(self.key), ip)
            .await
            .context("cannot read the throttle")?;
        if blocked.is_some() {
            return Ok(Err((StatusCode::TOO_MANY_REQUESTS, self.t.err_locked)));
        }
        let e = match dir.change_password(&c.dn, current, new).await {
            Ok(()) => {
                let _ = directory::delete_change(state.db.pool(), &c.id).await;
                let ev = self.audit(AuditEvent::success("password_change"));
                state.audit.record(ev).await;
                return Ok(Ok(()));
            }
            Err(e) => e,
        };
        let guess = match &e {
            DirError::PasswordRejected(_) => true,
            DirError::Refused(r) => r.is_guess(),
            _ => false,
        };
        if guess {
            let _ = throttle::failure(&state.db, &ts, now, Some(self.key), ip).await;
        }
        let (ev, not_changed) = self.refusal(e);
        state.audit.record(ev).await;
        Ok(Err(not_changed))
    }

    /// The audit event and the answer of a refused change.
    fn refusal(&self, e: DirError) -> (AuditEvent, NotChanged) {
        let (c, t) = (self.change, self.t);
        match e {
            DirError::PasswordRejected(text) => (
                self.audit(AuditEvent::failure(
                    "password_change",
                    "directory_password_rejected",
                ))
                .details(json!({ "username": c.login, "directory_says": text })),
                (StatusCode::BAD_REQUEST, t.err_pw_rejected),
            ),
            DirError::Refused(r) if r.is_guess() => (
                self.audit(AuditEvent::failure("password_change", r.reason())),
                (StatusCode::UNAUTHORIZED, t.err_pw_rejected),
            ),
            e => {
                let ev = self.audit(AuditEvent::failure("password_change", e.reason()));
                let message = if e.is_outage() {
                    t.err_dir_unavailable
                } else {
                    let r = match e {
                        DirError::Refused(r) => r,
                        _ => Refusal::WrongPassword,
                    };
                    failure_message(Failure::Directory(r), t)
                };
                (ev, (StatusCode::SERVICE_UNAVAILABLE, message))
            }
        }
    }
}
