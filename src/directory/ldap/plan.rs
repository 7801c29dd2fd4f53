//! Planning a page: each entry compared with its account and identity, linked by the
//! configured key, created, or refused as a conflict; the status changes the directory decides.
//! Nothing is written here.

use std::collections::{HashMap, HashSet};

use super::read::{AccountRoles, Groups, RoleMaps};
use crate::config::{DirectoryKind, LdapSettings, LinkBy};
use crate::directory::Repository;
use crate::identity::Status;
use crate::ldap::DirEntry;
use crate::storage::directory::{self as store, AccountRecord, IdentityKey, NewIdentity};
use crate::storage::to_json_list;

/// Status reasons set by the directory, which the directory may lift again.
pub(super) const DISABLED_REASON: &str = "directory_disabled";
pub(super) const DELETED_REASON: &str = "directory_deleted";

/// Identities indexed by the keys an account can be linked with.
pub(super) struct Index {
    pub(super) by_id: HashMap<String, IdentityKey>,
    pub(super) by_employee: HashMap<String, String>,
    pub(super) by_username: HashMap<String, String>,
    pub(super) by_idnat: HashMap<String, String>,
}

impl Index {
    pub(super) fn new(keys: Vec<IdentityKey>) -> Index {
        let mut ix = Index {
            by_id: HashMap::with_capacity(keys.len()),
            by_employee: HashMap::new(),
            by_username: HashMap::with_capacity(keys.len()),
            by_idnat: HashMap::new(),
        };
        for k in keys {
            if let Some(e) = &k.employee_number {
                ix.by_employee.insert(e.clone(), k.id.clone());
            }
            if let Some(n) = &k.idnat {
                ix.by_idnat.insert(n.clone(), k.id.clone());
            }
            ix.by_username
                .insert(k.username.to_lowercase(), k.id.clone());
            ix.by_id.insert(k.id.clone(), k);
        }
        ix
    }

    /// The identity an entry belongs to by the configured key.
    pub(super) fn link(&self, e: &DirEntry, by: LinkBy) -> Option<String> {
        match by {
            LinkBy::EmployeeNumber => e
                .employee_number
                .as_ref()
                .and_then(|n| self.by_employee.get(n)),
            LinkBy::Username => self.by_username.get(&e.username),
            LinkBy::Idnat => e.idnat.as_ref().and_then(|n| self.by_idnat.get(n)),
        }
        .cloned()
    }
}

/// What a page of entries changes, computed in memory then written in one transaction.
#[derive(Default)]
pub(super) struct Plan {
    /// The time of the page: every row it writes carries it.
    pub(super) now: i64,
    pub(super) new_identities: Vec<NewIdentity>,
    pub(super) new_accounts: Vec<AccountRecord>,
    pub(super) updates: Vec<AccountRecord>,
    pub(super) names: Vec<(String, String, String, Option<String>)>,
    pub(super) touched: Vec<String>,
    /// Identities to withdraw after the commit (id, reason).
    pub(super) withdraw: Vec<(String, &'static str)>,
    /// Identities the directory enables again.
    pub(super) reenable: Vec<String>,
    pub(super) conflicts: Vec<String>,
    /// Identities whose establishment FINESS the directory gives (id, FINESS).
    pub(super) establishments: Vec<(String, String)>,
}

/// What a run accumulates across its pages.
pub(super) struct Tally {
    pub(super) groups: Groups,
    pub(super) seen: HashSet<String>,
    pub(super) counts: Counts,
    pub(super) max_stamp: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) seen: i64,
    pub(super) created: i64,
    pub(super) linked: i64,
    pub(super) updated: i64,
    pub(super) unchanged: i64,
    pub(super) disabled: i64,
    pub(super) enabled: i64,
    pub(super) deleted: i64,
    pub(super) conflicts: i64,
}

