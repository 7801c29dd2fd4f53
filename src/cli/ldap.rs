//! `trousseau ldap`: check the directory configuration, synchronise, list runs, show a
//! person's directory accounts.

use clap::Subcommand;

use super::output::{pairs, table, time};
use crate::admin::users::find;
use crate::directory::ldap::{SyncOptions, sync};
use crate::ldap::check;
use crate::state::AppState;
use crate::storage::directory as store;

#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Check the [ldap] configuration against the live directory: each server (TLS included),
    /// the service account, the bases and the filters.
    Test {
        /// Also look this login up.
        #[arg(long, value_name = "LOGIN")]
        user: Option<String>,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Synchronise users and groups into the identity repository. Incremental after the first
    /// full run.
    Sync {
        /// Read every user (also finds deleted accounts on OpenLDAP).
        #[arg(long)]
        full: bool,
        /// Apply deletions even when more than 10 % of the accounts would go.
        #[arg(long)]
        allow_mass_delete: bool,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the last synchronisation runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show the directory accounts of a user (username or id).
    Show {
        user: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(state: &AppState, cmd: LdapCommand) -> anyhow::Result<()> {
    match cmd {
        LdapCommand::Test { user, json } => {
            let Some(dir) = &state.directory else {
                anyhow::bail!(
                    "no directory is configured: set [ldap] servers (and user_base, service_dn) in the configuration file"
                );
            };
            let checks = check::run(dir, user.as_deref()).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&checks)?);
            } else {
                for c in &checks {
                    println!(
                        "{} {:<28} {}",
                        if c.ok { "ok  " } else { "FAIL" },
                        c.step,
                        c.detail
                    );
                }
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            if failed > 0 {
                anyhow::bail!(
                    "{failed} check(s) failed: fix the [ldap] settings named above and run `trousseau ldap test` again"
                );
            }
        }
        LdapCommand::Sync {
            full,
            allow_mass_delete,
            json,
        } => {
            let started = std::time::Instant::now();
            let r = sync(
                &state.repository(),
                SyncOptions {
                    full,
                    allow_mass_delete,
                },
            )
            .await?;
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["duration_ms"] = serde_json::json!(started.elapsed().as_millis() as u64);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "directory sync {} ({}): {} accounts read, {} created, {} linked, {} updated, {} unchanged, {} disabled, {} enabled again, {} deleted, {} conflicts, {} groups, in {:.1} s",
                    r.id,
                    r.mode,
                    r.seen,
                    r.created,
                    r.linked,
                    r.updated,
                    r.unchanged,
                    r.disabled,
                    r.enabled,
                    r.deleted,
                    r.conflicts,
                    r.group_count,
                    started.elapsed().as_secs_f64()
                );
                if r.conflicts > 0 {
                    eprintln!(
                        "{} directory account(s) could not be linked without merging two people: see `trousseau audit list --kind directory_account_conflict`",
                        r.conflicts
                    );
                }
            }
        }
        LdapCommand::Runs { limit, json } => {
            let runs = store::runs(state.db.pool(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = runs
                .into_iter()
                .map(|r| {
                    vec![
                        time(r.started_at),
                        r.mode,
                        r.seen.to_string(),
                        r.created.to_string(),
                        r.updated.to_string(),
                        r.disabled.to_string(),
                        r.deleted.to_string(),
                        r.conflicts.to_string(),
                        r.finished_at
                            .map(|f| format!("{} s", f - r.started_at))
                            .unwrap_or_default(),
                        r.error.unwrap_or_else(|| "ok".into()),
                    ]
                })
                .collect();
            table(
                &[
                    "STARTED",
                    "MODE",
                    "READ",
                    "CREATED",
                    "UPDATED",
                    "DISABLED",
                    "DELETED",
                    "CONFLICTS",
                    "TOOK",
                    "OUTCOME",
                ],
                &rows,
            );
        }
        LdapCommand::Show { user, json } => {
            let i = find(state, &user).await?;
            let accounts = store::of_identity(state.db.pool(), &i.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&accounts)?);
                return Ok(());
            }
            if accounts.is_empty() {
                println!("{} has no directory account", i.username);
            }
            for a in accounts {
                pairs(&[
                    ("dn", a.dn.clone()),
                    ("login", a.username.clone()),
                    ("upn", a.upn.clone().unwrap_or_default()),
                    (
                        "state",
                        if a.deleted == 1 {
                            "deleted".into()
                        } else if a.enabled == 1 {
                            "enabled".into()
                        } else {
                            "disabled".into()
                        },
                    ),
                    ("roles", a.roles().join(", ")),
                    ("groups", a.groups().len().to_string()),
                    ("last seen", time(a.seen_at)),
                ]);
                println!();
            }
        }
    }
    Ok(())
}
