//! `trousseau cps`: check a card certificate as a login would, list the cards seen, block and
//! unblock one card, bind a structure card, pre-register an expected IdNat.

use clap::Subcommand;
use std::path::PathBuf;

use super::output::{pairs, table, time};
use crate::app::AppState;
use crate::authn::cps::check::read_pem_certs;
use crate::authn::cps::{CardHolder, Cps};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::storage::cards;

#[derive(Debug, Subcommand)]
pub enum CpsCommand {
    /// Run the card-login checks on a certificate (PEM, the card's first, then any
    /// intermediates) with the configured anchors and revocation lists; print the verdict.
    Check {
        file: PathBuf,
        /// Check at this unix time instead of now.
        #[arg(long)]
        at: Option<i64>,
    },
    /// List the card certificates seen and blocked.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Block one card at once (ISSUER and SERIAL as `cps list` or `cps check` print them);
    /// ends the sessions of its holder.
    Block {
        issuer: String,
        serial: String,
        #[arg(long, default_value = "blocked by an administrator")]
        reason: String,
    },
    /// Lift a block.
    Unblock { issuer: String, serial: String },
    /// Bind a structure card (CPE/CPA, e.g. 3750712184/E123) to an identity
    /// (needs `cps.structure_cards = "bound"`).
    Bind { idnat: String, username: String },
    /// Let the first card login with this IdNat link the identity USERNAME to it.
    Expect { username: String, idnat: String },
}

/// `cps check` reads no database; the other commands do.
pub fn needs_database(cmd: &CpsCommand) -> bool {
    !matches!(cmd, CpsCommand::Check { .. })
}

/// `trousseau cps check FILE`: exit status 0 when a login with this certificate would pass
/// the certificate checks (the mapping to an identity is not part of them).
pub async fn check(
    settings: &Settings,
    file: &std::path::Path,
    at: Option<i64>,
) -> anyhow::Result<()> {
    let mut cps_settings = settings.cps.clone();
    cps_settings.enabled = true;
    let cps =
        Cps::new(&cps_settings)?.ok_or_else(|| anyhow::anyhow!("card login is not configured"))?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    if !cps_settings.crl_urls.is_empty() {
        for line in cps.refresh(&cps_settings, &http).await {
            println!("revocation list: {line}");
        }
    }
    for list in cps.verifier.crls.all() {
        let next = list.next_update.map(time).unwrap_or_else(|| "-".into());
        println!(
            "revocation list of {}: {} revoked, next update {next}",
            list.issuer,
            list.len()
        );
    }
    let chain = read_pem_certs(file)?;
    let now = at.unwrap_or_else(|| SystemClock.now());
    match cps.verdict(&cps_settings, &http, &chain, now).await {
        Ok(card) => {
            let mut items = vec![("verdict", "accepted".to_owned())];
            match &card.holder {
                CardHolder::Personal {
                    idnat,
                    family_name,
                    given_name,
                    profession,
                } => {
                    items.push(("card", "personal (CPS)".into()));
                    items.push(("idnat", idnat.to_string()));
                    items.push(("name", format!("{given_name} {family_name}")));
                    items.push(("profession", profession.clone().unwrap_or_default()));
                }
                CardHolder::Structure {
                    idnat,
                    organisation,
                    label,
                } => {
                    items.push(("card", "structure (CPE/CPA)".into()));
                    items.push(("idnat", idnat.to_string()));
                    items.push(("organisation", organisation.clone().unwrap_or_default()));
                    items.push(("label", label.clone().unwrap_or_default()));
                }
            }
            items.push(("issuer", card.issuer.clone()));
            items.push(("serial", card.serial.clone()));
            items.push((
                "valid",
                format!("{} to {}", time(card.not_before), time(card.not_after)),
            ));
            if let Some(note) = card.revocation_note {
                items.push((
                    "revocation",
                    format!("not checked ({note}), accepted by policy"),
                ));
            }
            pairs(&items);
            Ok(())
        }
        Err(r) => {
            let mut items = vec![
                ("verdict", "refused".to_owned()),
                ("reason", r.refusal.reason().to_owned()),
                (
                    "message",
                    crate::web::i18n::card_refusal(&crate::web::i18n::FR, r.refusal).to_owned(),
                ),
            ];
            if let Some(i) = &r.issuer {
                items.push(("issuer", i.clone()));
            }
            if let Some(s) = &r.serial {
                items.push(("serial", s.clone()));
            }
            if let Some(d) = &r.detail {
                items.push(("detail", d.clone()));
            }
            pairs(&items);
            anyhow::bail!("the certificate is refused: {}", r.refusal.reason())
        }
    }
}

pub async fn run(state: &AppState, cmd: CpsCommand) -> anyhow::Result<()> {
    use crate::admin::cards as admin;
    match cmd {
        CpsCommand::Check { .. } => anyhow::bail!("cps check runs without the database"),
        CpsCommand::List { limit } => {
            let rows: Vec<Vec<String>> = cards::list(state.db.pool(), limit)
                .await?
                .into_iter()
                .map(|c| {
                    vec![
                        c.serial,
                        c.idnat.unwrap_or_default(),
                        c.holder.unwrap_or_default(),
                        c.last_used_at.map(time).unwrap_or_default(),
                        c.blocked_at
                            .map(|t| format!("blocked {}", time(t)))
                            .unwrap_or_default(),
                        c.issuer,
                    ]
                })
                .collect();
            table(
                &["serial", "idnat", "holder", "last use", "block", "issuer"],
                &rows,
            );
        }
        CpsCommand::Block {
            issuer,
            serial,
            reason,
        } => {
            if admin::block(state, &issuer, &serial, &reason, "cli").await? {
                println!("card {serial} blocked; its holder's sessions are ended");
            } else {
                println!("card {serial} was already blocked");
            }
        }
        CpsCommand::Unblock { issuer, serial } => {
            admin::unblock(state, &issuer, &serial, "cli").await?;
            println!("card {serial} unblocked");
        }
        CpsCommand::Bind { idnat, username } => {
            admin::bind(state, &idnat, &username, "cli").await?;
            println!("structure card {idnat} bound to {username}");
        }
        CpsCommand::Expect { username, idnat } => {
            admin::expect(state, &username, &idnat, "cli").await?;
            println!("the first card login with {idnat} will link {username}");
        }
    }
    Ok(())
}
