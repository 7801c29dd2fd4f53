//! The CIBA polling worker: one node at a time (the `pairing_ciba` lease) asks Pro Santé
//! Connect how each pending request stands, honouring its `interval` and `slow_down` (CIBA Core
//! §7.3, §11). A pending request costs a database row and a schedule entry, never a thread or a
//! task: one loop serves every request, and the browsers ask Trousseau, never PSC.

use futures_util::StreamExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{Means, PairingError, Proof, record};
use crate::audit::{AuditEvent, RequestContext};
use crate::psc::Ecps;
use crate::psc::{CibaPoll, PscClient, PscError};
use crate::storage::pairings::{self, RequestRecord};

/// Lease of the CIBA polling worker.
pub const PAIRING_JOB: &str = "pairing_ciba";
/// Polls in flight at once.
const CONCURRENCY: usize = 64;
/// What CIBA Core adds to the interval on `slow_down`.
const SLOW_DOWN_STEP: u64 = 5;

/// When each pending request may be polled next, and at which interval (per node: a node that
/// takes the lease over starts afresh, at worst one early poll that PSC answers `slow_down`).
#[derive(Debug, Default)]
pub struct Schedule {
    next: HashMap<String, (Instant, u64)>,
}

/// What one poll led to.
enum Step {
    Wait(u64),
    Done,
}

/// One round: settles expired requests, polls those that are due. How many were polled.
pub async fn poll_round(state: &Ecps<'_>, schedule: &mut Schedule) -> anyhow::Result<usize> {
    let Some(psc) = state.psc.clone() else {
        return Ok(0);
    };
    let pending = pairings::pending(state.db.pool()).await?;
    let now = state.clock.now();
    let at = Instant::now();
    let live: HashSet<&str> = pending.iter().map(|r| r.id.as_str()).collect();
    schedule.next.retain(|id, _| live.contains(id.as_str()));
    let mut due = Vec::new();
    for r in pending {
        if r.expires_at <= now {
            settle(state, &r, "expired", Some("psc_expired_request")).await?;
            continue;
        }
        let interval = u64::try_from(r.interval_secs).unwrap_or(5);
        let (when, interval) = *schedule
            .next
            .entry(r.id.clone())
            .or_insert((at + Duration::from_secs(interval), interval));
        if when <= at {
            due.push((r, interval));
        }
    }
    let count = due.len();
    let results: Vec<(String, u64, anyhow::Result<Step>)> = futures_util::stream::iter(due)
        .map(|(r, interval)| {
            let psc = psc.clone();
            async move {
                let step = poll_one(state, &psc, &r, interval).await;
                (r.id, interval, step)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let after = Instant::now();
    for (id, interval, step) in results {
        match step {
            Ok(Step::Wait(i)) => {
                schedule
                    .next
                    .insert(id, (after + Duration::from_secs(i), i));
            }
            Ok(Step::Done) => {
                schedule.next.remove(&id);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "pairing poll failed");
                schedule
                    .next
                    .insert(id, (after + Duration::from_secs(interval), interval));
            }
        }
    }
    Ok(count)
}

async fn poll_one(
    state: &Ecps<'_>,
    psc: &PscClient,
    r: &RequestRecord,
    interval: u64,
) -> anyhow::Result<Step> {
    match psc.ciba_poll(&r.auth_req_id).await {
        Ok(CibaPoll::Pending) => Ok(Step::Wait(interval)),
        Ok(CibaPoll::SlowDown) => Ok(Step::Wait(interval + SLOW_DOWN_STEP)),
        Ok(CibaPoll::Approved(proven)) => {
            complete_proven(state, r, proven.idnat.clone(), proven.acr.as_deref()).await?;
            Ok(Step::Done)
        }
        Err(e) if e.transient() => Ok(Step::Wait(interval)),
        Err(e) => {
            let to = match e {
                PscError::AccessDenied => "refused",
                PscError::ExpiredToken => "expired",
                _ => "failed",
            };
            settle(state, r, to, Some(e.reason())).await?;
            Ok(Step::Done)
        }
    }
}

/// Settles a request without a pairing, audited; nothing when another caller settled it first.
async fn settle(
    state: &Ecps<'_>,
    r: &RequestRecord,
    to: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let now = state.clock.now();
    if pairings::transition(state.db.pool(), &r.id, "pending", to, reason, None, now).await? {
        let event = if r.purpose == pairings::PURPOSE_ENROLMENT {
            crate::psc::enrolment::PROVEN_EVENT
        } else {
            "pairing_completed"
        };
        state
            .audit
            .record(
                AuditEvent::failure(event, reason.unwrap_or(to))
                    .subject(&r.identity_id)
                    .details(json!({ "means": "ciba", "request": r.id, "idnat": r.idnat })),
            )
            .await;
    }
    Ok(())
}

/// An approved request whose acr is not known (see [`complete_proven`]).
pub async fn complete(
    state: &Ecps<'_>,
    r: &RequestRecord,
    proven: crate::identity::IdNat,
) -> anyhow::Result<bool> {
    complete_proven(state, r, proven, None).await
}

/// An approved request: claimed once (a second completion, on this node or another, finds it
/// claimed and does nothing), then recorded by the pairing rules, or kept as the proof of a key
/// enrolment with the validation's `acr`. Whether this call completed it.
pub async fn complete_proven(
    state: &Ecps<'_>,
    r: &RequestRecord,
    proven: crate::identity::IdNat,
    acr: Option<&str>,
) -> anyhow::Result<bool> {
    let pool = state.db.pool();
    let now = state.clock.now();
    if !pairings::transition(pool, &r.id, "pending", "approved", None, None, now).await? {
        return Ok(false);
    }
    if r.purpose == pairings::PURPOSE_ENROLMENT {
        crate::psc::enrolment::settle(state, r, &proven, acr).await?;
        return Ok(true);
    }
    let proof = Proof {
        identity_id: r.identity_id.clone(),
        idnat: proven,
        means: Means::Ciba,
        acr: acr.map(str::to_owned),
    };
    let (to, reason, pairing) = match record(state, &proof, &RequestContext::default()).await {
        Ok(p) => ("paired", None, Some(p.id)),
        Err(PairingError::Mismatch) => ("mismatch", Some("idnat_mismatch"), None),
        Err(e) => ("failed", Some(e.reason()), None),
    };
    pairings::transition(pool, &r.id, "approved", to, reason, pairing.as_deref(), now).await?;
    Ok(true)
}
