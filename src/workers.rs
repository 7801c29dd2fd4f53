//! Every background loop of `serve`, started from here by [`start`].
//!
//! Once per cluster (several nodes may share one database; each job runs on one node at a time):
//! - the RPPS, directory (LDAP) and HR-folder syncs and the HR dates job: each run takes its
//!   `job_leases` row (`rpps_sync`, `ldap_sync`, `hr_sync`, `hr_dates`, `sync.lease_secs`) or
//!   skips the round ([`crate::directory::sync`]);
//! - the purge of expired rows, and hourly the audit trail's retention purge: under the
//!   `housekeeping` lease;
//! - the sealing of audit events into the hash chain, with its checkpoints: under the
//!   `audit_seal` lease ([`crate::audit::chain`]);
//! - the polling of pending e-CPS pairing requests (CIBA): under the `pairing_ciba` lease, kept
//!   while the node polls;
//! - back-channel logout delivery: every node runs the loop, but each delivery is claimed under
//!   its own database lease (`logout_deliveries.locked_until`, `logout.timeout_secs` + 5 s), so
//!   each token is sent once by one node, and a node that dies mid-round holds nothing for long.
//!
//! Per node (each keeps its own copy): the card revocation lists (CRL refresh). The audit writer
//! and the caches (clients, signing keys) live in [`crate::state::AppState`] and need no loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::audit::AuditEvent;
use crate::audit::chain::{self, ChainKey, SEAL_JOB};
use crate::authn::cps::service::refresh_revocation_lists;
use crate::directory::sync::{
    self, HR_DATES_JOB, HR_JOB, JobOutcome, RPPS_JOB, run_hr_dates_once, run_hr_once,
    run_ldap_once, run_rpps_once,
};
use crate::oidc::backchannel::deliver_due;
use crate::psc::pairing::{PAIRING_JOB, Schedule, poll_round};
use crate::state::AppState;
use crate::storage::leases;

/// Lease of the purge of expired rows.
pub const HOUSEKEEPING_JOB: &str = "housekeeping";

/// Starts every background loop of this node.
pub fn start(state: Arc<AppState>) {
    let holder = format!("node-{}", uuid::Uuid::new_v4().simple());
    backchannel_delivery(state.clone());
    housekeeping(state.clone(), holder.clone());
    audit_sealing(state.clone(), holder.clone());
    sync_jobs(state.clone(), holder.clone());
    pairing_polls(state.clone(), holder);
    crl_refresh(state);
}

/// Back-channel logout: wakes when a logout queued tokens, or every second, and delivers what
/// is due (each delivery claimed under its own lease).
fn backchannel_delivery(state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), state.logout_wakeup.notified()).await;
            if let Err(e) = deliver_due(&state.backchannel()).await {
                tracing::warn!(error = %e, "back-channel logout delivery round failed");
            }
        }
    });
}

/// Purges expired rows every minute, on the node that holds the `housekeeping` lease.
fn housekeeping(state: Arc<AppState>, holder: String) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = purge_once(&state, &holder).await {
                tracing::warn!(error = %e, "housekeeping failed");
            }
            if rounds.is_multiple_of(60)
                && let Err(e) = audit_retention_once(&state, &holder).await
            {
                tracing::warn!(error = %format!("{e:#}"), "audit retention purge failed");
            }
            rounds += 1;
        }
    });
}

/// One purge under the lease; how many rows went (none when another node holds the lease).
pub async fn purge_once(state: &AppState, holder: &str) -> anyhow::Result<u64> {
    if !sync::lease(&state.repository(), HOUSEKEEPING_JOB, holder).await? {
        return Ok(0);
    }
    let purged = crate::storage::purge::purge_expired(state.db.pool(), state.clock.now()).await;
    leases::release(state.db.pool(), HOUSEKEEPING_JOB, holder).await?;
    Ok(purged?)
}

/// The audit retention purge under the `housekeeping` lease: the events older than
/// `audit.retention_days` go, an anchor keeps the rest verifiable. How many went.
pub async fn audit_retention_once(state: &AppState, holder: &str) -> anyhow::Result<u64> {
    let days = state.settings.audit.retention_days;
    if days == 0 || !sync::lease(&state.repository(), HOUSEKEEPING_JOB, holder).await? {
        return Ok(0);
    }
    let now = state.clock.now();
    let key = ChainKey::from_master(&state.master);
    let purged = chain::purge_before(&state.db, &key, now - days * 86_400, now).await;
    leases::release(state.db.pool(), HOUSEKEEPING_JOB, holder).await?;
    let purged = purged?;
    if purged > 0 {
        state
            .audit
            .record(
                AuditEvent::success("audit_purged")
                    .actor("system")
                    .details(serde_json::json!({ "events": purged, "retention_days": days })),
            )
            .await;
    }
    Ok(purged)
}

/// How long the `audit_seal` lease lasts without renewal: the sealing node renews it every
/// round, so another takes over within seconds of its stop.
const SEAL_LEASE_SECS: i64 = 15;

/// Seals the audit events every `audit.seal_interval_secs` on the node that holds the
/// `audit_seal` lease, and writes a checkpoint every `audit.checkpoint_interval_secs` while
/// the chain grows.
fn audit_sealing(state: Arc<AppState>, holder: String) {
    tokio::spawn(async move {
        let key = ChainKey::from_master(&state.master);
        let every = Duration::from_secs(state.settings.audit.seal_interval_secs);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sealer = Sealer::default();
        loop {
            tick.tick().await;
            if let Err(e) = sealer.round(&state, &key, &holder).await {
                tracing::warn!(error = %format!("{e:#}"), "audit sealing round failed");
            }
        }
    });
}