/// Compares a page with the repository: what it changes, counted in the tally.
pub(super) async fn plan(
    state: &Repository<'_>,
    s: &LdapSettings,
    roles_map: &RoleMaps,
    tally: &mut Tally,
    entries: &[DirEntry],
) -> anyhow::Result<Plan> {
    let Tally {
        groups,
        seen,
        counts,
        max_stamp,
    } = tally;
    let now = state.clock.now();
    let pool = state.db.pool();
    let backend = state.db.backend();
    let ids: Vec<&str> = entries.iter().map(|e| e.unique_id.as_str()).collect();
    let accounts: HashMap<String, AccountRecord> = store::by_unique_ids(pool, backend, &ids)
        .await?
        .into_iter()
        .map(|a| (a.unique_id.clone(), a))
        .collect();
    let mut index = Index::new(
        page_keys(
            pool,
            backend,
            &accounts
                .values()
                .map(|a| a.identity_id.as_str())
                .collect::<Vec<_>>(),
            &entries
                .iter()
                .filter(|e| !accounts.contains_key(&e.unique_id))
                .collect::<Vec<_>>(),
        )
        .await?,
    );
    let mut plan = Plan {
        now,
        ..Plan::default()
    };
    for e in entries {
        if !seen.insert(e.unique_id.clone()) {
            continue;
        }
        counts.seen += 1;
        if s.kind == DirectoryKind::Openldap
            && let Some(m) = &e.change_marker
            && max_stamp.as_ref().is_none_or(|x| m > x)
        {
            *max_stamp = Some(m.clone());
        }
        let roles = groups.account_roles(&e.member_of, roles_map);
        let fingerprint = e.fingerprint(&roles.fingerprinted());
        let enabled = i64::from(!e.disabled());
        match accounts.get(&e.unique_id) {
            Some(a) if a.fingerprint == fingerprint && a.deleted == 0 => {
                counts.unchanged += 1;
                plan.touched.push(a.unique_id.clone());
            }
            Some(a) => {
                counts.updated += 1;
                let mut r = record(e, &a.identity_id, &roles, fingerprint, now);
                r.created_at = a.created_at;
                if let Some(i) = index.by_id.get(&a.identity_id) {
                    let given = e.given_name.clone().unwrap_or_else(|| i.given_name.clone());
                    let family = e
                        .family_name
                        .clone()
                        .unwrap_or_else(|| i.family_name.clone());
                    let email = e.email.clone().or_else(|| i.email.clone());
                    if given != i.given_name || family != i.family_name || email != i.email {
                        plan.names
                            .push((a.identity_id.clone(), given, family, email));
                    }
                    transitions(i, enabled == 1, a.deleted == 1, &mut plan, counts);
                }
                if let Some(f) = &e.establishment {
                    plan.establishments.push((a.identity_id.clone(), f.clone()));
                }
                plan.updates.push(r);
            }
            None => {
                let identity_id = match index.link(e, s.link_by) {
                    Some(id) => {
                        counts.linked += 1;
                        if let Some(i) = index.by_id.get(&id) {
                            transitions(i, enabled == 1, false, &mut plan, counts);
                        }
                        id
                    }
                    None if !s.create_identities => {
                        counts.conflicts += 1;
                        plan.conflicts
                            .push(format!("{}: no identity to link to", e.username));
                        continue;
                    }
                    None if index.by_username.contains_key(&e.username) => {
                        // Same login name as an identity the link key did not match: never
                        // merge two people silently.
                        counts.conflicts += 1;
                        plan.conflicts.push(format!(
                            "{}: an identity already has this username but another {}",
                            e.username,
                            link_key_name(s.link_by)
                        ));
                        continue;
                    }
                    None => {
                        counts.created += 1;
                        let n = new_identity(e, enabled == 1);
                        let key = IdentityKey {
                            id: n.id.clone(),
                            username: n.username.clone(),
                            employee_number: n.employee_number.clone(),
                            status: n.status.to_owned(),
                            status_reason: n.status_reason.map(str::to_owned),
                            given_name: n.given_name.clone(),
                            family_name: n.family_name.clone(),
                            email: n.email.clone(),
                            idnat: None,
                        };
                        index.by_username.insert(n.username.clone(), n.id.clone());
                        if let Some(emp) = &n.employee_number {
                            index.by_employee.insert(emp.clone(), n.id.clone());
                        }
                        index.by_id.insert(n.id.clone(), key);
                        let id = n.id.clone();
                        plan.new_identities.push(n);
                        id
                    }
                };
                if let Some(f) = &e.establishment {
                    plan.establishments.push((identity_id.clone(), f.clone()));
                }
                plan.new_accounts
                    .push(record(e, &identity_id, &roles, fingerprint, now));
            }
        }
    }
    Ok(plan)
}

