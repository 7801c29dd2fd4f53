//! A card login without the web: checks the certificate, records the card, finds the identity
//! (RPPS link; an expected IdNat; a structure-card binding; or, by policy, an identity created
//! from the RPPS index), and audits every refusal with its reason (cps.md, design.md
//! "Credential").

use std::collections::HashSet;

use rustls::pki_types::CertificateDer;
use serde_json::json;

use super::check::{CheckedCard, Refusal, Refused};
use super::subject::CardHolder;
use crate::app::AppState;
use crate::audit::{AuditEvent, RequestContext};
use crate::config::StructureCardPolicy;
use crate::identity::{LinkMethod, Status, name};
use crate::storage::cards::{self, Seen};
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::links::{self, LinkRecord};
use crate::storage::{Tx, rpps};

/// A card login that may proceed.
#[derive(Debug, Clone)]
pub struct CardLogin {
    pub identity_id: String,
    pub card: CheckedCard,
}

/// How the identity was found.
enum Found {
    Identity(String),
    /// An administrator expects this IdNat on this identity: link it now.
    Expected(String),
    /// Created from the RPPS index (policy `create_identities`).
    Create,
}

/// Checks the chain a browser presented and maps it to an identity; audits the refusals.
pub async fn authenticate(
    state: &AppState,
    chain: &[CertificateDer<'_>],
    ctx: &RequestContext,
) -> Result<CardLogin, Refusal> {
    let Some(cps) = state.cps.as_ref() else {
        return Err(Refusal::NoCard);
    };
    let now = state.clock.now();
    let card = match cps
        .verdict(&state.settings.cps, &state.http, chain, now)
        .await
    {
        Ok(c) => c,
        Err(r) => {
            audit_refusal(state, &r, None, None, ctx).await;
            return Err(r.refusal);
        }
    };
    let refuse = async |refusal: Refusal, subject: Option<&str>| {
        let r = Refused {
            refusal,
            issuer: Some(card.issuer.clone()),
            serial: Some(card.serial.clone()),
            detail: None,
        };
        audit_refusal(state, &r, Some(card.holder.idnat().as_str()), subject, ctx).await;
        refusal
    };
    let pool = state.db.pool();
    let known = match cards::find(pool, &card.issuer, &card.serial).await {
        Ok(k) => k,
        Err(_) => return Err(Refusal::Unavailable),
    };
    if let Some(k) = &known
        && k.blocked_at.is_some()
    {
        return Err(refuse(Refusal::Blocked, k.identity_id.as_deref()).await);
    }
    let idnat = card.holder.idnat().as_str().to_owned();
    let found = match &card.holder {
        CardHolder::Personal { .. } => match links::by_idnat(pool, &idnat).await {
            Ok(Some(l)) => Some(Found::Identity(l.identity_id)),
            Ok(None) => match cards::expectation(pool, &idnat).await {
                // Only an identity still without a link may take the expected IdNat.
                Ok(Some(id)) => match links::of_identity(pool, &id).await {
                    Ok(None) => Some(Found::Expected(id)),
                    Ok(Some(_)) => None,
                    Err(_) => return Err(Refusal::Unavailable),
                },
                Ok(None) if state.settings.cps.create_identities => {
                    match works_here(state, &idnat).await {
                        Ok(true) => Some(Found::Create),
                        Ok(false) => None,
                        Err(_) => return Err(Refusal::Unavailable),
                    }
                }
                Ok(None) => None,
                Err(_) => return Err(Refusal::Unavailable),
            },
            Err(_) => return Err(Refusal::Unavailable),
        },
        CardHolder::Structure { .. } => {
            if state.settings.cps.structure_cards == StructureCardPolicy::Refuse {
                remember(state, &card, None).await;
                return Err(refuse(Refusal::StructureRefused, None).await);
            }
            match cards::binding(pool, &idnat).await {
                Ok(b) => b.map(Found::Identity),
                Err(_) => return Err(Refusal::Unavailable),
            }
        }
    };
    let Some(found) = found else {
        remember(state, &card, None).await;
        return Err(refuse(Refusal::NotLinked, None).await);
    };
    let link_now = matches!(found, Found::Expected(_));
    let identity = match found {
        Found::Identity(id) | Found::Expected(id) => {
            match identities::by_id(pool, &id).await {
                Ok(Some(i)) => Some(i),
                // A link or binding always names an existing identity (foreign keys).
                Ok(None) | Err(_) => return Err(Refusal::Unavailable),
            }
        }
        Found::Create => None,
    };
    if let Some(i) = &identity
        && i.status != Status::Active.as_str()
    {
        remember(state, &card, None).await;
        return Err(refuse(Refusal::Suspended, Some(&i.id)).await);
    }
    let identity_id = match settle(state, &card, identity, link_now, now, ctx).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = ?e, "cannot record the card login");
            return Err(Refusal::Unavailable);
        }
    };
    if let Some(note) = card.revocation_note {
        state
            .audit
            .record(
                AuditEvent::success("card_revocation_unchecked")
                    .reason(note)
                    .subject(&identity_id)
                    .context(ctx)
                    .details(json!({ "issuer": card.issuer, "serial": card.serial })),
            )
            .await;
    }
    Ok(CardLogin { identity_id, card })
}

