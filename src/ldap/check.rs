//! `trousseau ldap test`: checks the configuration against the live directory, one precise
//! finding per step (connect, TLS, service bind, bases, filters).

use ldap3::{Scope, SearchOptions};
use serde::Serialize;

use super::error::{from_result, transport};
use super::{DirError, LdapClient};

/// One step of the check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn ok(step: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            step: step.into(),
            ok: true,
            detail: detail.into(),
        }
    }
    fn fail(step: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            step: step.into(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Runs every check; `user` also looks one login up.
pub async fn run(d: &LdapClient, user: Option<&str>) -> Vec<Check> {
    let s = d.settings();
    let mut out = Vec::new();
    let mut reachable = None;
    for (i, url) in s.servers.iter().enumerate() {
        let step = format!("connect {url}");
        match d.connect_to(i).await {
            Ok(mut l) => {
                let how = if url.scheme() == "ldaps" {
                    "LDAPS"
                } else if s.starttls {
                    "StartTLS"
                } else {
                    "plain LDAP (unencrypted: use ldaps:// or starttls = true)"
                };
                out.push(Check::ok(step, format!("connected ({how})")));
                if reachable.is_none() {
                    reachable = Some(i);
                }
                let _ = l.unbind().await;
            }
            Err(DirError::Tls(m)) => out.push(Check::fail(
                step,
                format!("TLS failure: {m}; check ldap.ca_file and the server certificate's names"),
            )),
            Err(e) => out.push(Check::fail(step, format!("cannot connect: {e}"))),
        }
    }
    let Some(i) = reachable else {
        out.push(Check::fail(
            "service bind",
            "not tried: no directory server could be reached",
        ));
        return out;
    };
    let mut l = match d.connect_to(i).await {
        Ok(l) => l,
        Err(e) => {
            out.push(Check::fail("service bind", e.to_string()));
            return out;
        }
    };
    if s.service_dn.is_empty() {
        out.push(Check::ok(
            "service bind",
            "no service account configured (direct binds; the sync needs one)",
        ));
    } else {
        match d.bind_service(&mut l).await {
            Ok(()) => out.push(Check::ok(
                "service bind",
                format!("bound as {}", s.service_dn),
            )),
            Err(e) => {
                out.push(Check::fail(
                    "service bind",
                    format!("{e}; check ldap.service_dn and its password"),
                ));
                return out;
            }
        }
    }
    for (step, base, filter) in [
        ("user base", s.user_base.as_str(), s.user_filter.as_str()),
        ("group base", s.group_base.as_str(), s.group_filter.as_str()),
    ] {
        if base.is_empty() {
            if step == "group base" {
                out.push(Check::ok(step, "no group base configured: no roles"));
            }
            continue;
        }
        let base_exists = l
            .with_timeout(d.op_timeout())
            .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await;
        match base_exists {
            Ok(r) if r.1.rc == 0 => out.push(Check::ok(step, format!("{base} exists"))),
            Ok(r) if r.1.rc == 32 => {
                out.push(Check::fail(step, format!("{base} does not exist")));
                continue;
            }
            Ok(r) => {
                out.push(Check::fail(step, from_result(&r.1).to_string()));
                continue;
            }
            Err(e) => {
                out.push(Check::fail(step, transport(e).to_string()));
                continue;
            }
        }
        let what = if step == "user base" {
            "user filter"
        } else {
            "group filter"
        };
        let found = l
            .with_search_options(SearchOptions::new().sizelimit(1))
            .with_timeout(d.op_timeout())
            .search(base, Scope::Subtree, filter, vec!["1.1"])
            .await;
        match found {
            Ok(r) if !r.0.is_empty() => {
                out.push(Check::ok(what, format!("{filter} matches entries")))
            }
            Ok(r) if r.1.rc == 0 || r.1.rc == 4 => out.push(Check::fail(
                what,
                format!("{filter} matches nothing under {base}"),
            )),
            Ok(r) => out.push(Check::fail(
                what,
                format!("{filter}: {}", from_result(&r.1)),
            )),
            Err(e) => out.push(Check::fail(what, transport(e).to_string())),
        }
    }
    let _ = l.unbind().await;
    if let Some(u) = user {
        match d.find_user(u).await {
            Ok(Some(e)) => out.push(Check::ok(
                format!("user {u}"),
                format!(
                    "{} (unique id {}, {} groups{})",
                    e.dn,
                    e.unique_id,
                    e.member_of.len(),
                    if e.disabled() { ", disabled" } else { "" }
                ),
            )),
            Ok(None) => out.push(Check::fail(
                format!("user {u}"),
                "no entry matches this login with the user filter",
            )),
            Err(e) => out.push(Check::fail(format!("user {u}"), e.to_string())),
        }
    }
    out
}
