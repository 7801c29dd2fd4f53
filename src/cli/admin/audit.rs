//! `trousseau audit`: read the audit trail.

use clap::Subcommand;

use crate::admin::users;
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
}

pub async fn audit(state: &AppState, cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        kind,
        user,
        client,
        since,
        limit,
        json,
    } = cmd;
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