/// In one transaction: the RPPS link of a first card login (expected IdNat) or the identity
/// created from the RPPS index, and the card's use.
async fn settle(
    state: &AppState,
    card: &CheckedCard,
    identity: Option<IdentityRecord>,
    link_now: bool,
    now: i64,
    ctx: &RequestContext,
) -> anyhow::Result<String> {
    let idnat = card.holder.idnat().as_str();
    let mut tx = state.db.begin().await?;
    let id = match identity {
        Some(i) => {
            if link_now {
                link(state, &mut tx, &i.id, idnat, now, ctx).await?;
                cards::fulfil_expectation(&mut tx, idnat).await?;
            }
            i.id
        }
        None => create(state, &mut tx, card, now, ctx).await?,
    };
    cards::record_seen(&mut tx, &seen(card, Some(&id), now)).await?;
    tx.commit().await?;
    Ok(id)
}

fn seen<'a>(card: &'a CheckedCard, identity_id: Option<&'a str>, now: i64) -> Seen<'a> {
    let holder = match &card.holder {
        CardHolder::Personal {
            family_name,
            given_name,
            ..
        } => format!("{given_name} {family_name}"),
        CardHolder::Structure { organisation, .. } => organisation.clone().unwrap_or_default(),
    };
    Seen {
        issuer: &card.issuer,
        serial: &card.serial,
        idnat: card.holder.idnat().as_str(),
        holder,
        not_after: card.not_after,
        identity_id,
        now,
    }
}

/// Records a card seen by a refused login (its first sight), so that it can be listed.
async fn remember(state: &AppState, card: &CheckedCard, identity_id: Option<&str>) {
    let now = state.clock.now();
    let result = async {
        let mut tx = state.db.begin().await?;
        cards::record_seen(&mut tx, &seen(card, identity_id, now)).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot record a card seen");
    }
}

async fn link(
    state: &AppState,
    tx: &mut Tx,
    identity_id: &str,
    idnat: &str,
    now: i64,
    ctx: &RequestContext,
) -> Result<(), sqlx::Error> {
    let rec = LinkRecord {
        identity_id: identity_id.to_owned(),
        idnat: idnat.to_owned(),
        method: LinkMethod::CpsCard.as_str().into(),
        linked_at: now,
        linked_by: "card_login".into(),
    };
    links::insert(tx, &rec).await?;
    let ev = AuditEvent::success("rpps_linked")
        .actor("card_login")
        .subject(identity_id)
        .context(ctx)
        .details(json!({ "idnat": idnat, "method": rec.method }));
    state.audit.in_tx(tx, ev).await
}

/// Whether the RPPS index shows an activity of `idnat` at one of the establishment's FINESS.
async fn works_here(state: &AppState, idnat: &str) -> Result<bool, sqlx::Error> {
    let ours: HashSet<&str> = state
        .settings
        .establishment
        .finess
        .iter()
        .map(|f| f.as_str())
        .collect();
    Ok(rpps::activities(state.db.pool(), idnat)
        .await?
        .iter()
        .any(|a| {
            [&a.finess_site, &a.finess_ej]
                .into_iter()
                .flatten()
                .any(|f| ours.contains(f.as_str()))
        }))
}

/// Creates the identity of a card holder known to the RPPS index here, with its link.
async fn create(
    state: &AppState,
    tx: &mut Tx,
    card: &CheckedCard,
    now: i64,
    ctx: &RequestContext,
) -> anyhow::Result<String> {
    let CardHolder::Personal {
        idnat,
        family_name,
        given_name,
        ..
    } = &card.holder
    else {
        anyhow::bail!("only a personal card creates an identity");
    };
    let stem = name::username_stem(given_name, family_name);
    let taken: HashSet<String> = identities::usernames_like(state.db.pool(), &stem)
        .await?
        .into_iter()
        .collect();
    let username = std::iter::once(stem.clone())
        .chain((2..).map(|n| format!("{stem}{n}")))
        .find(|u| !taken.contains(u))
        .unwrap_or(stem);
    let rec = IdentityRecord {
        id: uuid::Uuid::now_v7().to_string(),
        username,
        given_name: given_name.clone(),
        family_name: family_name.clone(),
        email: None,
        status: Status::Active.as_str().into(),
        status_reason: None,
        status_at: Some(now),
        created_at: now,
        updated_at: now,
        employee_number: None,
        department: None,
        hr_arrival: None,
        hr_departure: None,
        birth_date: None,
    };
    identities::insert(tx, &rec).await?;
    let ev = AuditEvent::success("user_created")
        .actor("card_login")
        .subject(&rec.id)
        .context(ctx)
        .details(json!({ "username": rec.username, "idnat": idnat, "source": "rpps_index" }));
    state.audit.in_tx(tx, ev).await?;
    link(state, tx, &rec.id, idnat.as_str(), now, ctx).await?;
    Ok(rec.id)
}

async fn audit_refusal(
    state: &AppState,
    r: &Refused,
    idnat: Option<&str>,
    subject: Option<&str>,
    ctx: &RequestContext,
) {
    let mut ev = AuditEvent::failure("card_login", r.refusal.reason())
        .context(ctx)
        .details(
            json!({ "issuer": r.issuer, "serial": r.serial, "idnat": idnat, "detail": r.detail }),
        );
    if let Some(s) = subject {
        ev = ev.subject(s);
    }
    state.audit.record(ev).await;
}
