//! The password login decision: local password (argon2id) or the hospital's directory, with
//! brute-force throttling and an audit event for every outcome. Pages render what it decides.

use secrecy::SecretString;
use serde_json::json;

use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::authn::Method;
use crate::authn::throttle::{self, Blocked};
use crate::config::ThrottleSettings;
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
    let refusal = |f: Failure, subject: Option<&str>| {
        login_failure(f.reason(), ctx, "password", username, subject, None)
    };
    let Some(password) = password.filter(|_| !username.is_empty()) else {
        state
            .audit
            .record(refusal(Failure::MissingFields, None))
            .await;
        return Err(Failure::MissingFields);
    };
    let (identity, stored) = local.map_or((None, None), |(i, hash)| (Some(i), hash));
    let id = identity.as_ref().map(|i| i.id.clone());
    // Unknown usernames are counted and locked like real accounts, so that a lock does not
    // reveal which usernames exist.
    let key = id
        .clone()
        .unwrap_or_else(|| format!("unknown:{}", username.to_lowercase()));
    let attempt = Attempt::new(state, state.settings.throttle.clone(), key, ctx);
    attempt.admit(state, |f| refusal(f, id.as_deref())).await?;
    let ok = state.hasher.verify(password, stored).await;
    let Some(identity) = identity.filter(|_| ok) else {
        let reason = if id.is_some() {
            "wrong_password"
        } else {
            "unknown_user"
        };
        let wrong = Failure::Credentials(reason);
        let event = refusal(wrong, id.as_deref());
        return Err(attempt
            .guessed_wrong(state, wrong, event, id.as_deref(), false)
            .await);
    };
    if !identity.status.is_active() {
        let refused = if identity.status == Status::Pending {
            Failure::NotYetArrived
        } else {
            Failure::Disabled
        };
        state
            .audit
            .record(refusal(refused, Some(&identity.id)))
            .await;
        return Err(refused);
    }
    // The run of failures ends and the password's last use is recorded with the session.
    Ok(identity.id)
}

/// A failed login's audit event: its reason, the method (`password`, `directory_password`),
/// the username typed, the identity when known, and a detail when there is one.
pub(super) fn login_failure(
    reason: &str,
    ctx: &RequestContext,
    method: &str,
    username: &str,
    subject: Option<&str>,
    detail: Option<String>,
) -> AuditEvent {
    let mut details = json!({ "method": method, "username": username });
    if let Some(d) = detail {
        details["detail"] = json!(d);
    }
    let ev = AuditEvent::failure("login", reason.to_owned())
        .context(ctx)
        .details(details);
    match subject {
        Some(s) => ev.subject(s),
        None => ev,
    }
}

/// One password attempt under throttling: the counter it is charged to (`key`: the identity,
/// or a name for an unknown one), the source address, the time and the limits.
pub(super) struct Attempt<'c> {
    pub limits: ThrottleSettings,
    pub now: i64,
    pub key: String,
    pub ip: Option<&'c str>,
    ctx: &'c RequestContext,
}

impl<'c> Attempt<'c> {
    pub fn new(
        state: &Authn<'_>,
        limits: ThrottleSettings,
        key: String,
        ctx: &'c RequestContext,
    ) -> Attempt<'c> {
        Attempt {
            limits,
            now: state.clock.now(),
            key,
            ip: ctx.source_ip.as_deref(),
            ctx,
        }
    }

    /// Whether the attempt may go on: a locked account or a throttled address refuses it,
    /// audited with `refusal`'s event.
    pub async fn admit(
        &self,
        state: &Authn<'_>,
        refusal: impl Fn(Failure) -> AuditEvent,
    ) -> Result<(), Failure> {
        let blocked =
            throttle::check(state.db, &self.limits, self.now, Some(&self.key), self.ip).await;
        let failure = match blocked {
            Ok(None) => return Ok(()),
            Ok(Some(Blocked::Account { .. })) => Failure::Locked,
            Ok(Some(Blocked::Address { .. })) => Failure::AddressBlocked,
            Err(_) => return Err(Failure::Unavailable),
        };
        state.audit.record(refusal(failure)).await;
        Err(failure)
    }

    /// Counts a wrong password, audits `event`, and audits the lock it causes on `locked`
    /// (the account, when known). Answers `wrong`, or `Unavailable` when nothing could be
    /// counted.
    pub async fn guessed_wrong(
        &self,
        state: &Authn<'_>,
        wrong: Failure,
        event: AuditEvent,
        locked: Option<&str>,
        directory: bool,
    ) -> Failure {
        let until =
            match throttle::failure(state.db, &self.limits, self.now, Some(&self.key), self.ip)
                .await
            {
                Ok(until) => until,
                Err(_) => return Failure::Unavailable,
            };
        state.audit.record(event).await;
        if let (Some(until), Some(who)) = (until, locked) {
            let mut details = json!({ "until": until });
            if directory {
                details["directory"] = json!(true);
            }
            let ev = AuditEvent::failure("account_locked", "too_many_failures")
                .subject(who)
                .context(self.ctx)
                .details(details);
            state.audit.record(ev).await;
        }
        wrong
    }
}
