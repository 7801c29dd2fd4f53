//! The audit trail's hash chain (docs/audit.md, "Integrity").
//!
//! Events are written by every node, in the change's own transaction or through the batched
//! writer; a sealing round (one node at a time, under the `audit_seal` lease) then gives each
//! unsealed event, in (time, id) order, the next place in the chain (`seq`, 1, 2, 3… without
//! gaps) and a MAC over its place, its content and the previous event's MAC. The MAC key is
//! derived from the master key: someone who can write to the database but does not hold the
//! master key can neither recompute a MAC after an edit nor forge the chain after a deletion.
//!
//! What the chain alone cannot show, a deletion of its newest events, checkpoints show: the
//! chain's head (place and MAC) written at intervals to a file and to the log (which the
//! establishment ships to its SIEM), kept outside the database. A retention purge removes the
//! oldest events and records an anchor, the last removed event's place and MAC, from which the
//! remaining chain verifies.

use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::crypto::master_key::MasterKey;
use crate::crypto::{ct_eq, hmac_sha256, to_hex};
use crate::storage::Db;
use crate::storage::audit::AuditRecord;
use crate::storage::audit_chain::{self as store, Anchor};

/// The lease of the sealing rounds.
pub const SEAL_JOB: &str = "audit_seal";

/// Events sealed per transaction.
const SEAL_BATCH: i64 = 2_000;

/// Events read per page by the verification.
const VERIFY_PAGE: i64 = 5_000;

/// The label the chain key is derived under (a new label would start an independent chain).
const KEY_LABEL: &str = "trousseau audit chain v1";

/// The MAC key of the chain, derived from the master key.
pub struct ChainKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(***)")
    }
}

impl ChainKey {
    pub fn from_master(master: &MasterKey) -> ChainKey {
        ChainKey(master.derive(KEY_LABEL))
    }

    /// The MAC of length-prefixed fields (`None` distinct from an empty text), in hex.
    fn mac(&self, fields: &[Option<&[u8]>]) -> String {
        let mut data = Vec::with_capacity(256);
        for field in fields {
            match field {
                Some(bytes) => {
                    data.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    data.extend_from_slice(bytes);
                }
                None => data.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        to_hex(&hmac_sha256(self.0.expose_secret(), &data))
    }

    /// The MAC of an event at place `seq` after the MAC `prev` ("" before the first event).
    pub fn event_mac(&self, prev: &str, seq: i64, r: &AuditRecord) -> String {
        fn text(v: &Option<String>) -> Option<&[u8]> {
            v.as_deref().map(str::as_bytes)
        }
        let seq = seq.to_string();
        let at = r.at.to_string();
        self.mac(&[
            Some(b"event"),
            Some(prev.as_bytes()),
            Some(seq.as_bytes()),
            Some(r.id.as_bytes()),
            Some(at.as_bytes()),
            Some(r.kind.as_bytes()),
            Some(r.outcome.as_bytes()),
            text(&r.reason),
            text(&r.actor),
            text(&r.subject),
            text(&r.client_id),
            text(&r.source_ip),
            text(&r.request_id),
            text(&r.details),
        ])
    }

    fn anchor_mac(&self, seq: i64, mac: &str, purged_before: i64) -> String {
        let (seq, before) = (seq.to_string(), purged_before.to_string());
        self.mac(&[
            Some(b"anchor"),
            Some(seq.as_bytes()),
            Some(mac.as_bytes()),
            Some(before.as_bytes()),
        ])
    }

    fn checkpoint_tag(&self, seq: i64, mac: &str, written_at: i64) -> String {
        let (seq, at) = (seq.to_string(), written_at.to_string());
        self.mac(&[
            Some(b"checkpoint"),
            Some(seq.as_bytes()),
            Some(mac.as_bytes()),
            Some(at.as_bytes()),
        ])
    }

    /// A checkpoint of the head `(seq, mac)`, written at `now`.
    pub fn checkpoint(&self, seq: i64, mac: &str, now: i64) -> Checkpoint {
        Checkpoint {
            seq,
            mac: mac.to_owned(),
            written_at: now,
            tag: self.checkpoint_tag(seq, mac, now),
        }
    }
}

/// The chain's head at one moment, kept outside the database (a JSON line of the checkpoint
/// file, and the `audit_checkpoint` log event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub mac: String,
    pub written_at: i64,
    /// MAC of the three fields above: a line not written by a holder of the key is refused.
    pub tag: String,
}

/// Seals every unsealed event, a transaction per batch; answers how many were sealed. Two
/// rounds that run at once (which the lease makes rare: a stopping node's last round, the
/// command line) cannot fork the chain: a place is unique, and an event sealed meanwhile makes
/// a round give its batch up and start again from the new head.
pub async fn seal(db: &Db, key: &ChainKey) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut lost = 0;
    loop {
        match seal_batch(db, key).await {
            Ok(Some(0)) => return Ok(total),
            Ok(Some(n)) => {
                total += n as u64;
                if (n as i64) < SEAL_BATCH {
                    return Ok(total);
                }
            }
            Ok(None) => lost += 1,
            Err(e) if crate::storage::is_unique_violation(&e) => lost += 1,
            Err(e) => return Err(e.into()),
        }
        if lost >= 20 {
            anyhow::bail!("other sealing rounds kept sealing the same events; this one gave up");
        }
        if lost > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10 * lost)).await;
        }
    }
}

