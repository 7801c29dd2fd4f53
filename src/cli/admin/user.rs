//! `trousseau user`: create, list and show identities, set passwords, issue enrolment codes,
//! unlock, mark departures, link or unlink RPPS records, and assign administration roles.

use anyhow::{Context, bail};
use clap::Subcommand;
use secrecy::SecretString;
use serde_json::json;
use std::io::Read;

use super::common::{ACTOR, JsonFlag};
use crate::admin::roles;
use crate::admin::users::{self, NewUser};
use crate::authn::webauthn::enrolment::IdentityCheckInput;
use crate::cli::output::{pairs, table, time};
use crate::identity::{AdminRole, IdentityDocument};
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an identity; prints one JSON object with its id (the immutable `sub`) and username.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        #[arg(long)]
        email: Option<String>,
        /// Read a local password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List identities.
    List(JsonFlag),
    /// Show one identity (by username or id).
    Show {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Suspend an identity: ends its sessions and revokes its tokens.
    Disable {
        user: String,
        /// Why (kept in the audit trail).
        #[arg(long, default_value = "disabled by an administrator")]
        reason: String,
    },
    /// End every session of an identity, with back-channel logout to each client of those
    /// sessions (Pro Santé Connect included); the account stays active.
    EndSessions { user: String },
    /// Everything held about a person, as JSON, for a subject-access request: identity, RPPS
    /// link, keys, cards, pairings, open sessions and their audit events.
    Export { user: String },
    /// Reactivate a suspended identity.
    Enable { user: String },
    /// Set the local password, read from standard input.
    SetPassword { user: String },
    /// Lift a lock set by brute-force throttling.
    Unlock { user: String },
    /// Mark an identity as having left: ends its sessions and revokes its tokens.
    Left {
        user: String,
        #[arg(long, default_value = "left the establishment")]
        reason: String,
    },
    /// Link an identity to its national identifier (IdNat: 8 + RPPS or 0 + ADELI).
    LinkRpps {
        user: String,
        idnat: String,
        /// How the link was established: admin, rpps_match_confirmed, cps_card, ecps.
        #[arg(long, default_value = "admin")]
        method: String,
    },
    /// Remove the RPPS link of an identity.
    UnlinkRpps { user: String },
    /// Issue a one-time code that lets the person enrol a security key, after checking their
    /// identity (recorded: who checked, which document, in person or remote); prints the code
    /// and its expiry.
    EnrolmentCode {
        user: String,
        /// Lifetime in hours (default: webauthn.enrolment_code_ttl_secs, 24 h).
        #[arg(long)]
        ttl_hours: Option<i64>,
        /// Name of the person who checked the identity (required unless
        /// enrolment.require_proofing = false).
        #[arg(long)]
        checked_by: Option<String>,
        /// The document shown: id_card, passport, residence_permit or cps_card.
        #[arg(long)]
        document: Option<IdentityDocument>,
        /// The identity was checked remotely (video), not in person.
        #[arg(long)]
        remote: bool,
        #[arg(long)]
        json: bool,
    },
    /// Administration roles (admin, helpdesk, auditor) assigned locally.
    #[command(subcommand)]
    Role(RoleCommand),
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Assign a role: admin, helpdesk or auditor.
    Add { user: String, role: AdminRole },
    /// Withdraw a locally assigned role (one from a directory group goes with the group).
    Remove { user: String, role: AdminRole },
    /// Show a person's roles and where each comes from.
    List {
        user: String,
        #[arg(long)]
        json: bool,
    },
}

/// The identity check typed on the command line: both or neither of name and document.
fn identity_check(
    checked_by: Option<String>,
    document: Option<IdentityDocument>,
    remote: bool,
) -> anyhow::Result<Option<IdentityCheckInput>> {
    match (checked_by, document) {
        (Some(checked_by), Some(document)) => Ok(Some(IdentityCheckInput {
            checked_by,
            document,
            remote,
        })),
        (None, None) if !remote => Ok(None),
        _ => bail!("an identity check needs both --checked-by NAME and --document TYPE"),
    }
}

