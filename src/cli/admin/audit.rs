//! `trousseau audit`: read the audit trail.

use clap::Subcommand;

use futures_util::StreamExt;
use std::io::Write;

use super::common::ACTOR;
use crate::admin::audit::{CriteriaText, Requester, export_csv, refuse_export};
use crate::admin::users;
use crate::audit::RequestContext;
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
    /// Export the audit trail to standard output, newest first, streamed (any size).
    Export {
        /// The only format: CSV, formula-like cells neutralised.
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
}

/// Formats of `audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
}

pub async fn audit(state: &AppState, cmd: AuditCommand) -> anyhow::Result<()> {
    let (kind, user, client, since, limit, json) = match cmd {
        AuditCommand::List {
            kind,
            user,
            client,
            since,
            limit,
            json,
        } => (kind, user, client, since, limit, json),
        AuditCommand::Export {
            format: ExportFormat::Csv,
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
            return export(state, &text).await;
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
async fn export(state: &AppState, text: &CriteriaText) -> anyhow::Result<()> {
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
    let csv = export_csv(state, &criteria, requester).await?;
    futures_util::pin_mut!(csv);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    while let Some(chunk) = csv.next().await {
        out.write_all(&chunk?)?;
    }
    out.flush()?;
    Ok(())
}
