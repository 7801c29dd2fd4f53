//! `trousseau client`: register, list, show, update and delete OpenID Connect clients.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

use super::common::{ACTOR, JsonFlag};
use crate::admin::clients::{self as reg, ClientSpec};
use crate::cli::output::{pairs, table};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::state::AppState;
use crate::storage::from_json_list;

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
    /// Pro Santé Connect's broker (PSC registered as a client): phishing-resistant
    /// multi-factor only, `psc.federation` age and pairing rules, `oid` and `tid` claims.
    #[arg(long)]
    psc_broker: bool,
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
    /// Pro Santé Connect's broker: `--psc-broker true` applies the federation profile,
    /// `--psc-broker false` makes it an ordinary client again.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    psc_broker: Option<bool>,
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
            // By default a client may ask for every person scope.
            let scopes = if c.scopes.is_empty() {
                crate::oidc::scope::PERSON_SCOPES
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
                psc_broker: c.psc_broker,
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
                            c.id.to_string(),
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
            if let Some(b) = u.psc_broker {
                spec.psc_broker = b;
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
