//! Directory (AD/LDAP) password login: throttling that stops before the directory's own
//! lockout, precise refusals, provisioning at first login, and the change of an expired
//! password in the same authorization flow.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

use super::context::context_of;
use super::cookies;
use super::error::{page, server_error};
use super::i18n::Lang;
use super::login::{Checked, Failure, logged_in, pending};
use super::page::{Chrome, render_with};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Method;
use crate::authn::ldap::{DirError, Directory, Refusal};
use crate::authn::throttle::{self, Blocked};
use crate::config::{BindMode, ThrottleSettings};
use crate::directory::ldap::provision;
use crate::identity::Status;
use crate::oidc::end_session::origin;
use crate::oidc::params::Params;
use crate::session;
use crate::state::AppState;
use crate::storage::directory::{self, AccountRecord, PasswordChange};
use crate::storage::identities;

/// How long the change-password page of one login stays usable.
const CHANGE_TTL_SECS: i64 = 600;

/// Throttling of directory accounts: never more failures than the directory tolerates, locks
/// at least as long as its observation window.
fn throttle_settings(state: &AppState) -> ThrottleSettings {
    let t = &state.settings.throttle;
    let l = &state.settings.ldap;
    ThrottleSettings {
        account_max_failures: t.account_max_failures.min(l.max_failures),
        account_lock_secs: t.account_lock_secs.max(l.lockout_window_secs),
        account_max_lock_secs: t.account_max_lock_secs.max(l.lockout_window_secs),
        ..t.clone()
    }
}

fn throttle_key(account: Option<&AccountRecord>, login: &str) -> String {
    match account {
        Some(a) => a.identity_id.clone(),
        None => format!("ldap:{login}"),
    }
}

fn audit_failure(
    reason: &str,
    ctx: &RequestContext,
    login: &str,
    subject: Option<&str>,
    detail: Option<String>,
) -> AuditEvent {
    let mut ev = AuditEvent::failure("login", reason.to_owned())
        .context(ctx)
        .details(json!({ "method": "directory_password", "username": login, "detail": detail }));
    if let Some(s) = subject {
        ev = ev.subject(s);
    }
    ev
}

