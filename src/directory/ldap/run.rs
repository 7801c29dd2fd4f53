//! One synchronisation run: the lease, the run record and its audit, which users to read
//! (full or incremental, affected groups), the pages read on one task and planned then written
//! on another, and the deletions with their safety limit.

use anyhow::Context;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

use super::apply::{apply, mark_deleted};
use super::plan::{Counts, Tally};
use super::read::{ad_deleted, read_groups, role_maps, stamp_minus};
use crate::audit::AuditEvent;
use crate::config::DirectoryKind;
use crate::directory::Repository;
use crate::instruments::{SyncJob, SyncOutcome};
use crate::ldap::{DirEntry, LdapClient, requested};
use crate::storage::directory::{self as store, AccountRecord, SyncRun};

/// The actor name of changes made by the sync.
pub const ACTOR: &str = "ldap-sync";
/// Job name (lease) of the scheduled sync.
pub const JOB: &str = "ldap_sync";
/// Above this many changed groups an incremental run reads every user instead.
const MAX_GROUP_FILTER: usize = 200;

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Read every user (and find deletions) even when an incremental run is possible.
    pub full: bool,
    /// Apply deletions even above the safety threshold.
    pub allow_mass_delete: bool,
}

/// Another node (or command) is synchronising right now.
#[derive(Debug, thiserror::Error)]
#[error("another directory sync is running (lease `{JOB}`); try again when it has finished")]
pub struct Busy;

/// Runs one synchronisation under the job's lease; records the run and audits it.
pub async fn sync(state: &Repository<'_>, opts: SyncOptions) -> anyhow::Result<SyncRun> {
    let holder = format!("cli-{}", uuid::Uuid::new_v4().simple());
    sync_as(state, &holder, opts).await
}

/// [`sync`] with the lease taken as `holder`.
pub async fn sync_as(
    state: &Repository<'_>,
    holder: &str,
    opts: SyncOptions,
) -> anyhow::Result<SyncRun> {
    let result = sync_leased(state, holder, opts).await;
    let outcome = match &result {
        Ok(_) => SyncOutcome::Success,
        Err(e) if e.downcast_ref::<Busy>().is_some() => SyncOutcome::Busy,
        Err(_) => SyncOutcome::Failure,
    };
    state
        .metrics
        .sync_run(SyncJob::Ldap, outcome, state.clock.now());
    result
}

async fn sync_leased(
    state: &Repository<'_>,
    holder: &str,
    opts: SyncOptions,
) -> anyhow::Result<SyncRun> {
    if !crate::directory::sync::lease(state, JOB, holder).await? {
        return Err(Busy.into());
    }
    let result = sync_locked(state, opts).await;
    crate::storage::leases::release(state.db.pool(), JOB, holder).await?;
    result
}

async fn sync_locked(state: &Repository<'_>, opts: SyncOptions) -> anyhow::Result<SyncRun> {
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
    // Recorded at once, its counters written as pages are applied: the run can be followed.
    store::abandon_running(pool, started).await?;
    store::insert_run(pool, &run).await?;
    let outcome = sync_inner(state, &dir, opts, since.as_deref(), &mut run).await;
    run.finished_at = Some(state.clock.now());
    if let Err(e) = &outcome {
        run.error = Some(format!("{e:#}"));
        run.marker = None;
    }
    store::update_run(pool, &run).await?;
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
    state: &Repository<'_>,
    dir: &Arc<LdapClient>,
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
    let roles_map = role_maps(&s, &state.settings.admin);

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
        note_progress(pool, run, &tally.counts).await;
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

    copy_counts(run, counts);
    run.marker = match kind {
        DirectoryKind::Ad => ad_marker.or_else(|| since.map(str::to_owned)),
        DirectoryKind::Openldap => tally.max_stamp,
    };
    Ok(())
}

fn copy_counts(run: &mut SyncRun, counts: &Counts) {
    run.seen = counts.seen;
    run.created = counts.created;
    run.linked = counts.linked;
    run.updated = counts.updated;
    run.unchanged = counts.unchanged;
    run.disabled = counts.disabled;
    run.enabled = counts.enabled;
    run.deleted = counts.deleted;
    run.conflicts = counts.conflicts;
}

/// Writes the counters so far to the run's row, after each page of users (a page is at most
/// the directory's page size): whoever follows the run sees it move.
async fn note_progress(pool: &sqlx::AnyPool, run: &mut SyncRun, counts: &Counts) {
    copy_counts(run, counts);
    // Progress is for people watching: a failed write does not stop the sync.
    if let Err(e) = store::update_run(pool, run).await {
        tracing::warn!(error = %e, run = %run.id, "cannot write the directory sync's progress");
    }
}
