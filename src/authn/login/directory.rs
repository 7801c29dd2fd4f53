//! The directory password decision: a bind as the person through the LDAP client, AD's refusal
//! sub-codes turned into reasons, throttling that stops before the directory's own lockout, and
//! the identity provisioned or linked on first login.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

use super::password::{Checked, Failure};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::authn::Method;
use crate::authn::throttle::{self, Blocked};
use crate::config::{BindMode, ThrottleSettings};
use crate::directory::ldap::provision;
use crate::identity::Status;
use crate::ldap::{DirError, LdapClient};
use crate::storage::directory::{self, AccountRecord, PasswordChange};
use crate::storage::identities;

/// Throttling of directory accounts: never more failures than the directory tolerates, locks
/// at least as long as its observation window.
pub fn throttle_settings(state: &Authn<'_>) -> ThrottleSettings {
    let t = &state.settings.throttle;
    let l = &state.settings.ldap;
    ThrottleSettings {
        account_max_failures: t.account_max_failures.min(l.max_failures),
        account_lock_secs: t.account_lock_secs.max(l.lockout_window_secs),
        account_max_lock_secs: t.account_max_lock_secs.max(l.lockout_window_secs),
        ..t.clone()
    }
}

pub fn throttle_key(account: Option<&AccountRecord>, login: &str) -> String {
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
pub async fn check(
    state: &Authn<'_>,
    dir: &Arc<LdapClient>,
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
    match throttle::check(state.db, &ts, now, Some(&key), ip).await {
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
            let identity_id = match provision(&state.repository, &entry, ctx).await {
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
            if identity.status != Status::Active {
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
            throttle::success(state.db, &key, ip)
                .await
                .map_err(|_| Failure::Unavailable)?;
            if key != identity_id {
                let _ = throttle::success(state.db, &identity_id, ip).await;
            }
            Ok(Checked::Identity(identity_id, Method::DirectoryPassword))
        }
        Err(DirError::Refused(r)) if r.is_guess() => {
            let locked = throttle::failure(state.db, &ts, now, Some(&key), ip)
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

/// How long the change-password page of one login stays usable.
const CHANGE_TTL_SECS: i64 = 600;

/// Opens the change-password step for a flow; returns the ticket.
pub async fn open_change(
    state: &Authn<'_>,
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