async fn role(state: &AppState, cmd: RoleCommand) -> anyhow::Result<()> {
    match cmd {
        RoleCommand::Add { user, role } => {
            let changed = roles::add(state, &user, role, ACTOR).await?;
            println!(
                "{}",
                json!({ "user": user, "role": role, "added": changed })
            );
        }
        RoleCommand::Remove { user, role } => {
            let changed = roles::remove(state, &user, role, ACTOR).await?;
            if !changed {
                eprintln!(
                    "{user} had no local role {role} (a role from a directory group is withdrawn in the directory)"
                );
            }
            println!(
                "{}",
                json!({ "user": user, "role": role, "removed": changed })
            );
        }
        RoleCommand::List { user, json } => {
            let i = users::find(state, &user).await?;
            let s = roles::summary(state, &i.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let mut rows: Vec<Vec<String>> = s
                    .local
                    .iter()
                    .map(|g| {
                        vec![
                            g.role.clone(),
                            format!("local (by {} at {})", g.granted_by, time(g.granted_at)),
                        ]
                    })
                    .collect();
                rows.extend(
                    s.directory
                        .iter()
                        .map(|r| vec![r.to_string(), "directory group ([admin.roles])".into()]),
                );
                table(&["ROLE", "SOURCE"], &rows);
            }
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<SecretString> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    let line = input.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        bail!(
            "the password read from standard input is empty: pipe it in, e.g. `echo 'secret' | trousseau user set-password alice`"
        );
    }
    Ok(SecretString::from(line))
}

fn user_json(i: &crate::storage::identities::IdentityRecord) -> serde_json::Value {
    json!({
        "id": i.id, "username": i.username, "given_name": i.given_name, "family_name": i.family_name,
        "email": i.email, "status": i.status, "status_reason": i.status_reason, "created_at": i.created_at,
    })
}

pub async fn user(state: &AppState, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            given_name,
            family_name,
            email,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let i = users::create(
                state,
                NewUser {
                    username,
                    given_name,
                    family_name,
                    email,
                    password,
                },
                ACTOR,
            )
            .await?;
            println!("{}", json!({ "id": i.id, "username": i.username }));
        }
        UserCommand::List(f) => {
            let list = users::list(state).await?;
            if f.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list.iter().map(user_json).collect::<Vec<_>>())?
                );
            } else {
                let rows = list
                    .iter()
                    .map(|i| {
                        vec![
                            i.username.clone(),
                            format!("{} {}", i.given_name, i.family_name),
                            i.status.to_string(),
                            i.email.clone().unwrap_or_default(),
                            i.id.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                table(&["USERNAME", "NAME", "STATUS", "EMAIL", "ID"], &rows);
            }
        }
        UserCommand::Show { user, json } => {
            let i = users::find(state, &user).await?;
            let link = users::rpps_link(state, &i.id).await?;
            if json {
                let mut out = user_json(&i);
                out["employee_number"] = json!(i.employee_number);
                out["department"] = json!(i.department);
                out["hr_arrival"] = json!(i.hr_arrival);
                out["hr_departure"] = json!(i.hr_departure);
                out["birth_date"] = json!(i.birth_date);
                out["rpps_link"] = json!(link);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let link_text = link
                    .map(|l| {
                        format!(
                            "{} ({}, by {} at {})",
                            l.idnat,
                            l.method,
                            l.linked_by,
                            time(l.linked_at)
                        )
                    })
                    .unwrap_or_else(|| "none".into());
                pairs(&[
                    ("id", i.id.clone()),
                    ("username", i.username.clone()),
                    ("name", format!("{} {}", i.given_name, i.family_name)),
                    ("email", i.email.clone().unwrap_or_default()),
                    ("status", i.status.to_string()),
                    ("status_reason", i.status_reason.clone().unwrap_or_default()),
                    ("created_at", time(i.created_at)),
                    (
                        "employee_number",
                        i.employee_number.clone().unwrap_or_default(),
                    ),
                    ("department", i.department.clone().unwrap_or_default()),
                    ("hr_arrival", i.hr_arrival.clone().unwrap_or_default()),
                    ("hr_departure", i.hr_departure.clone().unwrap_or_default()),
                    ("rpps_link", link_text),
                ]);
            }
        }
        UserCommand::Disable { user, reason } => {
            let i = users::disable(state, &user, &reason, ACTOR).await?;
            println!(
                "{}",
                json!({ "id": i.id, "username": i.username, "status": i.status })
            );
        }
        UserCommand::Export { user } => {
            let export = users::subject_access(state, &user, ACTOR).await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        UserCommand::EndSessions { user } => {
            let ended = users::end_sessions(state, &user, ACTOR).await?;
            println!("{}", json!({ "user": user, "sessions_ended": ended }));
        }
        UserCommand::Enable { user } => {
            let i = users::enable(state, &user, ACTOR).await?;
            println!(
                "{}",
                json!({ "id": i.id, "username": i.username, "status": i.status })
            );
        }
        UserCommand::SetPassword { user } => {
            let password = read_password()?;
            users::set_password(state, &user, password, ACTOR).await?;
            println!("{}", json!({ "user": user, "password_set": true }));
        }
        UserCommand::EnrolmentCode {
            user,
            ttl_hours,
            checked_by,
            document,
            remote,
            json,
        } => {
            let check = identity_check(checked_by, document, remote)?;
            let issued = crate::admin::keys::enrolment_code(
                state,
                &user,
                ttl_hours.map(|h| h * 3600),
                ACTOR,
                check.as_ref(),
            )
            .await?;
            if json {
                println!(
                    "{}",
                    json!({ "user": user, "code": issued.code, "expires_at": issued.expires_at })
                );
            } else {
                println!("Enrolment code for {user}: {}", issued.code);
                println!(
                    "Valid once, until {} (UTC). Enrol at /keys/enrol.",
                    time(issued.expires_at)
                );
            }
        }
        UserCommand::Unlock { user } => {
            let lifted = users::unlock(state, &user, ACTOR).await?;
            println!("{}", json!({ "user": user, "was_locked": lifted }));
        }
        UserCommand::Left { user, reason } => {
            let i = users::mark_left(state, &user, &reason, ACTOR).await?;
            println!(
                "{}",
                json!({ "id": i.id, "username": i.username, "status": i.status })
            );
        }
        UserCommand::LinkRpps {
            user,
            idnat,
            method,
        } => {
            let id = crate::identity::IdNat::parse(&idnat)
                .map_err(|e| anyhow::anyhow!("{idnat} is not an IdNat: {e}"))?;
            let method = method
                .parse::<crate::identity::LinkMethod>()
                .map_err(anyhow::Error::msg)?;
            if id.luhn_warning() {
                eprintln!("warning: {id} fails the Luhn check usually seen on RPPS/ADELI numbers");
            }
            let l = users::link_rpps(state, &user, &id, method, ACTOR).await?;
            println!(
                "{}",
                json!({ "user": user, "idnat": l.idnat, "method": l.method, "test_number": id.is_test() })
            );
        }
        UserCommand::Role(cmd) => role(state, cmd).await?,
        UserCommand::UnlinkRpps { user } => {
            let l = users::unlink_rpps(state, &user, ACTOR).await?;
            println!("{}", json!({ "user": user, "unlinked": l.idnat }));
        }
    }
    Ok(())
}
