//! `trousseau pairing`: list e-CPS pairings (by status, those expiring soon), show a person's,
//! revoke one.

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Value, json};

use super::common::ACTOR;
use crate::admin::pairings::{REASON_MAX_CHARS, RevokeError};
use crate::admin::users;
use crate::cli::output::{pairs, table, time};
use crate::state::AppState;
use crate::storage::identities;
use crate::storage::pairings::{self, Filter, PairingRecord};

#[derive(Debug, Subcommand)]
pub enum PairingCommand {
    /// List pairings, newest first.
    List {
        /// Only pairings in this state now: active, expired, revoked.
        #[arg(long)]
        status: Option<String>,
        /// Only active pairings that expire within this many days.
        #[arg(long)]
        expiring_within: Option<u32>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the pairings of one person (by username or id), newest first.
    Show {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a pairing (by its id): the person must pair again.
    Revoke {
        id: String,
        /// Why (kept with the pairing and in the audit trail).
        #[arg(long)]
        reason: String,
    },
}

fn parse_filter(s: Option<&str>) -> anyhow::Result<Filter> {
    match crate::admin::pairings::parse_status(s) {
        Some(f) => Ok(f),
        None => bail!(
            "unknown status {:?}: active, expired or revoked",
            s.unwrap_or_default()
        ),
    }
}

fn pairing_json(p: &PairingRecord, username: Option<&str>, now: i64) -> Value {
    json!({
        "id": p.id, "identity_id": p.identity_id, "username": username, "idnat": p.idnat,
        "means": p.means, "validated_at": p.validated_at, "expires_at": p.expires_at,
        "status": p.status_at(now), "link_created": p.created_link == 1,
        "revoked_at": p.revoked_at, "revoked_by": p.revoked_by, "revoked_reason": p.revoked_reason,
    })
}

pub async fn pairing(state: &AppState, cmd: PairingCommand) -> anyhow::Result<()> {
    let now = state.clock.now();
    match cmd {
        PairingCommand::List {
            status,
            expiring_within,
            json,
        } => {
            let filter = parse_filter(status.as_deref())?;
            let before = expiring_within.map(|d| now + i64::from(d) * 86_400);
            let list = pairings::list(state.db.pool(), filter, now, before).await?;
            let people = identities::list(state.db.pool()).await?;
            let name = |id: &str| {
                people
                    .iter()
                    .find(|i| i.id == id)
                    .map(|i| i.username.clone())
            };
            if json {
                let out: Vec<Value> = list
                    .iter()
                    .map(|p| pairing_json(p, name(&p.identity_id).as_deref(), now))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        vec![
                            name(&p.identity_id).unwrap_or_default(),
                            p.idnat.clone(),
                            p.means.clone(),
                            p.status_at(now).to_owned(),
                            time(p.validated_at),
                            time(p.expires_at),
                            p.id.clone(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "USERNAME",
                        "IDNAT",
                        "MEANS",
                        "STATUS",
                        "VALIDATED",
                        "EXPIRES",
                        "ID",
                    ],
                    &rows,
                );
            }
        }
        PairingCommand::Show { user, json } => {
            let i = users::find(state, &user).await?;
            let list = pairings::of_identity(state.db.pool(), &i.id).await?;
            if json {
                let out: Vec<Value> = list
                    .iter()
                    .map(|p| pairing_json(p, Some(&i.username), now))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "user": i.username, "pairings": out }))?
                );
            } else if list.is_empty() {
                println!("{} has never been paired", i.username);
            } else {
                for (n, p) in list.iter().enumerate() {
                    if n > 0 {
                        println!();
                    }
                    let revoked = match (&p.revoked_at, &p.revoked_by, &p.revoked_reason) {
                        (Some(at), by, reason) => format!(
                            "{} by {} ({})",
                            time(*at),
                            by.clone().unwrap_or_default(),
                            reason.clone().unwrap_or_default()
                        ),
                        _ => String::new(),
                    };
                    pairs(&[
                        ("id", p.id.clone()),
                        ("username", i.username.clone()),
                        ("idnat", p.idnat.clone()),
                        ("means", p.means.clone()),
                        ("status", p.status_at(now).to_owned()),
                        ("validated_at", time(p.validated_at)),
                        ("expires_at", time(p.expires_at)),
                        ("link_created", (p.created_link == 1).to_string()),
                        ("revoked", revoked),
                    ]);
                }
            }
        }
        PairingCommand::Revoke { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why the pairing is revoked");
            }
            let ctx = crate::audit::RequestContext::default();
            let revoked =
                crate::admin::pairings::revoke(state, &id, ACTOR, reason.trim(), &ctx).await;
            let done = match revoked {
                Ok(done) => done,
                Err(RevokeError::Unknown | RevokeError::AlreadyRevoked) => {
                    bail!("no active pairing {id}: see `trousseau pairing list --status active`")
                }
                Err(RevokeError::Reason) => {
                    bail!("--reason: 1 to {REASON_MAX_CHARS} characters on one line")
                }
                Err(e) => return Err(e.into()),
            };
            let p = done.after;
            println!(
                "{}",
                json!({ "id": p.id, "identity_id": p.identity_id, "status": p.status_at(now),
                        "sessions_ended": done.sessions_ended })
            );
        }
    }
    Ok(())
}