/// Checks a directory password; audits every outcome.
pub(super) async fn check(
    state: &AppState,
    dir: &Arc<Directory>,
    username: &str,
    login: &str,
    account: Option<AccountRecord>,
    password: Option<SecretString>,
    ctx: &RequestContext,
) -> Result<Checked, Failure> {
    let subject = account.as_ref().map(|a| a.identity_id.clone());
    let fail = |f: Failure, detail: Option<String>| {
        audit_failure(f.reason(), ctx, login, subject.as_deref(), detail)
    };
    let Some(password) = password.filter(|p| !login.is_empty() && !p.expose_secret().is_empty())
    else {
        state.audit.record(fail(Failure::MissingFields, None)).await;
        return Err(Failure::MissingFields);
    };
    let now = state.clock.now();
    let ip = ctx.source_ip.as_deref();
    let ts = throttle_settings(state);
    let key = throttle_key(account.as_ref(), login);
    match throttle::check(&state.db, &ts, now, Some(&key), ip).await {
        Ok(None) => {}
        Ok(Some(Blocked::Account { .. })) => {
            state.audit.record(fail(Failure::Locked, None)).await;
            return Err(Failure::Locked);
        }
        Ok(Some(Blocked::Address { .. })) => {
            state
                .audit
                .record(fail(Failure::AddressBlocked, None))
                .await;
            return Err(Failure::AddressBlocked);
        }
        Err(_) => return Err(Failure::Unavailable),
    }
    let known_dn = match dir.settings().bind {
        BindMode::Direct => account.as_ref().map(|a| a.dn.clone()),
        BindMode::Search => None,
    };
    match dir
        .authenticate(username, &password, known_dn.as_deref(), state.clock.now())
        .await
    {
        Ok(entry) => {
            let identity_id = match provision(state, &entry, ctx).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    state.audit.record(fail(Failure::Conflict, None)).await;
                    return Err(Failure::Conflict);
                }
                Err(e) => {
                    tracing::error!(error = ?e, "cannot provision the directory account");
                    return Err(Failure::Unavailable);
                }
            };
            let identity = identities::by_id(state.db.pool(), &identity_id)
                .await
                .map_err(|_| Failure::Unavailable)?
                .ok_or(Failure::Unavailable)?;
            if identity.status != Status::Active.as_str() {
                state
                    .audit
                    .record(audit_failure(
                        Failure::Disabled.reason(),
                        ctx,
                        login,
                        Some(&identity_id),
                        identity.status_reason.clone(),
                    ))
                    .await;
                return Err(Failure::Disabled);
            }
            throttle::success(&state.db, &key, ip)
                .await
                .map_err(|_| Failure::Unavailable)?;
            if key != identity_id {
                let _ = throttle::success(&state.db, &identity_id, ip).await;
            }
            Ok(Checked::Identity(identity_id, Method::DirectoryPassword))
        }
        Err(DirError::Refused(r)) if r.is_guess() => {
            let locked = throttle::failure(&state.db, &ts, now, Some(&key), ip)
                .await
                .map_err(|_| Failure::Unavailable)?;
            state
                .audit
                .record(fail(Failure::Credentials(r.reason()), None))
                .await;
            if let Some(until) = locked {
                state
                    .audit
                    .record(
                        AuditEvent::failure("account_locked", "too_many_failures")
                            .subject(subject.clone().unwrap_or_else(|| key.clone()))
                            .context(ctx)
                            .details(json!({ "until": until, "directory": true })),
                    )
                    .await;
            }
            Err(Failure::Credentials(r.reason()))
        }
        Err(DirError::Refused(r)) if r.needs_new_password() => {
            state.audit.record(fail(Failure::Directory(r), None)).await;
            // The directory confirmed the password, which has to change: find the entry to
            // change it on (the bind alone does not say the DN).
            let dn = match &account {
                Some(a) => Some(a.dn.clone()),
                None if !dir.settings().service_dn.is_empty() => {
                    dir.find_user(username).await.ok().flatten().map(|e| e.dn)
                }
                None => None,
            };
            let Some(dn) = dn else {
                return Err(Failure::Directory(r));
            };
            Ok(Checked::ChangePassword(dn, r.reason()))
        }
        Err(DirError::Refused(r)) => {
            state.audit.record(fail(Failure::Directory(r), None)).await;
            Err(Failure::Directory(r))
        }
        Err(DirError::Ambiguous) => {
            state
                .audit
                .record(audit_failure(
                    "directory_ambiguous_login",
                    ctx,
                    login,
                    None,
                    None,
                ))
                .await;
            Err(Failure::Conflict)
        }
        Err(e) => {
            tracing::warn!(error = %e, "directory login failed: directory out of order");
            state
                .audit
                .record(audit_failure(
                    e.reason(),
                    ctx,
                    login,
                    subject.as_deref(),
                    Some(e.to_string()),
                ))
                .await;
            Err(Failure::DirectoryUnavailable)
        }
    }
}

/// Opens the change-password step for a flow; returns the ticket.
pub(super) async fn open_change(
    state: &AppState,
    flow_id: &str,
    login: &str,
    dn: &str,
    reason: &str,
) -> Result<String, sqlx::Error> {
    let id = crate::crypto::random_token(24);
    directory::insert_change(
        state.db.pool(),
        &PasswordChange {
            id: id.clone(),
            flow_id: flow_id.to_owned(),
            login: login.to_owned(),
            dn: dn.to_owned(),
            reason: reason.to_owned(),
            expires_at: state.clock.now() + CHANGE_TTL_SECS,
        },
    )
    .await?;
    Ok(id)
}

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

fn intro(t: &'static super::i18n::Texts, reason: &str) -> &'static str {
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
    let ts = throttle_settings(&state);
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
                Failure::Directory(match e {
                    DirError::Refused(r) => r,
                    _ => Refusal::WrongPassword,
                })
                .message(t)
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
    let session = session::from_cookie(&state, cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    match check(&state, &dir, &c.login, &c.login, account, Some(new), &ctx).await {
        Ok(Checked::Identity(id, method)) => {
            state.metrics.login(method.as_str(), "success");
            logged_in(&req, &state, session, &id, method, p.flow.clone(), &ctx).await
        }
        Ok(Checked::ChangePassword(..)) => render_error(StatusCode::BAD_REQUEST, t.pw_change_must),
        Err(f) => render_error(f.status(), f.message(t)),
    }
}
