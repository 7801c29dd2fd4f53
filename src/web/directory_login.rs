//! Directory (AD/LDAP) password login: throttling that stops before the directory's own
//! lockout, precise refusals, provisioning at first login, and the change of an expired
//! password in the same authorization flow.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

use super::login::{Pending, failure_message, pending, refusal_message, refusal_status, sign_in};
use crate::authn::login::password_change::{ChangeOutcome, NotChanged, change_password};
use crate::authn::login::{Failure, LoginOutcome};
use crate::ldap::Refusal;
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
    let authn = state.authn();
    match change_password(&authn, &dir, &c, &current, new, &ctx).await? {
        ChangeOutcome::NotChanged(why) => {
            let (status, message) = not_changed(why, lang.t());
            Ok(shown.error(status, message))
        }
        ChangeOutcome::Changed(LoginOutcome::SignedIn(proof)) => {
            sign_in(&req, &state, session.0, proof, p.flow).await
        }
        ChangeOutcome::Changed(LoginOutcome::ChangePassword { .. }) => {
            Ok(shown.error(StatusCode::BAD_REQUEST, lang.t().pw_change_must))
        }
        ChangeOutcome::Changed(LoginOutcome::Refused(r)) => {
            let message = refusal_message(r.say, lang);
            Ok(shown.error(refusal_status(r.class()), message))
        }
    }
}

/// The status and the message of a change that did not happen.
fn not_changed(why: NotChanged, t: &'static Texts) -> (StatusCode, &'static str) {
    match why {
        NotChanged::Throttled => (StatusCode::TOO_MANY_REQUESTS, t.err_locked),
        NotChanged::PolicyRejected => (StatusCode::BAD_REQUEST, t.err_pw_rejected),
        NotChanged::WrongCurrent => (StatusCode::UNAUTHORIZED, t.err_pw_rejected),
        NotChanged::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, t.err_dir_unavailable),
        NotChanged::Refused(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            failure_message(Failure::Directory(r), t),
        ),
    }
}