/// One batch in one transaction: how many were sealed, `None` when another round sealed one of
/// them first (nothing is written then).
async fn seal_batch(db: &Db, key: &ChainKey) -> Result<Option<usize>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let head = match store::last_sealed(&mut tx).await? {
        Some(head) => head,
        None => match store::latest_anchor(&mut *tx).await? {
            Some(a) => (a.seq, a.mac),
            None => (0, String::new()),
        },
    };
    let batch = store::unsealed(&mut tx, SEAL_BATCH).await?;
    if batch.is_empty() {
        return Ok(Some(0));
    }
    let (mut seq, mut prev) = head;
    let mut seals = Vec::with_capacity(batch.len());
    for record in &batch {
        seq += 1;
        let mac = key.event_mac(&prev, seq, record);
        prev.clone_from(&mac);
        seals.push((record.id.as_str(), seq, mac));
    }
    if !store::seal(&mut tx, &seals).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(batch.len()))
}

/// The chain's head as a checkpoint, `None` while nothing is sealed.
pub async fn head(db: &Db, key: &ChainKey, now: i64) -> anyhow::Result<Option<Checkpoint>> {
    let mut tx = db.begin().await?;
    let head = store::last_sealed(&mut tx).await?;
    tx.commit().await?;
    Ok(head.map(|(seq, mac)| key.checkpoint(seq, &mac, now)))
}

/// Writes a checkpoint: a JSON line appended to `file` (when set, created owner-only) and an
/// `audit_checkpoint` log event for the SIEM.
pub fn export_checkpoint(cp: &Checkpoint, file: Option<&Path>) -> anyhow::Result<()> {
    tracing::info!(
        target: "trousseau::audit::checkpoint",
        seq = cp.seq,
        mac = %cp.mac,
        written_at = cp.written_at,
        tag = %cp.tag,
        "audit_checkpoint"
    );
    let Some(path) = file else { return Ok(()) };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the audit checkpoint file {}: {e}",
            path.display()
        )
    })?;
    writeln!(f, "{}", serde_json::to_string(cp)?)?;
    Ok(())
}

/// Reads a checkpoint file: one JSON checkpoint per line; blank lines are skipped, and other
/// log lines too (a SIEM export may mix them), as long as one line at least is a checkpoint.
pub fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let found: Vec<Checkpoint> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line.trim()).ok())
        .collect();
    if found.is_empty() && !text.trim().is_empty() {
        anyhow::bail!("{} holds no audit checkpoint", path.display());
    }
    Ok(found)
}

/// Removes the sealed events written before `cutoff` and records the anchor the rest of the
/// chain verifies from; answers how many events went. Unsealed events are never removed.
pub async fn purge_before(db: &Db, key: &ChainKey, cutoff: i64, now: i64) -> anyhow::Result<u64> {
    let mut tx = db.begin().await?;
    let Some(through) = store::purge_boundary(&mut tx, cutoff).await? else {
        return Ok(0);
    };
    let anchored = store::latest_anchor(&mut *tx).await?.map_or(0, |a| a.seq);
    if through <= anchored {
        return Ok(0);
    }
    let Some(mac) = store::mac_at_tx(&mut tx, through).await? else {
        anyhow::bail!(
            "the audit event at place {through} is missing: run `trousseau audit verify`"
        );
    };
    let anchor = Anchor {
        seq: through,
        anchor_mac: key.anchor_mac(through, &mac, cutoff),
        mac,
        purged_before: cutoff,
        created_at: now,
    };
    store::insert_anchor(&mut tx, &anchor).await?;
    let removed = store::delete_through(&mut tx, through, cutoff).await?;
    tx.commit().await?;
    Ok(removed)
}

