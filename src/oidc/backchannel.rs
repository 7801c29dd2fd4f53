//! OpenID Connect Back-Channel Logout 1.0: logout tokens queued in the database in the same
//! transaction that ends the session, delivered by whichever node claims them, retried with
//! exponential back-off.

use serde_json::json;

use super::client::ClientCache;
use super::keys::KeyRing;
use super::mint;
use crate::audit::{Audit, AuditEvent};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::storage::sessions::{self, SessionRecord};
use crate::storage::{Db, Tx, logout};

/// What queueing and delivering logout tokens use, lent by the application state
/// (`AppState::backchannel`).
pub struct Backchannel<'a> {
    pub settings: &'a Settings,
    pub db: &'a Db,
    pub clock: &'a SharedClock,
    pub keys: &'a KeyRing,
    pub clients: &'a ClientCache,
    pub audit: &'a Audit,
    pub http: &'a reqwest::Client,
}

/// Queues a logout token for every client of the session that registered a back-channel URI.
pub async fn enqueue(
    state: &Backchannel<'_>,
    tx: &mut Tx,
    session: &SessionRecord,
) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let issuer = state.settings.issuer();
    let keys = state.keys.get().await?;
    let mut queued = 0;
    for client_id in sessions::clients(tx, &session.id).await? {
        let Some(client) = state.clients.get(&client_id).await? else {
            continue;
        };
        let Some(uri) = &client.backchannel_logout_uri else {
            continue;
        };
        let token = mint::logout_token(
            &keys,
            &issuer,
            &client,
            &session.identity_id,
            &session.id,
            now,
        )?;
        logout::enqueue(
            tx,
            &uuid::Uuid::now_v7().to_string(),
            client.id.as_str(),
            uri,
            &token,
            now,
        )
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// Delivers every due logout token once; returns how many were attempted.
pub async fn deliver_due(state: &Backchannel<'_>) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let lease = state.settings.logout.timeout_secs as i64 + 5;
    let batch = logout::claim_due(state.db.pool(), now, lease, 20).await?;
    let count = batch.len();
    for d in batch {
        let result = state
            .http
            .post(&d.uri)
            .form(&[("logout_token", d.logout_token.as_str())])
            .send()
            .await;
        let error = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Some(if e.is_timeout() {
                "timeout".to_owned()
            } else {
                "connection failed".to_owned()
            }),
        };
        let now = state.clock.now();
        match error {
            None => {
                logout::mark_done(state.db.pool(), &d.id, now).await?;
                state
                    .audit
                    .record(
                        AuditEvent::success("backchannel_logout")
                            .client(&d.client_id)
                            .details(json!({ "attempt": d.attempts + 1 })),
                    )
                    .await;
            }
            Some(err) if d.attempts < state.settings.logout.retries => {
                let backoff = state.settings.logout.backoff_secs << d.attempts.clamp(0, 16);
                logout::mark_retry(state.db.pool(), &d.id, now + backoff, &err).await?;
            }
            Some(err) => {
                logout::mark_failed(state.db.pool(), &d.id, now, &err).await?;
                state
                    .audit
                    .record(
                        AuditEvent::failure("backchannel_logout", "delivery_failed")
                            .client(&d.client_id)
                            .details(json!({ "attempts": d.attempts + 1, "last_error": err })),
                    )
                    .await;
            }
        }
    }
    Ok(count)
}
