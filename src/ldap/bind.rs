//! Binds: the service account, and a user's password bind (search-then-bind or direct) with
//! OpenLDAP's password-policy answers and AD's lockout guard.

use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use std::time::Instant;

use super::error::{self, from_result, transport};
use super::{DirEntry, DirError, LdapClient, Refusal, normalize_login, ppolicy_error, requested};
use crate::clock::UnixTime;
use crate::config::{BindMode, DirectoryKind, LdapSettings};
use crate::instruments::LdapOperation;

impl LdapClient {
    pub(super) async fn bind_service(&self, l: &mut Ldap) -> Result<(), DirError> {
        if self.settings.service_dn.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.service_bind(l).await;
        self.observe(LdapOperation::Bind, started, &result);
        result
    }

    async fn service_bind(&self, l: &mut Ldap) -> Result<(), DirError> {
        let dn = self.settings.service_dn.as_str();
        let pw = self
            .service_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        let r = l
            .with_timeout(self.op_timeout())
            .simple_bind(dn, &pw)
            .await
            .map_err(transport)?;
        if r.rc != 0 {
            return Err(match from_result(&r) {
                DirError::Refused(_) => DirError::ServiceBind(format!(
                    "{dn}: invalid credentials ({})",
                    r.text.trim_end_matches('\0')
                )),
                other => other,
            });
        }
        Ok(())
    }

    /// The DN (or UPN) to bind as with a `direct` bind.
    pub(super) fn direct_bind_name(&self, login: &str) -> String {
        let name = normalize_login(login);
        let value = if self.settings.bind_template.contains('=') {
            ldap3::dn_escape(name.as_str()).into_owned()
        } else {
            name
        };
        self.settings.bind_template.replace("{username}", &value)
    }

