//! Directory (AD/LDAP) synchronisation into the identity repository: paged reads of users and
//! groups, nested groups resolved in memory, accounts linked to identities without
//! duplicates, disabled or deleted accounts withdrawn, incremental runs after the first full
//! one (uSNChanged on AD, modifyTimestamp on OpenLDAP). Also the provisioning of one account
//! at its first login.

use anyhow::Context;
use ldap3::controls::RawControl;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::admin::users::withdraw;
use crate::app::AppState;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::ldap::{DirEntry, Directory, requested};
use crate::config::{DirectoryKind, LdapSettings, LinkBy};
use crate::identity::Status;
use crate::storage::directory::{self as store, AccountRecord, IdentityKey, NewIdentity, SyncRun};
use crate::storage::{identities, to_json_list};

/// The actor name of changes made by the sync.
pub const ACTOR: &str = "ldap-sync";
/// Job name (lease) of the scheduled sync.
pub const JOB: &str = "ldap_sync";
/// Status reasons set by the directory, which the directory may lift again.
const DISABLED_REASON: &str = "directory_disabled";
const DELETED_REASON: &str = "directory_deleted";
/// Above this many changed groups an incremental run reads every user instead.
const MAX_GROUP_FILTER: usize = 200;
/// AD's "show deleted objects" control.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Read every user (and find deletions) even when an incremental run is possible.
    pub full: bool,
    /// Apply deletions even above the safety threshold.
    pub allow_mass_delete: bool,
}

/// Groups of the directory, nesting resolved on demand.
#[derive(Debug, Default)]
struct Groups {
    cn: HashMap<String, String>,
    parents: HashMap<String, Vec<String>>,
    children: HashMap<String, Vec<String>>,
    /// Groups changed since the marker (incremental runs).
    changed: Vec<String>,
    closure: HashMap<String, Arc<Vec<String>>>,
}