/// One thing the verification found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The event at this place does not match its MAC: edited, or moved from another place.
    Altered { seq: i64, id: String },
    /// No event at these places: deleted.
    Missing { from: i64, to: i64 },
    /// The anchor of the last purge does not match its MAC.
    ForgedAnchor { seq: i64 },
    /// A checkpoint names a place after the chain's last event: its tail was deleted.
    Truncated { checkpoint_seq: i64, last_seq: i64 },
    /// The event at a checkpoint's place is not the one the checkpoint saw.
    CheckpointMismatch { seq: i64 },
    /// A checkpoint line not written with the key.
    ForgedCheckpoint { seq: i64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Altered { seq, id } => write!(
                f,
                "event #{seq} ({id}) does not match its seal: edited, or moved from another place"
            ),
            Problem::Missing { from, to } if from == to => {
                write!(f, "event #{from} is missing: deleted")
            }
            Problem::Missing { from, to } => {
                write!(f, "events #{from} to #{to} are missing: deleted")
            }
            Problem::ForgedAnchor { seq } => write!(
                f,
                "the purge anchor at #{seq} does not match its seal: events before it may have \
                 been deleted outside a retention purge"
            ),
            Problem::Truncated {
                checkpoint_seq,
                last_seq,
            } => write!(
                f,
                "a checkpoint saw event #{checkpoint_seq} but the trail ends at #{last_seq}: its \
                 newest events were deleted"
            ),
            Problem::CheckpointMismatch { seq } => write!(
                f,
                "event #{seq} is not the one its checkpoint saw: events were deleted and their \
                 places filled again, or the chain was rewritten"
            ),
            Problem::ForgedCheckpoint { seq } => write!(
                f,
                "a checkpoint naming #{seq} was not written by this installation (wrong tag)"
            ),
        }
    }
}

/// What `trousseau audit verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Sealed events read.
    pub checked: u64,
    /// The place the chain verified from (after the last purge's anchor), and its last place.
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub anchor_seq: Option<i64>,
    pub checkpoints: usize,
    /// Events still unsealed though written before the grace period (the sealer is not
    /// running, or rows were written behind the server's back), and the oldest one's time.
    pub unsealed_late: i64,
    pub unsealed_oldest_at: Option<i64>,
    pub problems: Vec<Problem>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How long an event may stay unsealed before the verification mentions it.
pub const SEAL_GRACE_SECS: i64 = 300;

/// Walks the whole chain from the last anchor, recomputing each MAC, and compares the
/// checkpoints: any edit, deletion, reordering or (with a checkpoint newer than the deletion)
/// truncation is reported.
pub async fn verify(
    db: &Db,
    key: &ChainKey,
    checkpoints: &[Checkpoint],
    now: i64,
) -> anyhow::Result<Verification> {
    let pool = db.pool();
    let mut v = Verification {
        checkpoints: checkpoints.len(),
        ..Default::default()
    };
    let (mut expected, mut prev) = (1, String::new());
    if let Some(a) = store::latest_anchor(pool).await? {
        if !ct_eq(
            &key.anchor_mac(a.seq, &a.mac, a.purged_before),
            &a.anchor_mac,
        ) {
            v.problems.push(Problem::ForgedAnchor { seq: a.seq });
        }
        v.anchor_seq = Some(a.seq);
        (expected, prev) = (a.seq + 1, a.mac);
    }
    let mut wanted: BTreeMap<i64, &Checkpoint> = BTreeMap::new();
    for cp in checkpoints {
        if !ct_eq(&key.checkpoint_tag(cp.seq, &cp.mac, cp.written_at), &cp.tag) {
            v.problems.push(Problem::ForgedCheckpoint { seq: cp.seq });
        } else if cp.seq >= expected {
            wanted.insert(cp.seq, cp);
        }
    }
    let mut after = expected - 1;
    loop {
        let page = store::sealed_after(pool, after, VERIFY_PAGE).await?;
        for row in &page {
            if row.seq != expected {
                v.problems.push(Problem::Missing {
                    from: expected,
                    to: row.seq - 1,
                });
            } else if !ct_eq(&key.event_mac(&prev, row.seq, &row.record), &row.mac) {
                v.problems.push(Problem::Altered {
                    seq: row.seq,
                    id: row.record.id.clone(),
                });
            }
            if let Some(cp) = wanted.remove(&row.seq)
                && !ct_eq(&cp.mac, &row.mac)
            {
                v.problems
                    .push(Problem::CheckpointMismatch { seq: row.seq });
            }
            // Past a problem, the stored MAC links the rest: one edit is one finding.
            v.first_seq.get_or_insert(row.seq);
            v.last_seq = Some(row.seq);
            v.checked += 1;
            (expected, prev) = (row.seq + 1, row.mac.clone());
        }
        match page.last() {
            Some(last) if page.len() as i64 == VERIFY_PAGE => after = last.seq,
            _ => break,
        }
    }
    let last = expected - 1;
    if let Some((&seq, _)) = wanted.range(last + 1..).next_back() {
        v.problems.push(Problem::Truncated {
            checkpoint_seq: seq,
            last_seq: last,
        });
    }
    // A checkpoint inside the chain whose event is gone is already a missing place.
    let (late, oldest) = store::unsealed_before(pool, now - SEAL_GRACE_SECS).await?;
    v.unsealed_late = late;
    v.unsealed_oldest_at = oldest;
    Ok(v)
}