    /// Binds as a user. `known_dn` skips the search (an account already synchronised).
    ///
    /// `now` (the injected clock) judges AD's lockout window. On success returns the entry
    /// (read with the service account, or with the user's own rights in `direct` mode without
    /// one).
    pub async fn authenticate(
        &self,
        login: &str,
        password: &SecretString,
        known_dn: Option<&str>,
        now: UnixTime,
    ) -> Result<DirEntry, DirError> {
        if password.expose_secret().is_empty() {
            // An empty password would be an anonymous bind, which "succeeds".
            return Err(DirError::Refused(Refusal::WrongPassword));
        }
        let (bind_name, entry) = match (known_dn, self.settings.bind) {
            (Some(dn), _) => (dn.to_owned(), None),
            (None, BindMode::Search) => {
                let entry = self
                    .find_user(login)
                    .await?
                    .ok_or(DirError::Refused(Refusal::UnknownUser))?;
                if let Some(r) = lockout_guard(&self.settings, &entry, now) {
                    return Err(DirError::Refused(r));
                }
                (entry.dn.clone(), Some(entry))
            }
            (None, BindMode::Direct) => (self.direct_bind_name(login), None),
        };
        let mut l = match Self::take(&self.bind_pool) {
            Some(l) => l,
            None => self.connect().await?,
        };
        let result = self.user_bind(&mut l, &bind_name, password).await;
        match result {
            Ok(()) => {}
            Err(e @ DirError::Refused(_)) => {
                self.give_back(&self.bind_pool, l);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let entry = match entry {
            Some(e) => e,
            None if known_dn.is_some() || !self.settings.service_dn.is_empty() => {
                self.give_back(&self.bind_pool, l);
                match known_dn {
                    Some(dn) => self.read_dn(dn).await?,
                    None => self.find_user(login).await?,
                }
                .ok_or(DirError::Refused(Refusal::UnknownUser))?
            }
            None => {
                // Direct bind without a service account: read the entry as the user.
                let filter = self.login_filter(login);
                let attrs = requested(&self.settings.attributes, self.settings.kind);
                let started = Instant::now();
                let r = l
                    .with_timeout(self.op_timeout())
                    .search(&self.settings.user_base, Scope::Subtree, &filter, attrs)
                    .await
                    .map_err(transport);
                self.observe(LdapOperation::Search, started, &r);
                let r = r?;
                let found =
                    r.0.into_iter()
                        .find_map(|e| {
                            DirEntry::from_search(
                                SearchEntry::construct(e),
                                &self.settings.attributes,
                                self.settings.kind,
                            )
                        })
                        .ok_or(DirError::Refused(Refusal::UnknownUser))?;
                self.give_back(&self.bind_pool, l);
                found
            }
        };
        Ok(entry)
    }

    /// One simple bind, with the password-policy control on OpenLDAP.
    pub(super) async fn user_bind(
        &self,
        l: &mut Ldap,
        name: &str,
        password: &SecretString,
    ) -> Result<(), DirError> {
        let started = Instant::now();
        let result = self.password_bind(l, name, password).await;
        self.observe(LdapOperation::Bind, started, &result);
        result
    }

    async fn password_bind(
        &self,
        l: &mut Ldap,
        name: &str,
        password: &SecretString,
    ) -> Result<(), DirError> {
        let op = l.with_timeout(self.op_timeout());
        if self.settings.kind == DirectoryKind::Openldap {
            op.with_controls(RawControl {
                ctype: error::PPOLICY_OID.to_owned(),
                crit: false,
                val: None,
            });
        }
        let r = op
            .simple_bind(name, password.expose_secret())
            .await
            .map_err(transport)?;
        let policy = r
            .ctrls
            .iter()
            .find(|c| c.1.ctype == error::PPOLICY_OID)
            .and_then(|c| c.1.val.as_deref())
            .and_then(ppolicy_error);
        match (r.rc, policy) {
            (0, None) => Ok(()),
            (0, Some(p)) if p.needs_new_password() => Err(DirError::Refused(p)),
            (0, Some(_)) => Ok(()),
            (49, Some(p)) => Err(DirError::Refused(p)),
            _ => Err(from_result(&r)),
        }
    }
}

/// AD's `badPwdCount` (counted only within the observation window) at the threshold: the
/// account is locked; one below: one more wrong password would lock it, so the bind is not
/// tried. `now` comes from the injected clock.
fn lockout_guard(s: &LdapSettings, e: &DirEntry, now: UnixTime) -> Option<Refusal> {
    let threshold = s.directory_lockout_threshold;
    let count = i64::from(e.bad_pwd_count?);
    if threshold <= 0 || count + 1 < threshold {
        return None;
    }
    // badPasswordTime is a FILETIME: 100 ns units since 1601-01-01.
    let now_ft = (now + 11_644_473_600) * 10_000_000;
    let window = s.lockout_window_secs * 10_000_000;
    if e.bad_password_time.is_some_and(|t| now_ft - t >= window) {
        return None;
    }
    Some(if count >= threshold {
        Refusal::Locked
    } else {
        Refusal::NearLockout
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock};

    /// badPasswordTime as AD writes it: a FILETIME (100 ns units since 1601-01-01).
    fn filetime(unix: UnixTime) -> i64 {
        (unix + 11_644_473_600) * 10_000_000
    }

    #[test]
    fn the_lockout_window_is_judged_on_the_injected_clock() {
        let settings = crate::config::Settings::from_overrides(
            "[ldap]\nservers = [\"ldaps://127.0.0.1:636\"]\nservice_dn = \"cn=svc\"\nuser_base = \"dc=chu,dc=local\"\ndirectory_lockout_threshold = 5\nmax_failures = 3\nlockout_window_secs = 1800",
        )
        .unwrap()
        .ldap;
        let clock = FixedClock::new(1_700_000_000);
        let mut entry = DirEntry {
            bad_pwd_count: Some(4),
            bad_password_time: Some(filetime(clock.now() - 60)),
            ..DirEntry::default()
        };
        assert_eq!(
            lockout_guard(&settings, &entry, clock.now()),
            Some(Refusal::NearLockout)
        );
        entry.bad_pwd_count = Some(5);
        assert_eq!(
            lockout_guard(&settings, &entry, clock.now()),
            Some(Refusal::Locked)
        );
        // AD forgets the bad passwords once the observation window has passed since the last.
        clock.advance(1800 - 61);
        assert_eq!(
            lockout_guard(&settings, &entry, clock.now()),
            Some(Refusal::Locked)
        );
        clock.advance(1);
        assert_eq!(lockout_guard(&settings, &entry, clock.now()), None);
        entry.bad_pwd_count = Some(3);
        entry.bad_password_time = Some(filetime(clock.now()));
        assert_eq!(lockout_guard(&settings, &entry, clock.now()), None);
    }
}
