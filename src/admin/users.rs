//! Identities: creation, status changes (which revoke sessions and tokens), passwords, locks.

use secrecy::SecretString;
use serde_json::json;

use super::AdminError;
use crate::audit::AuditEvent;
use crate::authn::throttle;
use crate::directory::users as repo;
use crate::identity::{IdNat, LinkMethod, Status};
use crate::state::AppState;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::is_unique_violation;
use crate::storage::links::{self, LinkRecord};

/// A new identity.
#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub password: Option<SecretString>,
}

fn check_username(u: &str) -> Result<(), AdminError> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "the username {u:?} must be 1 to 64 characters among letters, digits and - . _ @"
        )))
    }
}

pub async fn create(
    state: &AppState,
    new: NewUser,
    actor: &str,
) -> Result<IdentityRecord, AdminError> {
    check_username(&new.username)?;
    if new.given_name.trim().is_empty() || new.family_name.trim().is_empty() {
        return Err(AdminError::Invalid(
            "given and family names must not be empty".into(),
        ));
    }
    if let Some(e) = &new.email
        && (!e.contains('@') || e.contains(char::is_whitespace))
    {
        return Err(AdminError::Invalid(format!("{e} is not an email address")));
    }
    let hash = match new.password {
        Some(p) => Some(
            state
                .hasher
                .hash(p)
                .await
                .map_err(|e| AdminError::Invalid(e.to_string()))?,
        ),
        None => None,
    };
    let now = state.clock.now();
    let rec = IdentityRecord {
        id: uuid::Uuid::now_v7().to_string(),
        username: new.username,
        given_name: new.given_name.trim().to_owned(),
        family_name: new.family_name.trim().to_owned(),
        email: new.email,
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
    let mut tx = state.db.begin().await?;
    match identities::insert(&mut tx, &rec).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(AdminError::Conflict(format!(
                "the username {} is taken: choose another",
                rec.username
            )));
        }
        other => other?,
    }
    if let Some(h) = &hash {
        identities::set_password(&mut tx, &rec.id, h, now).await?;
    }
    let ev = AuditEvent::success("user_created")
        .actor(actor)
        .subject(&rec.id)
        .details(json!({ "username": rec.username, "password": hash.is_some() }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(rec)
}

/// Finds an identity by username or id.
pub async fn find(state: &AppState, who: &str) -> Result<IdentityRecord, AdminError> {
    repo::find(&state.repository(), who).await
}

/// One page of the search over people: the start of a name, username, email, employee
/// number or IdNat (accents and case ignored), by identifier after `after`; at most `limit`
/// (1 to 500) and one more when there is a next page. The console and the admin API use it.
pub async fn search(
    state: &AppState,
    query: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<IdentityRecord>, AdminError> {
    let query: String = query.trim().chars().take(100).collect();
    let after: String = after.chars().take(64).collect();
    let limit = limit.clamp(1, 500);
    Ok(crate::storage::search::find(state.db.pool(), &query, &after, limit + 1).await?)
}

pub async fn list(state: &AppState) -> Result<Vec<IdentityRecord>, AdminError> {
    Ok(identities::list(state.db.pool()).await?)
}

/// Suspends an identity: ends its sessions (notifying their clients) and revokes its tokens.
pub async fn disable(
    state: &AppState,
    who: &str,
    reason: &str,
    actor: &str,
) -> Result<IdentityRecord, AdminError> {
    let i = find(state, who).await?;
    withdraw(state, &i.id, Status::Suspended, reason, actor, json!({})).await?;
    find(state, &i.id).await
}

/// Marks an identity as having left the establishment, revoking what it holds.
pub async fn mark_left(
    state: &AppState,
    who: &str,
    reason: &str,
    actor: &str,
) -> Result<IdentityRecord, AdminError> {
    let i = find(state, who).await?;
    withdraw(state, &i.id, Status::Left, reason, actor, json!({})).await?;
    find(state, &i.id).await
}

/// Sets a non-active status and revokes the identity's refresh tokens, audited in the same
/// transaction, then ends its sessions (each ending audited and notified to its clients).
pub async fn withdraw(
    state: &AppState,
    identity_id: &str,
    status: Status,
    reason: &str,
    actor: &str,
    details: serde_json::Value,
) -> Result<(), AdminError> {
    let repository = state.repository();
    repo::withdraw(&repository, identity_id, status, reason, actor, details).await
}

/// Ends every open session of an identity (a lost badge, a shared workstation): each ending
/// revokes the session's refresh tokens and sends back-channel logout to every client of the
/// session, Pro Santé Connect included. Answers how many sessions ended.
pub async fn end_sessions(state: &AppState, who: &str, actor: &str) -> Result<usize, AdminError> {
    let i = find(state, who).await?;
    let ctx = crate::audit::RequestContext::default();
    let ended = crate::session::end_all(&state.sessions(), &i.id, "admin_ended", &ctx)
        .await
        .map_err(AdminError::from)?;
    let ev = AuditEvent::success("sessions_ended")
        .actor(actor)
        .subject(&i.id)
        .details(json!({ "sessions": ended }));
    state.audit.record(ev).await;
    Ok(ended)
}

/// Ties an identity to a national identifier. One link per identity and per IdNat: an existing
/// link must be removed first.
pub async fn link_rpps(
    state: &AppState,
    who: &str,
    idnat: &IdNat,
    method: LinkMethod,
    actor: &str,
) -> Result<LinkRecord, AdminError> {
    repo::link_rpps(&state.repository(), who, idnat, method, actor).await
}

/// Removes the RPPS link of an identity; the removed link.
pub async fn unlink_rpps(
    state: &AppState,
    who: &str,
    actor: &str,
) -> Result<LinkRecord, AdminError> {
    let i = find(state, who).await?;
    let mut tx = state.db.begin().await?;
    let Some(old) = links::delete(&mut tx, &i.id).await? else {
        return Err(AdminError::NotFound(format!(
            "{} has no RPPS link",
            i.username
        )));
    };
    let ev = AuditEvent::success("rpps_unlinked")
        .actor(actor)
        .subject(&i.id)
        .details(json!({ "idnat": old.idnat, "method": old.method }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(old)
}

/// The RPPS link of an identity, if any.
pub async fn rpps_link(
    state: &AppState,
    identity_id: &str,
) -> Result<Option<LinkRecord>, AdminError> {
    Ok(links::of_identity(state.db.pool(), identity_id).await?)
}

pub async fn enable(
    state: &AppState,
    who: &str,
    actor: &str,
) -> Result<IdentityRecord, AdminError> {
    let i = find(state, who).await?;
    let mut tx = state.db.begin().await?;
    identities::set_status(&mut tx, &i.id, Status::Active, None, state.clock.now()).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("user_enabled")
                .actor(actor)
                .subject(&i.id),
        )
        .await?;
    tx.commit().await?;
    find(state, &i.id).await
}

pub async fn set_password(
    state: &AppState,
    who: &str,
    password: SecretString,
    actor: &str,
) -> Result<(), AdminError> {
    let i = find(state, who).await?;
    let hash = state
        .hasher
        .hash(password)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    identities::set_password(&mut tx, &i.id, &hash, state.clock.now()).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("password_set")
                .actor(actor)
                .subject(&i.id),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Lifts a throttling lock; true when the account was locked or had failures.
pub async fn unlock(state: &AppState, who: &str, actor: &str) -> Result<bool, AdminError> {
    let i = find(state, who).await?;
    let lifted = throttle::unlock(&state.db, &i.id).await?;
    let mut tx = state.db.begin().await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("user_unlocked")
                .actor(actor)
                .subject(&i.id)
                .details(json!({ "was_locked": lifted })),
        )
        .await?;
    tx.commit().await?;
    Ok(lifted)
}

/// Everything Trousseau holds about a person, for a subject-access request (GDPR article 15):
/// the identity, its RPPS link, security keys (without their public-key material), cards,
/// e-CPS pairings, open sessions (without their tokens) and every audit event about or by them.
/// Audited `subject_access_export` with the number of events.
pub async fn subject_access(
    state: &AppState,
    who: &str,
    actor: &str,
) -> Result<serde_json::Value, AdminError> {
    use crate::storage::audit::{self as audit_store, AuditPage, PersonMatch};
    use crate::storage::{cards, pairings, security_keys, sessions};
    let person = find(state, who).await?;
    let pool = state.db.pool();
    let id = person.id.as_str();
    let keys: Vec<serde_json::Value> = security_keys::of_identity(pool, id)
        .await?
        .into_iter()
        .map(|k| {
            json!({
                "id": k.id, "name": k.name, "credential_id": k.credential_id,
                "model": k.model, "aaguid": k.aaguid, "created_at": k.created_at,
                "created_via": k.created_via, "last_used_at": k.last_used_at,
                "flagged_at": k.flagged_at, "flag_reason": k.flag_reason,
                "revoked_at": k.revoked_at, "revoked_reason": k.revoked_reason,
            })
        })
        .collect();
    let open: Vec<serde_json::Value> = sessions::open_of_identity(pool, id)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id, "created_at": s.created_at, "last_active_at": s.last_active_at,
                "expires_at": s.expires_at, "auth_time": s.auth_time,
            })
        })
        .collect();
    let mut page = AuditPage {
        person: Some(PersonMatch {
            ids: vec![person.id.clone()],
            actors: vec![person.id.clone()],
        }),
        limit: 1_000,
        ..Default::default()
    };
    let mut events = Vec::new();
    loop {
        let rows = audit_store::page(pool, &page).await?;
        let full = rows.len() as i64 == page.limit;
        page.before = rows.last().map(|r| (r.at, r.id.clone()));
        events.extend(rows);
        if !full {
            break;
        }
    }
    let count = events.len();
    let export = json!({
        "generated_at": state.clock.now(),
        "identity": person,
        "rpps_link": links::of_identity(pool, id).await?,
        "security_keys": keys,
        "cards": cards::of_identity(pool, id).await?,
        "pairings": pairings::of_identity(pool, id).await?,
        "open_sessions": open,
        "audit_events": events,
    });
    state
        .audit
        .record(
            AuditEvent::success("subject_access_export")
                .actor(actor.to_owned())
                .subject(person.id.clone())
                .details(json!({ "events": count })),
        )
        .await;
    Ok(export)
}
