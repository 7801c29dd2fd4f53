//! `trousseau security-key …`: every person's FIDO2 keys, their revocation, and the review of
//! keys flagged as possibly cloned. Enrolment codes are issued with `trousseau user
//! enrolment-code`.

use clap::Subcommand;
use serde_json::json;

use super::output::{table, time};
use crate::admin::keys;
use crate::audit::RequestContext;
use crate::state::AppState;

const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum SecurityKeyCommand {
    /// List security keys: one person's (--user), or everyone's; with the model of each key.
    List {
        /// Username or identity id.
        #[arg(long)]
        user: Option<String>,
        /// Only keys suspended after a suspicious use (counter going backwards).
        #[arg(long)]
        flagged: bool,
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once: it can no longer sign in and the sessions that used it end.
    Revoke {
        /// The key's id (from `list`).
        id: String,
        #[arg(long, default_value = "revoked by an administrator")]
        reason: String,
    },
    /// Lift the suspension of a flagged key after checking it with its owner.
    Unflag { id: String },
}

pub async fn run(state: &AppState, c: SecurityKeyCommand) -> anyhow::Result<()> {
    match c {
        SecurityKeyCommand::List {
            user,
            flagged,
            all,
            json,
        } => {
            let list: Vec<_> = keys::list(state, user.as_deref(), flagged)
                .await?
                .into_iter()
                .filter(|k| all || k.revoked_at.is_none())
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|k| {
                    let status = if k.revoked_at.is_some() {
                        "revoked"
                    } else if k.flagged_at.is_some() {
                        "flagged"
                    } else {
                        "active"
                    };
                    vec![
                        k.id.clone(),
                        k.identity_id.clone(),
                        k.name.clone(),
                        k.model
                            .clone()
                            .or_else(|| k.aaguid.clone())
                            .unwrap_or_else(|| "(not attested)".into()),
                        status.to_owned(),
                        time(k.created_at),
                        k.last_used_at.map(time).unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            table(
                &[
                    "ID",
                    "IDENTITY",
                    "NAME",
                    "MODEL",
                    "STATUS",
                    "ENROLLED",
                    "LAST USED",
                ],
                &rows,
            );
        }
        SecurityKeyCommand::Revoke { id, reason } => {
            let done = keys::revoke(state, &id, ACTOR, &reason, &RequestContext::default()).await?;
            println!("{}", json!({ "key": id, "revoked": done }));
        }
        SecurityKeyCommand::Unflag { id } => {
            keys::unflag(state, &id, ACTOR).await?;
            println!("{}", json!({ "key": id, "flagged": false }));
        }
    }
    Ok(())
}
