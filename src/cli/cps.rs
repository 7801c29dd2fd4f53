//! `trousseau cps`: check a card certificate as a login would, list the cards seen, block and
//! unblock one card, bind a structure card, pre-register an expected IdNat.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{pairs, table, time};
use crate::authn::cps::check::read_pem_certs;
use crate::authn::cps::login::{Decision, decide};
use crate::authn::cps::{CardHolder, CheckedCard, Cps};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::state::AppState;
use crate::storage::{Db, cards};

#[derive(Debug, Subcommand)]
pub enum CpsCommand {
    /// Run the card-login checks on a certificate (PEM, the card's first, then any
    /// intermediates) with the configured anchors and revocation lists, then decide the login
    /// as the server would (policy, blocks, links, bindings, read from the database when it
    /// can be); print the verdict. Exit status: 0 accepted, 1 refused, 2 error.
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

/// `trousseau cps check FILE`: the certificate checks, then the login decision with the rule
/// or policy that made it, read from the database (blocks, RPPS links, bindings, the identity's
/// status) when it can be read, never written. Exit status 0 when a login with this card would
/// be accepted, 1 when it would be refused, 2 when that cannot be told (an error).
pub async fn check(
    settings: &Settings,
    file: &std::path::Path,
    at: Option<i64>,
) -> anyhow::Result<ExitCode> {
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
    let card = match cps.verdict(&cps_settings, &http, &chain, now).await {
        Ok(card) => card,
        Err(r) => {
            let mut items = vec![
                ("certificate", "refused".to_owned()),
                ("verdict", "refused".to_owned()),
                ("reason", r.refusal.reason().to_owned()),
                ("message", refusal_text(r.refusal)),
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
            return Ok(ExitCode::from(1));
        }
    };
    let mut items = vec![("certificate", "accepted".to_owned())];
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
    let (decision, unread) = match login_decision(settings, &card).await {
        Ok(d) => (Some(d), None),
        Err(why) => (Decision::by_policy_alone(settings, &card), Some(why)),
    };
    if let Some(why) = &unread {
        items.push(("database", format!("not read: {why}")));
    }
    let code = match decision {
        None => {
            items.push(("verdict", "undecided".into()));
            items.push((
                "policy",
                "the login decision needs the database (RPPS links, bindings, blocks)".into(),
            ));
            pairs(&items);
            anyhow::bail!(
                "the certificate passes the checks, but the login decision needs the database: {}",
                unread.unwrap_or_default()
            );
        }
        Some(d) => {
            let code = match d.outcome {
                Ok(_) => {
                    items.push(("verdict", "accepted".into()));
                    ExitCode::SUCCESS
                }
                Err(refusal) => {
                    items.push(("verdict", "refused".into()));
                    items.push(("reason", refusal.reason().to_owned()));
                    items.push(("message", refusal_text(refusal)));
                    ExitCode::from(1)
                }
            };
            items.push(("policy", d.rule));
            if let Some(i) = &d.identity {
                items.push(("identity", format!("{} ({})", i.username, i.status)));
            }
            code
        }
    };
    pairs(&items);
    Ok(code)
}

/// The French message a login page shows for a refusal.
fn refusal_text(refusal: crate::authn::cps::Refusal) -> String {
    crate::ui::i18n::card_refusal(&crate::ui::i18n::FR, refusal).to_owned()
}

/// The login decision read from the configured database, opened without creating or migrating
/// anything; why it could not be read otherwise.
async fn login_decision(settings: &Settings, card: &CheckedCard) -> Result<Decision, String> {
    let files = crate::app::resolved_files(settings);
    let db = Db::open_existing(&settings.database)
        .await
        .map_err(|e| format!("{e:#} ({files})"))?;
    match db.is_initialised().await {
        Ok(true) => {}
        Ok(false) => return Err(format!("the database holds no Trousseau tables ({files})")),
        Err(e) => return Err(format!("{e} ({files})")),
    }
    decide(db.pool(), settings, card)
        .await
        .map_err(|e| format!("{e} ({files})"))
}

pub async fn run(state: &AppState, cmd: CpsCommand) -> anyhow::Result<()> {
    use crate::admin::cards as admin;
    match cmd {
        CpsCommand::Check { .. } => anyhow::bail!("cps check runs on its own"),
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
