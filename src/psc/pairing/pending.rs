//! Pending CIBA pairing requests as the browser sees them: bound to the session (browser and
//! person) that started them; another session learns nothing about them.

use super::PairingError;
use crate::psc::Ecps;
use crate::storage::pairings::{self, RequestRecord};

/// The session that asks about a request.
#[derive(Debug, Clone)]
pub struct Asker<'a> {
    pub session_id: &'a str,
    pub identity_id: &'a str,
}

/// A request, only for the session and person that started it.
pub async fn request_for(
    state: &Ecps<'_>,
    request_id: &str,
    asker: &Asker<'_>,
) -> Result<RequestRecord, PairingError> {
    let r = pairings::request(state.db.pool(), request_id)
        .await?
        .ok_or(PairingError::RequestUnknown)?;
    if r.session_id != asker.session_id || r.identity_id != asker.identity_id {
        return Err(PairingError::RequestForeign);
    }
    Ok(effective(r, state.clock.now()))
}

/// The latest pairing request of this session (the wait survives a reload).
pub async fn latest_for(
    state: &Ecps<'_>,
    asker: &Asker<'_>,
) -> Result<Option<RequestRecord>, PairingError> {
    latest_of_purpose(state, asker, pairings::PURPOSE_PAIRING).await
}

/// The latest request of this session made for `purpose`.
pub async fn latest_of_purpose(
    state: &Ecps<'_>,
    asker: &Asker<'_>,
    purpose: &str,
) -> Result<Option<RequestRecord>, PairingError> {
    let r = pairings::latest_request_of_session(state.db.pool(), asker.session_id, purpose).await?;
    Ok(r.filter(|r| r.identity_id == asker.identity_id)
        .map(|r| effective(r, state.clock.now())))
}

/// A pending request past its expiry reads as expired before the worker settles it.
fn effective(mut r: RequestRecord, now: i64) -> RequestRecord {
    if r.state == "pending" && r.expires_at <= now {
        r.state = "expired".into();
    }
    r
}