impl Groups {
    /// Every group `dn` belongs to, directly or through nesting (cycle-safe).
    fn ancestors(&mut self, dn: &str) -> Arc<Vec<String>> {
        if let Some(c) = self.closure.get(dn) {
            return c.clone();
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = self.parents.get(dn).cloned().unwrap_or_default();
        while let Some(g) = stack.pop() {
            if g != dn
                && seen.insert(g.clone())
                && let Some(p) = self.parents.get(&g)
            {
                stack.extend(p.iter().cloned());
            }
        }
        let mut v: Vec<String> = seen.into_iter().collect();
        v.sort();
        let v = Arc::new(v);
        self.closure.insert(dn.to_owned(), v.clone());
        v
    }

    /// The groups below `dn` (nested members), `dn` included.
    fn descendants(&self, dn: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        let mut stack = vec![dn.to_owned()];
        while let Some(g) = stack.pop() {
            if out.insert(g.clone())
                && let Some(c) = self.children.get(&g)
            {
                stack.extend(c.iter().cloned());
            }
        }
        out
    }

    /// Roles of a user whose direct groups are `direct`.
    fn roles(&mut self, direct: &[String], map: &HashMap<String, String>) -> Vec<String> {
        if map.is_empty() {
            return Vec::new();
        }
        let mut all: Vec<String> = direct.to_vec();
        for g in direct {
            all.extend(self.ancestors(g).iter().cloned());
        }
        let mut roles: Vec<String> = all
            .iter()
            .filter_map(|g| {
                map.get(g)
                    .or_else(|| self.cn.get(g).and_then(|cn| map.get(&cn.to_lowercase())))
            })
            .cloned()
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// The role map with lower-cased keys.
fn role_map(s: &LdapSettings) -> HashMap<String, String> {
    s.roles
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect()
}

/// Identities indexed by the keys an account can be linked with.
struct Index {
    by_id: HashMap<String, IdentityKey>,
    by_employee: HashMap<String, String>,
    by_username: HashMap<String, String>,
    by_idnat: HashMap<String, String>,
}

impl Index {
    fn new(keys: Vec<IdentityKey>) -> Index {
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
    fn link(&self, e: &DirEntry, by: LinkBy) -> Option<String> {
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
struct Plan {
    new_identities: Vec<NewIdentity>,
    new_accounts: Vec<AccountRecord>,
    updates: Vec<AccountRecord>,
    names: Vec<(String, String, String, Option<String>)>,
    touched: Vec<String>,
    /// Identities to withdraw after the commit (id, reason).
    withdraw: Vec<(String, &'static str)>,
    /// Identities the directory enables again.
    reenable: Vec<String>,
    conflicts: Vec<String>,
}

/// Another node (or command) is synchronising right now.
#[derive(Debug, thiserror::Error)]
#[error("another directory sync is running (lease `{JOB}`); try again when it has finished")]
pub struct Busy;

/// Runs one synchronisation under the job's lease; records the run and audits it.
pub async fn sync(state: &AppState, opts: SyncOptions) -> anyhow::Result<SyncRun> {
    let holder = format!("cli-{}", uuid::Uuid::new_v4().simple());
    sync_as(state, &holder, opts).await
}

/// [`sync`] with the lease taken as `holder`.
pub async fn sync_as(state: &AppState, holder: &str, opts: SyncOptions) -> anyhow::Result<SyncRun> {
    if !crate::directory::sync::lease(state, JOB, holder).await? {
        return Err(Busy.into());
    }
    let result = sync_locked(state, opts).await;
    crate::storage::leases::release(state.db.pool(), JOB, holder).await?;
    result
}

async fn sync_locked(state: &AppState, opts: SyncOptions) -> anyhow::Result<SyncRun> {
    let dir = state.directory.clone().context(
        "no directory is configured: set [ldap] servers, user_base and the service account",
    )?;
    let started = state.clock.now();
    let mut run = SyncRun {
        id: uuid::Uuid::now_v7().to_string(),
        started_at: started,
        ..SyncRun::default()
    };
    let pool = state.db.pool();
    let since = if opts.full {
        None
    } else {
        store::last_marker(pool).await?
    };
    run.mode = if since.is_some() {
        "incremental"
    } else {
        "full"
    }
    .into();
    let outcome = sync_inner(state, &dir, opts, since.as_deref(), &mut run).await;
    run.finished_at = Some(state.clock.now());
    if let Err(e) = &outcome {
        run.error = Some(format!("{e:#}"));
        run.marker = None;
    }
    store::insert_run(pool, &run).await?;
    let ev = match &outcome {
        Ok(()) => AuditEvent::success("directory_sync"),
        Err(_) => AuditEvent::failure("directory_sync", "directory_sync_failed"),
    }
    .actor(ACTOR)
    .details(json!(run));
    state.audit.record(ev).await;
    outcome.map(|()| run)
}

async fn sync_inner(
    state: &AppState,
    dir: &Arc<Directory>,
    opts: SyncOptions,
    since: Option<&str>,
    run: &mut SyncRun,
) -> anyhow::Result<()> {
    let s = dir.settings().clone();
    let kind = s.kind;
    let pool = state.db.pool();
    // AD: everything committed before this USN is read by this run.
    let ad_marker = if kind == DirectoryKind::Ad {
        dir.root_dse("highestCommittedUSN").await?
    } else {
        None
    };
    let groups = read_groups(dir, &s, since).await?;
    run.group_count = groups.cn.len() as i64;
    // Users in a changed group (or below one) may have gained or lost roles without their own
    // entry changing (AD's memberOf is a back-link). Too many such groups: read everyone.
    let mut since = since;
    let mut affected: HashSet<String> = HashSet::new();
    if since.is_some() {
        for g in &groups.changed {
            affected.extend(groups.descendants(g));
        }
        if affected.len() > MAX_GROUP_FILTER {
            tracing::info!(
                groups = affected.len(),
                "many groups changed since the last run: this run reads every user"
            );
            since = None;
            run.mode = "full".into();
        }
    }
    let roles_map = role_map(&s);

    // Accounts and identities are read per page (what the page names), never all at once:
    // memory stays flat whatever the directory's size.
    let max_stamp: Option<String> = since.map(str::to_owned);

    // Which users to read.
    let marker_attr = match kind {
        DirectoryKind::Ad => "uSNChanged",
        DirectoryKind::Openldap => "modifyTimestamp",
    };
    let mut reread: Vec<(String, String)> = Vec::new();
    let filter = match since {
        None => s.user_filter.clone(),
        Some(m) => {
            let from = match kind {
                DirectoryKind::Ad => {
                    let usn: u64 = m
                        .parse()
                        .context("the stored uSNChanged marker is invalid")?;
                    (usn + 1).to_string()
                }
                DirectoryKind::Openldap => stamp_minus(m, 60),
            };
            let mut alts = format!("({marker_attr}>={from})");
            if !s.attributes.member_of.is_empty() {
                for g in &affected {
                    alts.push_str(&format!(
                        "({}={})",
                        s.attributes.member_of,
                        ldap3::ldap_escape(g.as_str())
                    ));
                }
            }
            // Accounts that were in an affected group and may have left it.
            if !affected.is_empty() {
                reread = store::live_memberships(pool)
                    .await?
                    .into_iter()
                    .filter(|(_, _, groups)| {
                        crate::storage::from_json_list(groups)
                            .iter()
                            .any(|g| affected.contains(g))
                    })
                    .map(|(id, dn, _)| (id, dn))
                    .collect();
            }
            format!("(&{}(|{alts}))", s.user_filter)
        }
    };

    // Read pages on one task while this one writes them; at most a few pages wait in memory
    // (the reader pauses while the database catches up).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ldap3::SearchEntry>>(4);
    let reader = {
        let dir = dir.clone();
        let base = s.user_base.clone();
        let attrs = requested(&s.attributes, kind);
        tokio::spawn(async move {
            dir.paged_search_into(&base, &filter, attrs, Vec::new(), tx)
                .await
        })
    };
    let mut tally = Tally {
        groups,
        seen: HashSet::new(),
        counts: Counts::default(),
        max_stamp,
    };
    while let Some(page) = rx.recv().await {
        let entries: Vec<DirEntry> = page
            .into_iter()
            .filter_map(|e| DirEntry::from_search(e, &s.attributes, kind))
            .collect();
        apply(state, &s, &roles_map, &mut tally, &entries).await?;
    }
    reader
        .await
        .context("the directory reader stopped")?
        .context("reading the users from the directory")?;

    // Accounts that left an affected group without any other change.
    let mut extra = Vec::new();
    let mut vanished = Vec::new();
    for (unique_id, dn) in reread {
        if tally.seen.contains(&unique_id) {
            continue;
        }
        match dir.read_dn(&dn).await? {
            Some(e) => extra.push(e),
            None => vanished.push(unique_id),
        }
    }
    if !extra.is_empty() {
        apply(state, &s, &roles_map, &mut tally, &extra).await?;
    }

    // Deletions.
    let mut gone: Vec<String> = vanished;
    if since.is_none() {
        let live_ids = store::live_ids(pool).await?;
        let live = live_ids.len();
        if tally.counts.seen == 0 && live > 0 && !opts.allow_mass_delete {
            anyhow::bail!(
                "the directory returned no user under {} with {}: nothing was disabled; check ldap.user_base and ldap.user_filter (`trousseau ldap test`); if every account really left, run `trousseau ldap sync --full --allow-mass-delete`",
                s.user_base,
                s.user_filter
            );
        }
        gone.extend(live_ids.into_iter().filter(|u| !tally.seen.contains(u)));
        let limit = (live / 10).max(10);
        if gone.len() > limit && !opts.allow_mass_delete {
            anyhow::bail!(
                "{} of {live} directory accounts would be treated as deleted (over the safety limit of {limit}); nothing was deleted. If this is right, run `trousseau ldap sync --full --allow-mass-delete`",
                gone.len()
            );
        }
    } else if kind == DirectoryKind::Ad {
        gone.extend(ad_deleted(dir, since.unwrap_or("0")).await?);
    }
    let ids: Vec<&str> = gone.iter().map(String::as_str).collect();
    let gone: Vec<AccountRecord> = store::by_unique_ids(pool, state.db.backend(), &ids)
        .await?
        .into_iter()
        .filter(|a| a.deleted == 0)
        .collect();
    let counts = &mut tally.counts;
    counts.deleted = mark_deleted(state, &gone).await?;

    run.seen = counts.seen;
    run.created = counts.created;
    run.linked = counts.linked;
    run.updated = counts.updated;
    run.unchanged = counts.unchanged;
    run.disabled = counts.disabled;
    run.enabled = counts.enabled;
    run.deleted = counts.deleted;
    run.conflicts = counts.conflicts;
    run.marker = match kind {
        DirectoryKind::Ad => ad_marker.or_else(|| since.map(str::to_owned)),
        DirectoryKind::Openldap => tally.max_stamp,
    };
    Ok(())
}

/// What a run accumulates across its pages.
struct Tally {
    groups: Groups,
    seen: HashSet<String>,
    counts: Counts,
    max_stamp: Option<String>,
}

#[derive(Debug, Default)]
struct Counts {
    seen: i64,
    created: i64,
    linked: i64,
    updated: i64,
    unchanged: i64,
    disabled: i64,
    enabled: i64,
    deleted: i64,
    conflicts: i64,
}

/// Reads every group (cheap: thousands), with the ones changed since the marker.
async fn read_groups(
    dir: &Arc<Directory>,
    s: &LdapSettings,
    since: Option<&str>,
) -> anyhow::Result<Groups> {
    let mut g = Groups::default();
    if s.group_base.is_empty() {
        return Ok(g);
    }
    let marker_attr = match s.kind {
        DirectoryKind::Ad => "uSNChanged",
        DirectoryKind::Openldap => "modifyTimestamp",
    };
    let mut attrs = vec!["cn".to_owned(), marker_attr.to_owned()];
    if !s.attributes.member_of.is_empty() {
        attrs.push(s.attributes.member_of.clone());
    }
    let mut pages = Vec::new();
    dir.paged_search(&s.group_base, &s.group_filter, attrs, Vec::new(), |p| {
        pages.push(p);
        Ok(())
    })
    .await
    .context("reading the groups from the directory")?;
    let member_of = s.attributes.member_of.to_lowercase();
    let threshold: Option<(u64, String)> = since.map(|m| {
        let usn = m.parse::<u64>().unwrap_or(0);
        (usn, stamp_minus(m, 60))
    });
    for e in pages.into_iter().flatten() {
        let dn = e.dn.to_lowercase();
        let mut cn = String::new();
        let mut parents = Vec::new();
        let mut changed = false;
        for (k, v) in e.attrs {
            let k = k.to_lowercase();
            if k == "cn" {
                cn = v.into_iter().next().unwrap_or_default();
            } else if k == member_of {
                parents = v.into_iter().map(|p| p.to_lowercase()).collect();
            } else if let (Some((usn, stamp)), Some(val)) = (&threshold, v.first()) {
                changed = match s.kind {
                    DirectoryKind::Ad => val.parse::<u64>().is_ok_and(|x| x > *usn),
                    DirectoryKind::Openldap => val.as_str() >= stamp.as_str(),
                };
            }
        }
        for p in &parents {
            g.children.entry(p.clone()).or_default().push(dn.clone());
        }
        if changed {
            g.changed.push(dn.clone());
        }
        g.cn.insert(dn.clone(), cn);
        g.parents.insert(dn, parents);
    }
    Ok(g)
}

/// AD accounts deleted since the marker (tombstones, seen with the show-deleted control).
async fn ad_deleted(dir: &Arc<Directory>, since: &str) -> anyhow::Result<Vec<String>> {
    let Some(naming) = dir.root_dse("defaultNamingContext").await? else {
        return Ok(Vec::new());
    };
    let usn: u64 = since.parse().unwrap_or(0);
    let unique = dir.settings().attributes.unique_id.clone();
    let mut out = Vec::new();
    dir.paged_search(
        &format!("CN=Deleted Objects,{naming}"),
        &format!(
            "(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>={}))",
            usn + 1
        ),
        vec![unique.clone()],
        vec![RawControl {
            ctype: SHOW_DELETED_OID.to_owned(),
            crit: true,
            val: None,
        }],
        |page| {
            for e in page {
                let id = e
                    .bin_attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&unique))
                    .and_then(|(_, v)| v.first())
                    .map(|b| crate::authn::ldap::guid_text(b))
                    .or_else(|| {
                        e.attrs
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&unique))
                            .and_then(|(_, v)| v.first().cloned())
                    });
                out.extend(id);
            }
            Ok(())
        },
    )
    .await
    .context("reading the deleted accounts from the directory")?;
    Ok(out)
}

/// Compares a page with the repository and writes the differences in one transaction.
#[allow(clippy::too_many_arguments)]
async fn apply(
    state: &AppState,
    s: &LdapSettings,
    roles_map: &HashMap<String, String>,
    tally: &mut Tally,
    entries: &[DirEntry],
) -> anyhow::Result<()> {
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
    let mut plan = Plan::default();
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
        let roles = groups.roles(&e.member_of, roles_map);
        let fingerprint = e.fingerprint(&roles);
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
                plan.new_accounts
                    .push(record(e, &identity_id, &roles, fingerprint, now));
            }
        }
    }
    write(state, &plan, now).await
}

