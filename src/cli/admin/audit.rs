//! `trousseau audit`: read the audit trail.

use clap::Subcommand;

use futures_util::StreamExt;
use std::io::Write;

use super::common::ACTOR;
use crate::admin::audit::{CriteriaText, Requester, TrailFormat, export_trail, refuse_export};
use crate::admin::users;
use crate::audit::chain::{self, ChainKey};
use crate::audit::{AuditEvent, RequestContext};
use crate::cli::output::{table, time};
use crate::state::AppState;
use crate::storage::audit::{self as audit_store, AuditFilter};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    List {
        /// Only this kind (login, token_issued, logout, refresh_reuse_detected, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only events about this user (username or id).
        #[arg(long)]
        user: Option<String>,
        /// Only events of this client.
        #[arg(long)]
        client: Option<String>,
        /// Only the last N seconds.
        #[arg(long, value_name = "SECONDS")]
        since: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Export the audit trail to standard output, newest first, streamed (any size): CSV, or
    /// JSON lines or syslog lines for a SIEM.
    Export {
        /// csv (formula-like cells neutralised), jsonl (a JSON object per line) or syslog
        /// (RFC 5424 lines), the last two for a SIEM.
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Events about this person or done by them (username or id), or by this actor.
        #[arg(long)]
        user: Option<String>,
        /// Only events of this client.
        #[arg(long)]
        client: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// success or failure.
        #[arg(long)]
        outcome: Option<String>,
        /// From this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM), UTC.
        #[arg(long)]
        from: Option<String>,
        /// To this date (YYYY-MM-DD: its whole day, or YYYY-MM-DDTHH:MM), UTC.
        #[arg(long)]
        to: Option<String>,
    },
    /// Check the audit trail's hash chain: any edited, deleted or reordered event, and with
    /// checkpoint files any deletion of the newest events. Exit status 1 when something is
    /// wrong.
    Verify {
        /// A checkpoint file (`audit.checkpoint_file`, or the `audit_checkpoint` log events
        /// as JSON lines); repeat for several nodes' files.
        #[arg(long = "checkpoints", value_name = "FILE")]
        checkpoints: Vec<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Seal the events not sealed yet and print the chain's head as a checkpoint line (to keep
    /// outside the database, e.g. `>> /secure/audit-checkpoints.jsonl`).
    Checkpoint,
    /// Purge the events written before a date (the retention purge, usually automatic:
    /// `audit.retention_days`); the rest of the chain stays verifiable.
    Purge {
        /// YYYY-MM-DD (UTC): events before this day go.
        #[arg(long)]
        before: String,
    },
}

/// Formats of `audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Syslog,
}

impl From<ExportFormat> for TrailFormat {
    fn from(f: ExportFormat) -> TrailFormat {
        match f {
            ExportFormat::Csv => TrailFormat::Csv,
            ExportFormat::Jsonl => TrailFormat::JsonLines,
            ExportFormat::Syslog => TrailFormat::Syslog,
        }
    }
}

