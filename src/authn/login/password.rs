//! The password login decision: local password (argon2id) or the hospital's directory, with
//! brute-force throttling and an audit event for every outcome. Pages render what it decides.

use secrecy::SecretString;
use serde_json::json;

use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::authn::Method;
use crate::authn::throttle::{self, Blocked};
use crate::identity::Status;
use crate::ldap::{Refusal, normalize_login};
use crate::storage::directory;
use crate::storage::identities::{self, IdentityRecord};

/// Why a password login failed; its reason code is shared with the audit log.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    MissingFields,
    Credentials(&'static str),
    Locked,
    AddressBlocked,
    Disabled,
    /// The identity exists but its HR arrival day has not come yet.
    NotYetArrived,
    Unavailable,
    /// The directory refused the account itself (disabled, locked, expired…).
    Directory(Refusal),
    DirectoryUnavailable,
    /// The directory account cannot be tied to an identity without merging two people.
    Conflict,
}

impl Failure {
    /// The stable reason code of the refusal (audit log, metrics).
    pub fn reason(self) -> &'static str {
        match self {
            Failure::MissingFields => "missing_fields",
            Failure::Credentials(r) => r,
            Failure::Locked => "account_locked",
            Failure::AddressBlocked => "address_throttled",
            Failure::Disabled => "account_disabled",
            Failure::NotYetArrived => "account_pending",
            Failure::Unavailable => "storage_unavailable",
            Failure::Directory(r) => r.reason(),
            Failure::DirectoryUnavailable => "directory_unavailable",
            Failure::Conflict => "directory_link_conflict",
        }
    }
}

/// A password accepted: by whom and how, or a directory password to change first.
pub enum Checked {
    Identity(String, Method),
    /// The directory entry's DN and the audit reason (expired / must change).
    ChangePassword(String, &'static str),
}

/// Local password or directory: a synchronised directory account, or a login with no local
/// password while a directory is configured, goes to the directory.
pub async fn check_login(
    state: &Authn<'_>,
    username: &str,
    password: Option<SecretString>,
    ctx: &RequestContext,
) -> Result<Checked, Failure> {
    // One lookup of the local identity and its password serves both decisions.
    let local = identities::with_password(state.db.pool(), username)
        .await
        .map_err(|_| Failure::Unavailable)?;
    if let Some(dir) = &state.directory {
        let login = normalize_login(username).to_lowercase();
        let account = directory::by_login(state.db.pool(), &login)
            .await
            .map_err(|_| Failure::Unavailable)?;
        let has_local_password = matches!(&local, Some((_, Some(_))));
        if account.is_some() || !has_local_password {
            return super::directory::check(state, dir, username, &login, account, password, ctx)
                .await;
        }
    }
    check_password(state, username, local, password, ctx)
        .await
        .map(|id| Checked::Identity(id, Method::Password))
}

/// Checks a local password with throttling; audits every outcome.
async fn check_password(
    state: &Authn<'_>,
    username: &str,
    local: Option<(IdentityRecord, Option<String>)>,
    password: Option<SecretString>,
    ctx: &RequestContext,
) -> Result<String, Failure> {
    let fail = |f: Failure, subject: Option<&str>| {
        let mut ev = AuditEvent::failure("login", f.reason())
            .context(ctx)
            .details(json!({ "method": "password", "username": username }));
        if let Some(s) = subject {
            ev = ev.subject(s);
        }
        ev
    };
    let Some(password) = password.filter(|_| !username.is_empty()) else {
        state.audit.record(fail(Failure::MissingFields, None)).await;
        return Err(Failure::MissingFields);
    };
    let now = state.clock.now();
    let ip = ctx.source_ip.as_deref();
    let (identity, stored) = match local {
        Some((i, hash)) => (Some(i), hash),
        None => (None, None),
    };
    let owned_id = identity.as_ref().map(|i| i.id.clone());
    let id = owned_id.as_deref();
    // Unknown usernames are counted and locked like real accounts, so that a lock does not
    // reveal which usernames exist.
    let throttle_key = owned_id
        .clone()
        .unwrap_or_else(|| format!("unknown:{}", username.to_lowercase()));
    let key = Some(throttle_key.as_str());
    match throttle::check(state.db, &state.settings.throttle, now, key, ip).await {
        Ok(None) => {}
        Ok(Some(Blocked::Account { .. })) => {
            state.audit.record(fail(Failure::Locked, id)).await;
            return Err(Failure::Locked);
        }
        Ok(Some(Blocked::Address { .. })) => {
            state.audit.record(fail(Failure::AddressBlocked, id)).await;
            return Err(Failure::AddressBlocked);
        }
        Err(_) => return Err(Failure::Unavailable),
    }
    let ok = state.hasher.verify(password, stored).await;
    let Some(identity) = identity.filter(|_| ok) else {
        let reason = if id.is_some() {
            "wrong_password"
        } else {
            "unknown_user"
        };
        let locked = throttle::failure(state.db, &state.settings.throttle, now, key, ip)
            .await
            .map_err(|_| Failure::Unavailable)?;
        state
            .audit
            .record(fail(Failure::Credentials(reason), id))
            .await;
        if let (Some(until), Some(id)) = (locked, id) {
            state
                .audit
                .record(
                    AuditEvent::failure("account_locked", "too_many_failures")
                        .subject(id)
                        .context(ctx)
                        .details(json!({ "until": until })),
                )
                .await;
        }
        return Err(Failure::Credentials(reason));
    };
    if !identity.status.is_active() {
        let refusal = if identity.status == Status::Pending {
            Failure::NotYetArrived
        } else {
            Failure::Disabled
        };
        state.audit.record(fail(refusal, Some(&identity.id))).await;
        return Err(refusal);
    }
    // The run of failures ends and the password's last use is recorded with the session.
    Ok(identity.id)
}