/// One node's sealing rounds: remembers when it last wrote a checkpoint and of which place.
#[derive(Debug, Default)]
pub struct Sealer {
    last_checkpoint: Option<(i64, i64)>,
}

impl Sealer {
    /// Seals under the lease and writes a checkpoint when one is due; how many were sealed
    /// (0 when another node holds the lease).
    pub async fn round(
        &mut self,
        state: &AppState,
        key: &ChainKey,
        holder: &str,
    ) -> anyhow::Result<u64> {
        let now = state.clock.now();
        if !leases::acquire(state.db.pool(), SEAL_JOB, holder, now, SEAL_LEASE_SECS).await? {
            return Ok(0);
        }
        let sealed = chain::seal(&state.db, key).await?;
        let interval = state.settings.audit.checkpoint_interval_secs as i64;
        let due = match self.last_checkpoint {
            None => true,
            Some((at, _)) => now - at >= interval,
        };
        if due && let Some(cp) = chain::head(&state.db, key, now).await? {
            if self.last_checkpoint.map(|(_, seq)| seq) != Some(cp.seq) {
                chain::export_checkpoint(&cp, state.settings.audit.checkpoint_path())?;
            }
            self.last_checkpoint = Some((now, cp.seq));
        }
        Ok(sealed)
    }

    /// The last round of a stopping node: seals what the audit writer flushed and writes a
    /// checkpoint of the head, lease or not (a place is unique: no fork is possible).
    pub async fn last_round(state: &AppState) -> anyhow::Result<()> {
        let key = ChainKey::from_master(&state.master);
        chain::seal(&state.db, &key).await?;
        if let Some(cp) = chain::head(&state.db, &key, state.clock.now()).await? {
            chain::export_checkpoint(&cp, state.settings.audit.checkpoint_path())?;
        }
        Ok(())
    }
}

/// How long the `pairing_ciba` lease lasts without renewal. The polling node renews it every
/// second, so a node that stops (or is killed) hands the polling over within seconds, not after
/// `sync.lease_secs`: a person waiting on the pairing page never waits for a dead node.
const PAIRING_LEASE_SECS: i64 = 5;

/// Polls Pro Santé Connect for the pending e-CPS pairing requests every second, on the node that
/// holds the `pairing_ciba` lease (kept while it polls, renewed every second).
fn pairing_polls(state: Arc<AppState>, holder: String) {
    if state.psc.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut schedule = Schedule::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = state.clock.now();
            let lease = leases::acquire(
                state.db.pool(),
                PAIRING_JOB,
                &holder,
                now,
                PAIRING_LEASE_SECS,
            );
            match lease.await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "pairing lease failed");
                    continue;
                }
            }
            if let Err(e) = poll_round(&state.ecps(), &mut schedule).await {
                tracing::warn!(error = %format!("{e:#}"), "pairing poll round failed");
            }
        }
    });
}

/// The configured sync jobs; each run takes its own lease.
fn sync_jobs(state: Arc<AppState>, holder: String) {
    let settings = state.settings.sync.clone();
    if !settings.rpps.source.trim().is_empty() {
        let importer = sync::rpps_importer();
        every(
            &state,
            &holder,
            RPPS_JOB,
            settings.rpps.interval_secs,
            false,
            move |state, holder| {
                let importer = importer.clone();
                async move { run_rpps_once(&state.repository(), &holder, &importer).await }
            },
        );
    }
    if state.directory.is_some() && settings.ldap.enabled {
        every(
            &state,
            &holder,
            crate::directory::ldap::JOB,
            settings.ldap.interval_secs,
            false,
            |state, holder| async move { run_ldap_once(&state.repository(), &holder).await },
        );
    }
    // Quiet when it has nothing to do: it runs whether or not an HR folder is watched.
    every(
        &state,
        &holder,
        HR_DATES_JOB,
        settings.hr_dates.interval_secs,
        true,
        |state, holder| async move { run_hr_dates_once(&state.repository(), &holder).await },
    );
    if !settings.hr.folder.trim().is_empty() {
        every(
            &state,
            &holder,
            HR_JOB,
            settings.hr.interval_secs,
            false,
            |state, holder| async move { run_hr_once(&state.repository(), &holder).await },
        );
    }
}

/// Runs `run` every `period_secs` (the first time at once) and logs its outcome.
fn every<F, Fut>(
    state: &Arc<AppState>,
    holder: &str,
    job: &'static str,
    period_secs: u64,
    quiet_when_idle: bool,
    run: F,
) where
    F: Fn(Arc<AppState>, String) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<JobOutcome>> + Send,
{
    let (state, holder) = (state.clone(), holder.to_owned());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(period_secs));
        loop {
            tick.tick().await;
            match run(state.clone(), holder.clone()).await {
                Ok(JobOutcome::Unchanged | JobOutcome::Busy) if quiet_when_idle => {}
                Ok(o) => tracing::info!(job, outcome = ?o, "sync job ran"),
                Err(e) => {
                    tracing::warn!(job, error = %format!("{e:#}"), "sync job failed")
                }
            }
        }
    });
}

/// Reloads the card revocation lists every `cps.crl_refresh_secs`; each node keeps its own copy.
fn crl_refresh(state: Arc<AppState>) {
    let Some(cps) = state.cps.clone() else {
        return;
    };
    let settings = &state.settings.cps;
    if settings.crl_files.is_empty() && settings.crl_urls.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let every = Duration::from_secs(state.settings.cps.crl_refresh_secs);
        // Lists from files are loaded already; URLs are fetched at once, then everything on
        // schedule.
        if !state.settings.cps.crl_urls.is_empty() {
            refresh_revocation_lists(&state.authn(), &cps).await;
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            refresh_revocation_lists(&state.authn(), &cps).await;
        }
    });
}