/// The identities a page may touch: those of its known accounts, and those its new accounts
/// could link to.
async fn page_keys(
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
    if !enabled && i.status == Status::Active.as_str() {
        counts.disabled += 1;
        plan.withdraw.push((i.id.clone(), DISABLED_REASON));
    } else if enabled && i.status == Status::Suspended.as_str() && (by_directory || was_deleted) {
        counts.enabled += 1;
        plan.reenable.push(i.id.clone());
    }
}

fn record(
    e: &DirEntry,
    identity_id: &str,
    roles: &[String],
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
        roles: to_json_list(roles),
        fingerprint,
        seen_at: now,
        created_at: now,
        updated_at: now,
    }
}

fn new_identity(e: &DirEntry, enabled: bool) -> NewIdentity {
    NewIdentity {
        id: uuid::Uuid::now_v7().to_string(),
        username: e.username.clone(),
        given_name: e.given_name.clone().unwrap_or_default(),
        family_name: e.family_name.clone().unwrap_or_else(|| e.username.clone()),
        email: e.email.clone(),
        employee_number: e.employee_number.clone(),
        status: if enabled {
            Status::Active.as_str()
        } else {
            Status::Suspended.as_str()
        },
        status_reason: (!enabled).then_some(DISABLED_REASON),
    }
}

