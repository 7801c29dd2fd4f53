//! A card login without the web: checks the certificate, records the card, finds the identity
//! (RPPS link; an expected IdNat; a structure-card binding; or, by policy, an identity created
//! from the RPPS index), and audits every refusal with its reason (cps.md, design.md
//! "Credential").

use std::collections::HashSet;

use rustls::pki_types::CertificateDer;
use serde_json::json;
use sqlx::AnyPool;

use super::check::{CheckedCard, Refusal, Refused};
use super::subject::CardHolder;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Authn;
use crate::config::{Settings, StructureCardPolicy};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Identity(String),
    /// An administrator expects this IdNat on this identity: link it now.
    Expected(String),
    /// Created from the RPPS index (policy `create_identities`).
    Create,
}

/// What a login with a certificate that passed the checks decides, read from the database
/// (blocks, RPPS links, expected IdNats, structure-card bindings, the identity's status) and
/// the `[cps]` policy, before anything is written. The login and `trousseau cps check` share it.
#[derive(Debug, Clone)]
pub struct Decision {
    /// How the identity is found, or why the login is refused.
    pub outcome: Result<Found, Refusal>,
    /// The identity found, when there is one.
    pub identity: Option<IdentityRecord>,
    /// The identity a refusal is audited against.
    pub subject: Option<String>,
    /// The rule or policy that decided, in words.
    pub rule: String,
}

impl Decision {
    fn refused(refusal: Refusal, subject: Option<String>, rule: impl Into<String>) -> Decision {
        Decision {
            outcome: Err(refusal),
            identity: None,
            subject,
            rule: rule.into(),
        }
    }

    /// The decision the configuration alone makes, when the database cannot be read: only a
    /// policy that refuses every such card decides without it.
    pub fn by_policy_alone(settings: &Settings, card: &CheckedCard) -> Option<Decision> {
        if !settings.cps.enabled {
            return Some(Decision::refused(
                Refusal::NoCard,
                None,
                "cps.enabled = false: card login is off",
            ));
        }
        match &card.holder {
            CardHolder::Structure { .. }
                if settings.cps.structure_cards == StructureCardPolicy::Refuse =>
            {
                Some(Decision::refused(
                    Refusal::StructureRefused,
                    None,
                    "cps.structure_cards = \"refuse\"",
                ))
            }
            _ => None,
        }
    }
}

/// Decides a card login from the database and the configuration, writing nothing.
pub async fn decide(
    pool: &AnyPool,
    settings: &Settings,
    card: &CheckedCard,
) -> Result<Decision, sqlx::Error> {
    if !settings.cps.enabled {
        return Ok(Decision::by_policy_alone(settings, card)
            .unwrap_or_else(|| Decision::refused(Refusal::NoCard, None, "card login is off")));
    }
    if let Some(k) = cards::find(pool, &card.issuer, &card.serial).await?
        && k.blocked_at.is_some()
    {
        return Ok(Decision::refused(
            Refusal::Blocked,
            k.identity_id,
            "the card is blocked by an administrator (trousseau cps block)",
        ));
    }
    let idnat = card.holder.idnat().as_str();
    let (found, rule) = match &card.holder {
        CardHolder::Personal { .. } => match links::by_idnat(pool, idnat).await? {
            Some(l) => (
                Some(Found::Identity(l.identity_id)),
                "the RPPS link of the identity",
            ),
            None => match cards::expectation(pool, idnat).await? {
                // Only an identity still without a link may take the expected IdNat.
                Some(id) => match links::of_identity(pool, &id).await? {
                    None => (
                        Some(Found::Expected(id)),
                        "an IdNat expected by an administrator (trousseau cps expect)",
                    ),
                    Some(_) => (
                        None,
                        "the identity expecting this IdNat is linked to another one",
                    ),
                },
                None if settings.cps.create_identities => {
                    if works_here(pool, settings, idnat).await? {
                        (
                            Some(Found::Create),
                            "cps.create_identities = true and an RPPS activity at one of \
                             establishment.finess",
                        )
                    } else {
                        (
                            None,
                            "cps.create_identities = true, but no RPPS activity at one of \
                             establishment.finess",
                        )
                    }
                }
                None => (
                    None,
                    "no RPPS link, no expected IdNat, and cps.create_identities = false",
                ),
            },
        },
        CardHolder::Structure { .. } => {
            if let Some(d) = Decision::by_policy_alone(settings, card) {
                return Ok(d);
            }
            match cards::binding(pool, idnat).await? {
                Some(id) => (
                    Some(Found::Identity(id)),
                    "cps.structure_cards = \"bound\" and the card is bound (trousseau cps bind)",
                ),
                None => (
                    None,
                    "cps.structure_cards = \"bound\", but the card is not bound (trousseau cps \
                     bind)",
                ),
            }
        }
    };
    let Some(found) = found else {
        return Ok(Decision::refused(Refusal::NotLinked, None, rule));
    };
    let identity = match &found {
        // A link or binding always names an existing identity (foreign keys).
        Found::Identity(id) | Found::Expected(id) => Some(
            identities::by_id(pool, id)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?,
        ),
        Found::Create => None,
    };
    if let Some(i) = &identity
        && i.status != Status::Active
    {
        return Ok(Decision {
            outcome: Err(Refusal::Suspended),
            subject: Some(i.id.clone()),
            rule: format!("{rule}; the identity {} is {}", i.username, i.status),
            identity,
        });
    }
    Ok(Decision {
        outcome: Ok(found),
        identity,
        subject: None,
        rule: rule.to_owned(),
    })
}

/// Checks the chain a browser presented and maps it to an identity; audits the refusals.
pub async fn authenticate(
    state: &Authn<'_>,
    chain: &[CertificateDer<'_>],
    ctx: &RequestContext,
) -> Result<CardLogin, Refusal> {
    let Some(cps) = state.cps.as_ref() else {
        return Err(Refusal::NoCard);
    };
    let now = state.clock.now();
    let card = match cps
        .verdict(&state.settings.cps, state.http, chain, now)
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
    let Ok(decision) = decide(state.db.pool(), state.settings, &card).await else {
        return Err(Refusal::Unavailable);
    };
    let found = match decision.outcome {
        Ok(found) => found,
        // A blocked card is known already.
        Err(Refusal::Blocked) => {
            return Err(refuse(Refusal::Blocked, decision.subject.as_deref()).await);
        }
        Err(refusal) => {
            remember(state, &card, None).await;
            return Err(refuse(refusal, decision.subject.as_deref()).await);
        }
    };
    let link_now = matches!(found, Found::Expected(_));
    let identity_id = match settle(state, &card, decision.identity, link_now, now, ctx).await {
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
    state: &Authn<'_>,
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
async fn remember(state: &Authn<'_>, card: &CheckedCard, identity_id: Option<&str>) {
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
    state: &Authn<'_>,
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
async fn works_here(pool: &AnyPool, settings: &Settings, idnat: &str) -> Result<bool, sqlx::Error> {
    let ours: HashSet<&str> = settings
        .establishment
        .finess
        .iter()
        .map(|f| f.as_str())
        .collect();
    Ok(rpps::activities(pool, idnat).await?.iter().any(|a| {
        [&a.finess_site, &a.finess_ej]
            .into_iter()
            .flatten()
            .any(|f| ours.contains(f.as_str()))
    }))
}

/// Creates the identity of a card holder known to the RPPS index here, with its link.
async fn create(
    state: &Authn<'_>,
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
        status: Status::Active,
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
    state: &Authn<'_>,
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
