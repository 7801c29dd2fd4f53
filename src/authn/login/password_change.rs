//! The change of a directory password that expired or must change, apart from its page:
//! throttled like a login (the same account key, the same limits), audited, and then the new
//! password signs the person in as a directory login would.

use anyhow::Context;
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;

use super::directory::{check, throttle_key, throttle_settings};
use super::outcome::LoginOutcome;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::authn::throttle;
use crate::ldap::{DirError, LdapClient, Refusal as DirRefusal};
use crate::storage::directory::{self, PasswordChange};

/// What a change decided.
#[derive(Debug)]
pub enum ChangeOutcome {
    /// The directory took the new password; the login with it decided this.
    Changed(LoginOutcome),
    NotChanged(NotChanged),
}

/// Why the password did not change (each one audited as `password_change` with its reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChanged {
    /// Too many failures for the account or the address: the directory was not asked.
    Throttled,
    /// The directory's password policy refused the new password.
    PolicyRejected,
    /// The current password is wrong (counted as a failure by the throttle).
    WrongCurrent,
    /// The directory is out of order.
    Unavailable,
    /// The directory refused the change for another reason.
    Refused(DirRefusal),
}

/// Changes the password of the ticket's entry, from `current` to `new`, then signs in with it.
/// An error is the throttle that could not be read.
pub async fn change_password(
    state: &Authn<'_>,
    dir: &Arc<LdapClient>,
    change: &PasswordChange,
    current: &SecretString,
    new: SecretString,
    ctx: &RequestContext,
) -> anyhow::Result<ChangeOutcome> {
    let account = directory::by_login(state.db.pool(), &change.login)
        .await
        .ok()
        .flatten();
    let key = throttle_key(account.as_ref(), &change.login);
    let attempt = Attempt {
        state,
        ctx,
        change,
        key: &key,
    };
    if let Err(not_changed) = attempt.at_directory(dir, current, &new).await? {
        return Ok(ChangeOutcome::NotChanged(not_changed));
    }
    let login = &change.login;
    let checked = check(state, dir, login, login, account, Some(new), ctx).await;
    Ok(ChangeOutcome::Changed(LoginOutcome::of_password(checked)))
}

/// One attempt at the directory, with what it is audited and throttled under.
struct Attempt<'a> {
    state: &'a Authn<'a>,
    ctx: &'a RequestContext,
    change: &'a PasswordChange,
    key: &'a str,
}

impl Attempt<'_> {
    fn audit(&self, ev: AuditEvent) -> AuditEvent {
        let c = self.change;
        ev.context(self.ctx)
            .details(json!({ "method": "directory_password", "username": c.login, "dn": c.dn }))
    }

    /// Changes the password; `Ok(Err(..))` when the throttle or the directory refused it.
    async fn at_directory(
        &self,
        dir: &LdapClient,
        current: &SecretString,
        new: &SecretString,
    ) -> anyhow::Result<Result<(), NotChanged>> {
        let (state, c) = (self.state, self.change);
        let now = state.clock.now();
        let ts = throttle_settings(state);
        let ip = self.ctx.source_ip.as_deref();
        let blocked = throttle::check(state.db, &ts, now, Some(self.key), ip)
            .await
            .context("cannot read the throttle")?;
        if blocked.is_some() {
            return Ok(Err(NotChanged::Throttled));
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
            let _ = throttle::failure(state.db, &ts, now, Some(self.key), ip).await;
        }
        let (ev, not_changed) = self.refusal(e);
        state.audit.record(ev).await;
        Ok(Err(not_changed))
    }

    /// The audit event and the answer of a refused change.
    fn refusal(&self, e: DirError) -> (AuditEvent, NotChanged) {
        match e {
            DirError::PasswordRejected(text) => (
                self.audit(AuditEvent::failure(
                    "password_change",
                    "directory_password_rejected",
                ))
                .details(json!({ "username": self.change.login, "directory_says": text })),
                NotChanged::PolicyRejected,
            ),
            DirError::Refused(r) if r.is_guess() => (
                self.audit(AuditEvent::failure("password_change", r.reason())),
                NotChanged::WrongCurrent,
            ),
            e => {
                let ev = self.audit(AuditEvent::failure("password_change", e.reason()));
                let not_changed = if e.is_outage() {
                    NotChanged::Unavailable
                } else {
                    match e {
                        DirError::Refused(r) => NotChanged::Refused(r),
                        _ => NotChanged::Refused(DirRefusal::WrongPassword),
                    }
                };
                (ev, not_changed)
            }
        }
    }
}
