//! The directory password decision: a bind as the person through the LDAP client, AD's refusal
//! sub-codes turned into reasons, throttling that stops before the directory's own lockout, and
//! the identity provisioned or linked on first login.

use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use super::password::{Attempt, Checked, Failure, login_failure};
use crate::audit::RequestContext;
use crate::authn::Authn;
use crate::authn::Method;
use crate::authn::throttle;
use crate::config::{BindMode, ThrottleSettings};
use crate::directory::ldap::provision;
use crate::identity::Status;
use crate::ldap::{DirEntry, DirError, LdapClient, Refusal};
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
    let refusal = |f: Failure, detail: Option<String>| {
        login_failure(f.reason(), ctx, METHOD, login, subject.as_deref(), detail)
    };
    let Some(password) = password.filter(|p| !login.is_empty() && !p.expose_secret().is_empty())
    else {
        state
            .audit
            .record(refusal(Failure::MissingFields, None))
            .await;
        return Err(Failure::MissingFields);
    };
    let key = throttle_key(account.as_ref(), login);
    let attempt = Attempt::new(state, throttle_settings(state), key, ctx);
    attempt.admit(state, |f| refusal(f, None)).await?;
    let known_dn = match dir.settings().bind {
        BindMode::Direct => account.as_ref().map(|a| a.dn.clone()),
        BindMode::Search => None,
    };
    let bound = dir
        .authenticate(username, &password, known_dn.as_deref(), state.clock.now())
        .await;
    match bound {
        Ok(entry) => accept(state, &attempt, &entry, (login, subject.as_deref()), ctx).await,
        Err(DirError::Refused(r)) if r.is_guess() => {
            let wrong = Failure::Credentials(r.reason());
            let locked = subject.clone().unwrap_or_else(|| attempt.key.clone());
            let event = refusal(wrong, None);
            Err(attempt
                .guessed_wrong(state, wrong, event, Some(&locked), true)
                .await)
        }
        Err(DirError::Refused(r)) => {
            state
                .audit
                .record(refusal(Failure::Directory(r), None))
                .await;
            match r.needs_new_password() {
                true => must_change(dir, username, account.as_ref(), r).await,
                false => Err(Failure::Directory(r)),
            }
        }
        Err(DirError::Ambiguous) => {
            let ev = login_failure("directory_ambiguous_login", ctx, METHOD, login, None, None);
            state.audit.record(ev).await;
            Err(Failure::Conflict)
        }
        Err(e) => {
            tracing::warn!(error = %e, "directory login failed: directory out of order");
            let detail = Some(e.to_string());
            let ev = login_failure(e.reason(), ctx, METHOD, login, subject.as_deref(), detail);
            state.audit.record(ev).await;
            Err(Failure::DirectoryUnavailable)
        }
    }
}

/// The method written in the audit trail.
const METHOD: &str = "directory_password";

/// The directory accepted the password: the identity is provisioned or linked, must be
/// active, and its run of failures ends.
async fn accept(
    state: &Authn<'_>,
    attempt: &Attempt<'_>,
    entry: &DirEntry,
    (login, subject): (&str, Option<&str>),
    ctx: &RequestContext,
) -> Result<Checked, Failure> {
    let identity_id = match provision(&state.repository, entry, ctx).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            let reason = Failure::Conflict.reason();
            let ev = login_failure(reason, ctx, METHOD, login, subject, None);
            state.audit.record(ev).await;
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
        let why = identity.status_reason.clone();
        let reason = Failure::Disabled.reason();
        let ev = login_failure(reason, ctx, METHOD, login, Some(&identity_id), why);
        state.audit.record(ev).await;
        return Err(Failure::Disabled);
    }
    throttle::success(state.db, &attempt.key, attempt.ip)
        .await
        .map_err(|_| Failure::Unavailable)?;
    if attempt.key != identity_id {
        let _ = throttle::success(state.db, &identity_id, attempt.ip).await;
    }
    Ok(Checked::Identity(identity_id, Method::DirectoryPassword))
}

/// The directory confirmed the password, which has to change: find the entry to change it on
/// (the bind alone does not say the DN).
async fn must_change(
    dir: &LdapClient,
    username: &str,
    account: Option<&AccountRecord>,
    r: Refusal,
) -> Result<Checked, Failure> {
    let dn = match account {
        Some(a) => Some(a.dn.clone()),
        None if !dir.settings().service_dn.is_empty() => {
            dir.find_user(username).await.ok().flatten().map(|e| e.dn)
        }
        None => None,
    };
    match dn {
        Some(dn) => Ok(Checked::ChangePassword(dn, r.reason())),
        None => Err(Failure::Directory(r)),
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