pub async fn audit(state: &AppState, cmd: AuditCommand) -> anyhow::Result<()> {
    let (kind, user, client, since, limit, json) = match cmd {
        AuditCommand::Verify { checkpoints, json } => {
            return verify(state, &checkpoints, json).await;
        }
        AuditCommand::Checkpoint => return checkpoint(state).await,
        AuditCommand::Purge { before } => return purge(state, &before).await,
        AuditCommand::List {
            kind,
            user,
            client,
            since,
            limit,
            json,
        } => (kind, user, client, since, limit, json),
        AuditCommand::Export {
            format,
            user,
            client,
            kind,
            outcome,
            from,
            to,
        } => {
            let text = CriteriaText {
                person: user.unwrap_or_default(),
                client_id: client.unwrap_or_default(),
                kind: kind.unwrap_or_default(),
                outcome: outcome.unwrap_or_default(),
                from: from.unwrap_or_default(),
                to: to.unwrap_or_default(),
            };
            return export(state, &text, format.into()).await;
        }
    };
    let subject = match user {
        Some(u) => Some(users::find(state, &u).await?.id),
        None => None,
    };
    let filter = AuditFilter {
        kind,
        subject,
        client_id: client,
        since: since.map(|s| state.clock.now() - s),
        limit: limit.clamp(1, 10_000),
    };
    let events = audit_store::list(state.db.pool(), &filter).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        let rows = events
            .iter()
            .map(|e| {
                vec![
                    time(e.at),
                    e.kind.clone(),
                    e.outcome.clone(),
                    e.reason.clone().unwrap_or_default(),
                    e.subject.clone().unwrap_or_default(),
                    e.client_id.clone().unwrap_or_default(),
                    e.source_ip.clone().unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>();
        table(
            &[
                "TIME", "KIND", "OUTCOME", "REASON", "SUBJECT", "CLIENT", "SOURCE",
            ],
            &rows,
        );
    }
    Ok(())
}

/// `audit export`: the CSV written to standard output as it is read.
async fn export(state: &AppState, text: &CriteriaText, format: TrailFormat) -> anyhow::Result<()> {
    let requester = Requester {
        actor: ACTOR.to_owned(),
        ctx: RequestContext::default(),
    };
    let criteria = match text.parse() {
        Ok(c) => c,
        Err(e) => {
            refuse_export(state, &requester, &e).await;
            anyhow::bail!("{e}");
        }
    };
    let csv = export_trail(state, &criteria, requester, format).await?;
    futures_util::pin_mut!(csv);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    while let Some(chunk) = csv.next().await {
        out.write_all(&chunk?)?;
    }
    out.flush()?;
    Ok(())
}

/// `audit verify`: the whole chain, then the checkpoints; a non-zero exit when anything is
/// wrong (after printing every finding).
async fn verify(state: &AppState, files: &[std::path::PathBuf], json: bool) -> anyhow::Result<()> {
    let mut checkpoints = Vec::new();
    for f in files {
        checkpoints.extend(chain::read_checkpoints(f)?);
    }
    let key = ChainKey::from_master(&state.master);
    // Seal first: what the server wrote a moment ago is checked too.
    chain::seal(&state.db, &key).await?;
    let v = chain::verify(&state.db, &key, &checkpoints, state.clock.now()).await?;
    let outcome = if v.intact() {
        AuditEvent::success("audit_verified")
    } else {
        AuditEvent::failure("audit_verified", "chain_broken")
    };
    state
        .audit
        .record(outcome.actor(ACTOR).details(serde_json::json!({
            "checked": v.checked,
            "problems": v.problems.len(),
            "checkpoints": v.checkpoints,
        })))
        .await;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let range = match (v.first_seq, v.last_seq) {
            (Some(a), Some(b)) => format!(" (#{a} to #{b})"),
            _ => String::new(),
        };
        println!("{} sealed events checked{range}", v.checked);
        if let Some(a) = v.anchor_seq {
            println!("the chain starts after the retention purge anchor at #{a}");
        }
        println!("{} checkpoints compared", v.checkpoints);
        if v.unsealed_late > 0 {
            println!(
                "warning: {} events written more than {} s ago are not sealed yet (oldest {}): \
                 is a node's sealing running?",
                v.unsealed_late,
                chain::SEAL_GRACE_SECS,
                v.unsealed_oldest_at.map(time).unwrap_or_default()
            );
        }
        for p in &v.problems {
            println!("BROKEN: {p}");
        }
        if v.intact() {
            println!("the audit trail is intact");
        }
    }
    if !v.intact() {
        anyhow::bail!(
            "the audit trail has been tampered with: {} findings",
            v.problems.len()
        );
    }
    Ok(())
}

/// `audit checkpoint`: seals, then prints the head as a JSON line.
async fn checkpoint(state: &AppState) -> anyhow::Result<()> {
    let key = ChainKey::from_master(&state.master);
    chain::seal(&state.db, &key).await?;
    match chain::head(&state.db, &key, state.clock.now()).await? {
        Some(cp) => println!("{}", serde_json::to_string(&cp)?),
        None => anyhow::bail!("the audit trail is empty: no checkpoint to write"),
    }
    Ok(())
}

/// `audit purge --before DAY`.
async fn purge(state: &AppState, before: &str) -> anyhow::Result<()> {
    let day = chrono::NaiveDate::parse_from_str(before.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("--before must be a date YYYY-MM-DD, not {before:?}"))?;
    let cutoff = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default();
    let now = state.clock.now();
    if cutoff > now {
        anyhow::bail!("--before {before} is in the future: nothing that recent may be purged");
    }
    let key = ChainKey::from_master(&state.master);
    chain::seal(&state.db, &key).await?;
    let purged = chain::purge_before(&state.db, &key, cutoff, now).await?;
    state
        .audit
        .record(
            AuditEvent::success("audit_purged")
                .actor(ACTOR)
                .details(serde_json::json!({ "events": purged, "before": before })),
        )
        .await;
    println!("{purged} audit events written before {before} purged");
    Ok(())
}
