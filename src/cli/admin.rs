//! Subcommands that administer clients, users, keys and the audit trail.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

use super::output::{pairs, table, time};
use crate::admin::clients::{self as reg, ClientSpec};
use crate::admin::users::{self, NewUser};
use crate::app::AppState;
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::storage::audit::{self as audit_store, AuditFilter};
use crate::storage::from_json_list;

const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints one JSON object with client_id (and client_secret, shown once).
    Create(ClientCreate),
    /// List clients.
    List(JsonFlag),
    /// Show one client.
    Show {
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client: list flags replace the whole list.
    Update(ClientUpdate),
    /// Replace the secret of a confidential client (prints the new one once).
    RotateSecret {
        #[arg(long)]
        id: String,
    },
    /// Delete a client.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ClientCreate {
    /// Client identifier (letters, digits, - . _ :).
    #[arg(long)]
    id: String,
    /// Name shown to users on the consent screen.
    #[arg(long)]
    name: String,
    /// Allowed redirect URI, matched exactly (repeat for several).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Allowed post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Public client (no secret, PKCE mandatory).
    #[arg(long)]
    public: bool,
    /// Grant type (repeat): authorization_code, refresh_token, client_credentials.
    /// Default: authorization_code and refresh_token.
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<String>,
    /// Allowed scope (repeat). Default: openid profile email rpps offline_access.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Signature algorithm of this client's tokens.
    #[arg(long, default_value = "RS256", value_parser = ["RS256", "ES256", "PS256"])]
    signing_alg: String,
    /// URI that receives back-channel logout tokens.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// First-party application: no consent screen.
    #[arg(long)]
    first_party: bool,
    /// Do not require PKCE (only for a confidential relying party that cannot send it).
    #[arg(long)]
    no_pkce: bool,
    /// JWKS file of the client's public keys: the client authenticates with private_key_jwt.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// Minimum authentication level (acr) this client demands.
    #[arg(long)]
    min_acr: Option<String>,
    /// Maximum age in seconds of the authentication this client accepts.
    #[arg(long)]
    max_auth_age: Option<i64>,
    /// A resource server: may introspect the access tokens of every client (the others only
    /// their own).
    #[arg(long)]
    introspect: bool,
}

#[derive(Debug, Args)]
pub struct ClientUpdate {
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    #[arg(long = "grant", value_name = "GRANT")]
    grants: Vec<String>,
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    #[arg(long, value_parser = ["RS256", "ES256", "PS256"])]
    signing_alg: Option<String>,
    /// Back-channel logout URI; an empty value removes it.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    #[arg(long)]
    first_party: Option<bool>,
    #[arg(long)]
    require_pkce: Option<bool>,
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// Minimum level; an empty value removes it.
    #[arg(long)]
    min_acr: Option<String>,
    /// Maximum authentication age in seconds; 0 removes it.
    #[arg(long)]
    max_auth_age: Option<i64>,
    /// Resource server: `--introspect` (or `--introspect true`) makes it one, `--introspect
    /// false` makes it an ordinary client again.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    introspect: Option<bool>,
}

fn parse_grants(grants: &[String]) -> anyhow::Result<Vec<GrantType>> {
    grants
        .iter()
        .map(|g| g.parse::<GrantType>().map_err(anyhow::Error::msg))
        .collect()
}

fn read_jwks(path: &PathBuf) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the JWKS file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("the JWKS file {} is not JSON", path.display()))
}