/// The identities a page may touch: those of its known accounts, and those its new accounts
/// could link to.
pub(super) async fn page_keys(
    pool: &sqlx::AnyPool,
    backend: crate::storage::Backend,
    identity_ids: &[&str],
    new: &[&DirEntry],
) -> Result<Vec<IdentityKey>, sqlx::Error> {
    let employees: Vec<&str> = new
        .iter()
        .filter_map(|e| e.employee_number.as_deref())
        .collect();
    let usernames: Vec<&str> = new.iter().map(|e| e.username.as_str()).collect();
    let idnats: Vec<&str> = new.iter().filter_map(|e| e.idnat.as_deref()).collect();
    store::identity_keys_by(pool, backend, identity_ids, &employees, &usernames, &idnats).await
}

fn link_key_name(by: LinkBy) -> &'static str {
    match by {
        LinkBy::EmployeeNumber => "employee number",
        LinkBy::Username => "username",
        LinkBy::Idnat => "IdNat",
    }
}

/// Identity status changes the directory decides: disabled there → suspended here (sessions
/// and tokens revoked); enabled again → active again, only when the directory had suspended it.
fn transitions(
    i: &IdentityKey,
    enabled: bool,
    was_deleted: bool,
    plan: &mut Plan,
    counts: &mut Counts,
) {
    let by_directory = matches!(
        i.status_reason.as_deref(),
        Some(DISABLED_REASON | DELETED_REASON)
    );
    if !enabled && i.status == Status::Active {
        counts.disabled += 1;
        plan.withdraw.push((i.id.clone(), DISABLED_REASON));
    } else if enabled && i.status == Status::Suspended && (by_directory || was_deleted) {
        counts.enabled += 1;
        plan.reenable.push(i.id.clone());
    }
}

pub(super) fn record(
    e: &DirEntry,
    identity_id: &str,
    roles: &AccountRoles,
    fingerprint: String,
    now: i64,
) -> AccountRecord {
    AccountRecord {
        unique_id: e.unique_id.clone(),
        identity_id: identity_id.to_owned(),
        dn: e.dn.clone(),
        username: e.username.clone(),
        upn: e.upn.clone(),
        enabled: i64::from(!e.disabled()),
        deleted: 0,
        group_dns: to_json_list(&e.member_of),
        roles: to_json_list(&roles.claims),
        admin_roles: to_json_list(&roles.admin),
        fingerprint,
        seen_at: now,
        created_at: now,
        updated_at: now,
    }
}

pub(super) fn new_identity(e: &DirEntry, enabled: bool) -> NewIdentity {
    NewIdentity {
        id: uuid::Uuid::now_v7().to_string(),
        username: e.username.clone(),
        given_name: e.given_name.clone().unwrap_or_default(),
        family_name: e.family_name.clone().unwrap_or_else(|| e.username.clone()),
        email: e.email.clone(),
        employee_number: e.employee_number.clone(),
        status: if enabled {
            Status::Active
        } else {
            Status::Suspended
        },
        status_reason: (!enabled).then_some(DISABLED_REASON),
    }
}