/// Writes a plan: one transaction for the rows, then the withdrawals (each audited, sessions
/// ended and their clients notified).
async fn write(state: &AppState, plan: &Plan, now: i64) -> anyhow::Result<()> {
    let backend = state.db.backend();
    let mut tx = state.db.begin().await?;
    store::insert_identities(&mut tx, backend, &plan.new_identities, now).await?;
    store::insert_many(&mut tx, backend, &plan.new_accounts).await?;
    for r in &plan.updates {
        store::update(&mut tx, r).await?;
    }
    for (id, given, family, email) in &plan.names {
        store::update_identity_names(&mut tx, id, given, family, email.as_deref(), now).await?;
    }
    let touched: Vec<&str> = plan.touched.iter().map(String::as_str).collect();
    store::touch_many(&mut tx, backend, &touched, now).await?;
    for id in &plan.reenable {
        identities::set_status(&mut tx, id, Status::Active.as_str(), None, now).await?;
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::success("user_enabled")
                    .actor(ACTOR)
                    .subject(id)
                    .reason("directory_enabled"),
            )
            .await?;
    }
    for c in &plan.conflicts {
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::failure("directory_account_conflict", "directory_link_conflict")
                    .actor(ACTOR)
                    .details(json!({ "account": c })),
            )
            .await?;
    }
    tx.commit().await?;
    for (id, reason) in &plan.withdraw {
        withdraw(
            state,
            id,
            Status::Suspended,
            reason,
            ACTOR,
            json!({ "source": "directory" }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot suspend identity {id}: {e}"))?;
    }
    Ok(())
}

/// Marks accounts deleted; suspends identities left with no live account.
async fn mark_deleted(state: &AppState, gone: &[AccountRecord]) -> anyhow::Result<i64> {
    let now = state.clock.now();
    let gone_ids: HashSet<&str> = gone.iter().map(|a| a.unique_id.as_str()).collect();
    let mut count = 0;
    for a in gone {
        let mut r = a.clone();
        r.deleted = 1;
        r.enabled = 0;
        r.updated_at = now;
        let mut tx = state.db.begin().await?;
        store::update(&mut tx, &r).await?;
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::success("directory_account_deleted")
                    .actor(ACTOR)
                    .subject(&a.identity_id)
                    .details(json!({ "dn": a.dn, "unique_id": a.unique_id })),
            )
            .await?;
        tx.commit().await?;
        count += 1;
        let other_live = store::of_identity(state.db.pool(), &a.identity_id)
            .await?
            .iter()
            .any(|o| o.deleted == 0 && !gone_ids.contains(o.unique_id.as_str()));
        let identity = identities::by_id(state.db.pool(), &a.identity_id).await?;
        if !other_live && identity.is_some_and(|i| i.status == Status::Active.as_str()) {
            withdraw(
                state,
                &a.identity_id,
                Status::Suspended,
                DELETED_REASON,
                ACTOR,
                json!({ "dn": a.dn }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot suspend identity {}: {e}", a.identity_id))?;
        }
    }
    Ok(count)
}

/// A GeneralizedTime (`YYYYMMDDHHMMSSZ`, fraction allowed) moved back by `secs`; the text
/// unchanged when it cannot be read.
fn stamp_minus(stamp: &str, secs: i64) -> String {
    let digits: String = stamp.chars().take(14).collect();
    if digits.len() != 14 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return stamp.to_owned();
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().unwrap_or(0);
    let Ok(month) = time::Month::try_from(n(4, 6) as u8) else {
        return stamp.to_owned();
    };
    let Ok(date) = time::Date::from_calendar_date(n(0, 4) as i32, month, n(6, 8) as u8) else {
        return stamp.to_owned();
    };
    let Ok(t) = time::Time::from_hms(n(8, 10) as u8, n(10, 12) as u8, n(12, 14) as u8) else {
        return stamp.to_owned();
    };
    let dt = time::PrimitiveDateTime::new(date, t) - time::Duration::seconds(secs);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The identity of a directory account at its login: the account known from a sync, or
/// provisioned now (linked by the configured key, or a new identity). Returns the identity id.
pub async fn provision(
    state: &AppState,
    e: &DirEntry,
    ctx: &RequestContext,
) -> anyhow::Result<Option<String>> {
    let s = &state.settings.ldap;
    let pool = state.db.pool();
    if let Some(a) = store::by_unique_id(pool, &e.unique_id).await? {
        if a.deleted == 1 || a.dn != e.dn || a.username != e.username {
            // Back from the dead or renamed: the next sync fills the rest in.
            let mut r = a.clone();
            r.deleted = 0;
            r.enabled = 1;
            r.dn = e.dn.clone();
            r.username = e.username.clone();
            r.upn = e.upn.clone();
            r.updated_at = state.clock.now();
            let mut tx = state.db.begin().await?;
            store::update(&mut tx, &r).await?;
            tx.commit().await?;
        }
        return Ok(Some(a.identity_id));
    }
    let index = Index::new(page_keys(pool, state.db.backend(), &[], &[e]).await?);
    let now = state.clock.now();
    let linked = index.link(e, s.link_by);
    let (identity_id, new) = match linked {
        Some(id) => (id, None),
        None if !s.create_identities || index.by_username.contains_key(&e.username) => {
            state
                .audit
                .record(
                    AuditEvent::failure("directory_account_conflict", "directory_link_conflict")
                        .context(ctx)
                        .details(json!({ "account": e.username, "dn": e.dn })),
                )
                .await;
            return Ok(None);
        }
        None => {
            let n = new_identity(e, true);
            (n.id.clone(), Some(n))
        }
    };
    let mut tx = state.db.begin().await?;
    if let Some(n) = &new {
        store::insert_identities(&mut tx, state.db.backend(), std::slice::from_ref(n), now).await?;
    }
    // Roles from the direct groups only until the next sync resolves nesting.
    let mut groups = Groups::default();
    let roles = groups.roles(&e.member_of, &role_map(s));
    let fp = e.fingerprint(&roles);
    // The fingerprint is left stale on purpose so the next sync rewrites the account.
    let mut r = record(e, &identity_id, &roles, fp, now);
    r.fingerprint = String::from("login");
    store::insert_many(&mut tx, state.db.backend(), std::slice::from_ref(&r)).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success(if new.is_some() {
                "directory_identity_created"
            } else {
                "directory_account_linked"
            })
            .subject(&identity_id)
            .context(ctx)
            .details(json!({ "dn": e.dn, "username": e.username })),
        )
        .await?;
    tx.commit().await?;
    Ok(Some(identity_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_resolve_without_loops() {
        let mut g = Groups::default();
        g.parents.insert("g1".into(), vec!["g2".into()]);
        g.parents
            .insert("g2".into(), vec!["g3".into(), "g1".into()]);
        g.parents.insert("g3".into(), vec![]);
        g.cn.insert("g3".into(), "Medecins".into());
        assert_eq!(*g.ancestors("g1"), vec!["g2".to_owned(), "g3".to_owned()]);
        let map = HashMap::from([("medecins".to_owned(), "medecin".to_owned())]);
        assert_eq!(g.roles(&["g1".into()], &map), ["medecin"]);
        g.children.insert("g3".into(), vec!["g2".into()]);
        g.children.insert("g2".into(), vec!["g1".into()]);
        assert_eq!(g.descendants("g3").len(), 3);
    }

    #[test]
    fn stamps_move_back() {
        assert_eq!(stamp_minus("20261123000030Z", 60), "20261122235930Z");
        assert_eq!(stamp_minus("20260101000000.123Z", 1), "20251231235959Z");
        assert_eq!(stamp_minus("garbage", 60), "garbage");
    }
}