pub async fn client(state: &AppState, cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(c) => {
            let grants = if c.grants.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                parse_grants(&c.grants)?
            };
            let scopes = if c.scopes.is_empty() {
                [
                    "openid",
                    "profile",
                    "email",
                    "rpps",
                    "roles",
                    "offline_access",
                ]
                .map(str::to_owned)
                .to_vec()
            } else {
                c.scopes
            };
            let spec = ClientSpec {
                id: c.id,
                name: c.name,
                redirect_uris: c.redirect_uris,
                post_logout_redirect_uris: c.post_logout_redirect_uris,
                public: c.public,
                grants,
                scopes,
                signing_alg: c
                    .signing_alg
                    .parse::<SigningAlg>()
                    .map_err(anyhow::Error::msg)?,
                backchannel_logout_uri: c.backchannel_logout_uri,
                first_party: c.first_party,
                require_pkce: !c.no_pkce,
                jwks: c.jwks.as_ref().map(read_jwks).transpose()?,
                min_acr: c.min_acr,
                max_auth_age: c.max_auth_age,
                introspect: c.introspect,
            };
            let secret = reg::create(state, &spec, ACTOR).await?;
            let mut out = json!({ "client_id": spec.id });
            if let Some(s) = secret {
                out["client_secret"] = json!(s);
            }
            println!("{out}");
        }
        ClientCommand::List(f) => {
            let list = reg::list(state).await?;
            if f.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &list.iter().map(reg::describe).collect::<Vec<_>>()
                    )?
                );
            } else {
                let rows = list
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.clone(),
                            c.name.clone(),
                            if c.public != 0 {
                                "public".into()
                            } else {
                                c.auth_method.clone()
                            },
                            from_json_list(&c.grants).join(","),
                            c.signing_alg.clone(),
                            from_json_list(&c.redirect_uris).join(" "),
                        ]
                    })
                    .collect::<Vec<_>>();
                table(
                    &[
                        "CLIENT_ID",
                        "NAME",
                        "AUTH",
                        "GRANTS",
                        "ALG",
                        "REDIRECT_URIS",
                    ],
                    &rows,
                );
            }
        }
        ClientCommand::Show { id, json } => {
            let c = reg::get(state, &id).await?;
            let d = reg::describe(&c);
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else if let Some(obj) = d.as_object() {
                let items: Vec<(&str, String)> = obj
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            },
                        )
                    })
                    .collect();
                pairs(&items);
            }
        }
        ClientCommand::Update(u) => {
            let mut spec = reg::spec_of(&reg::get(state, &u.id).await?);
            if let Some(n) = u.name {
                spec.name = n;
            }
            if !u.redirect_uris.is_empty() {
                spec.redirect_uris = u.redirect_uris;
            }
            if !u.post_logout_redirect_uris.is_empty() {
                spec.post_logout_redirect_uris = u.post_logout_redirect_uris;
            }
            if !u.grants.is_empty() {
                spec.grants = parse_grants(&u.grants)?;
            }
            if !u.scopes.is_empty() {
                spec.scopes = u.scopes;
            }
            if let Some(a) = u.signing_alg {
                spec.signing_alg = a.parse::<SigningAlg>().map_err(anyhow::Error::msg)?;
            }
            if let Some(b) = u.backchannel_logout_uri {
                spec.backchannel_logout_uri = (!b.is_empty()).then_some(b);
            }
            if let Some(f) = u.first_party {
                spec.first_party = f;
            }
            if let Some(p) = u.require_pkce {
                spec.require_pkce = p;
            }
            if let Some(j) = &u.jwks {
                spec.jwks = Some(read_jwks(j)?);
            }
            if let Some(a) = u.min_acr {
                spec.min_acr = (!a.is_empty()).then_some(a);
            }
            if let Some(m) = u.max_auth_age {
                spec.max_auth_age = (m > 0).then_some(m);
            }
            if let Some(i) = u.introspect {
                spec.introspect = i;
            }
            reg::update(state, &spec, ACTOR).await?;
            println!("{}", json!({ "client_id": spec.id, "updated": true }));
        }
        ClientCommand::RotateSecret { id } => {
            let secret = reg::rotate_secret(state, &id, ACTOR).await?;
            println!("{}", json!({ "client_id": id, "client_secret": secret }));
        }
        ClientCommand::Delete { id } => {
            reg::delete(state, &id, ACTOR).await?;
            println!("{}", json!({ "client_id": id, "deleted": true }));
        }
    }
    Ok(())
}

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
    /// Issue a one-time code that lets the person enrol a security key (hand it over after
    /// checking their identity in person); prints the code and its expiry.
    EnrolmentCode {
        user: String,
        /// Lifetime in hours (default: webauthn.enrolment_code_ttl_secs, 24 h).
        #[arg(long)]
        ttl_hours: Option<i64>,
        #[arg(long)]
        json: bool,
    },
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
                            i.status.clone(),
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
                    ("status", i.status.clone()),
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
            json,
        } => {
            let issued = crate::admin::keys::enrolment_code(
                state,
                &user,
                ttl_hours.map(|h| h * 3600),
                ACTOR,
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
                    super::output::time(issued.expires_at)
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
        UserCommand::UnlinkRpps { user } => {
            let l = users::unlink_rpps(state, &user, ACTOR).await?;
            println!("{}", json!({ "user": user, "unlinked": l.idnat }));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state.
    List(JsonFlag),
    /// Rotate: the published next key signs from now on; the current one stays published.
    Rotate {
        /// Only this algorithm (default: all).
        #[arg(long, value_parser = ["RS256", "ES256", "PS256"])]
        alg: Option<String>,
    },
}

pub async fn keys(state: &AppState, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List(f) => {
            let records = state.keys.records().await?;
            if f.json {
                let out: Vec<_> = records
                    .iter()
                    .map(|k| json!({ "kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at, "activated_at": k.activated_at, "retired_at": k.retired_at, "publish_until": k.publish_until }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let rows = records
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.alg.clone(),
                            k.state.clone(),
                            time(k.created_at),
                            k.publish_until.map(time).unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>();
                table(
                    &["KID", "ALG", "STATE", "CREATED", "PUBLISHED_UNTIL"],
                    &rows,
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let t = &state.settings.tokens;
            let publish =
                t.access_token_ttl_secs.max(t.id_token_ttl_secs) + t.key_publish_after_retire_secs;
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![a.parse::<SigningAlg>().map_err(anyhow::Error::msg)?],
                None => SigningAlg::ALL.to_vec(),
            };
            for a in algs {
                let kid = state.keys.rotate(a, publish).await?;
                let mut tx = state.db.begin().await?;
                state
                    .audit
                    .in_tx(
                        &mut tx,
                        crate::audit::AuditEvent::success("key_rotated")
                            .actor(ACTOR)
                            .details(json!({ "alg": a.as_str(), "kid": kid })),
                    )
                    .await?;
                tx.commit().await?;
                println!("{}", json!({ "alg": a.as_str(), "current_kid": kid }));
            }
        }
    }
    Ok(())
}

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
