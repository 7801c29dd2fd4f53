//! Directory (AD/LDAP) password login: throttling that stops before the directory's own
//! lockout, precise refusals, provisioning at first login, and the change of an expired
//! password in the same authorization flow.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde_json::json;

use super::login::{failure_message, failure_status, logged_in, pending};
use crate::audit::AuditEvent;
use crate::authn::login::directory::{check, throttle_key, throttle_settings};
use crate::authn::login::{Checked, Failure};
use crate::authn::throttle::{self};
use crate::endpoint::end_session::origin;
use crate::ldap::{DirError, Refusal};
use crate::oidc::params::Params;
use crate::session;
use crate::state::AppState;
use crate::storage::directory::{self, PasswordChange};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, server_error};
use crate::ui::i18n::Lang;
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
) -> Result<(PasswordChange, super::login::Pending), HttpResponse> {
    let change = directory::change(state.db.pool(), id)
        .await
        .ok()
        .flatten()
        .filter(|c| c.expires_at > state.clock.now())
        .ok_or_else(|| page(req, StatusCode::BAD_REQUEST, |t| t.err_pw_ticket))?;
    let p = pending(req, state, &change.flow_id).await?;
    Ok((change, p))
}

pub async fn change_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ChangeQuery>,
) -> HttpResponse {
    let (c, p) = match ticket(&req, &state, &q.ticket).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), None);
    let t = lang.t();
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(cookie) = csrf_cookie {
        b.cookie(cookie);
    }
    render_with(
        b,
        &ChangePage {
            chrome: Chrome::new(&req, lang),
            ticket: c.id,
            csrf,
            username: c.login,
            intro: intro(t, &c.reason),
            error: None,
            client_name: p.client_name,
        },
    )
}

fn intro(t: &'static crate::ui::i18n::Texts, reason: &str) -> &'static str {
    if reason == Refusal::PasswordExpired.reason() {
        t.pw_change_expired
    } else {
        t.pw_change_must
    }
}

pub async fn change_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let Ok(mut form) = Params::parse(&body) else {
        return page(&req, StatusCode::BAD_REQUEST, |t| t.err_csrf);
    };
    if !cookies::csrf_ok(&req, form.get("csrf"), &origin(&state)) {
        state
            .audit
            .record(AuditEvent::failure("password_change", "csrf").context(&ctx))
            .await;
        return page(&req, StatusCode::FORBIDDEN, |t| t.err_csrf);
    }
    let (c, p) = match ticket(&req, &state, form.get("ticket").unwrap_or_default()).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let Some(dir) = state.directory.clone() else {
        return page(&req, StatusCode::BAD_REQUEST, |t| t.err_pw_ticket);
    };
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), None);
    let t = lang.t();
    let current = form.remove("current").unwrap_or_default();
    let new = form.remove("new").unwrap_or_default();
    let confirm = form.remove("confirm").unwrap_or_default();
    let render_error = |status: StatusCode, error: &'static str| {
        let (csrf, _) = cookies::csrf(&req);
        render_with(
            HttpResponse::build(status),
            &ChangePage {
                chrome: Chrome {
                    switch_href: String::new(),
                    ..Chrome::new(&req, lang)
                },
                ticket: c.id.clone(),
                csrf,
                username: c.login.clone(),
                intro: intro(t, &c.reason),
                error: Some(error),
                client_name: p.client_name.clone(),
            },
        )
    };
    if current.is_empty() || new.is_empty() {
        return render_error(StatusCode::BAD_REQUEST, t.err_missing_fields);
    }
    if new != confirm {
        return render_error(StatusCode::BAD_REQUEST, t.err_pw_mismatch);
    }
    if new == current {
        return render_error(StatusCode::BAD_REQUEST, t.err_pw_same);
    }
    let now = state.clock.now();
    let ts = throttle_settings(&state.authn());
    let account = directory::by_login(state.db.pool(), &c.login)
        .await
        .ok()
        .flatten();
    let key = throttle_key(account.as_ref(), &c.login);
    let ip = ctx.source_ip.as_deref();
    match throttle::check(&state.db, &ts, now, Some(&key), ip).await {
        Ok(None) => {}
        Ok(Some(_)) => return render_error(StatusCode::TOO_MANY_REQUESTS, t.err_locked),
        Err(_) => return server_error(&req),
    }
    let current = SecretString::from(current);
    let new = SecretString::from(new);
    let audit = |ev: AuditEvent| {
        ev.context(&ctx)
            .details(json!({ "method": "directory_password", "username": c.login, "dn": c.dn }))
    };
    match dir.change_password(&c.dn, &current, &new).await {
        Ok(()) => {}
        Err(DirError::PasswordRejected(text)) => {
            let _ = throttle::failure(&state.db, &ts, now, Some(&key), ip).await;
            state
                .audit
                .record(
                    audit(AuditEvent::failure(
                        "password_change",
                        "directory_password_rejected",
                    ))
                    .details(json!({ "username": c.login, "directory_says": text })),
                )
                .await;
            return render_error(StatusCode::BAD_REQUEST, t.err_pw_rejected);
        }
        Err(DirError::Refused(r)) if r.is_guess() => {
            let _ = throttle::failure(&state.db, &ts, now, Some(&key), ip).await;
            state
                .audit
                .record(audit(AuditEvent::failure("password_change", r.reason())))
                .await;
            return render_error(StatusCode::UNAUTHORIZED, t.err_pw_rejected);
        }
        Err(e) => {
            state
                .audit
                .record(audit(AuditEvent::failure("password_change", e.reason())))
                .await;
            let msg = if e.is_outage() {
                t.err_dir_unavailable
            } else {
                failure_message(
                    Failure::Directory(match e {
                        DirError::Refused(r) => r,
                        _ => Refusal::WrongPassword,
                    }),
                    t,
                )
            };
            return render_error(StatusCode::SERVICE_UNAVAILABLE, msg);
        }
    }
    let _ = directory::delete_change(state.db.pool(), &c.id).await;
    state
        .audit
        .record(audit(AuditEvent::success("password_change")))
        .await;
    // The new password proves the person: sign in with it.
    let session = session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    match check(
        &state.authn(),
        &dir,
        &c.login,
        &c.login,
        account,
        Some(new),
        &ctx,
    )
    .await
    {
        Ok(Checked::Identity(id, method)) => {
            state.metrics.login(method.as_str(), "success");
            logged_in(&req, &state, session, &id, method, p.flow.clone(), &ctx).await
        }
        Ok(Checked::ChangePassword(..)) => render_error(StatusCode::BAD_REQUEST, t.pw_change_must),
        Err(f) => render_error(failure_status(f), failure_message(f, t)),
    }
}
