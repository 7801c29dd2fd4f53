//! Starting a pairing: the session rule first, then the e-CPS request to Pro Santé Connect.

use super::{PairingError, may_pair};
use crate::audit::RequestContext;
use crate::authn::level::Level;
use crate::state::AppState;
use crate::storage::pairings::RequestRecord;

/// Who starts a pairing, from which session.
#[derive(Debug, Clone)]
pub struct Starter<'a> {
    pub identity_id: &'a str,
    pub session_id: &'a str,
    pub level: Level,
}

/// Starts a CIBA pairing: the pending request the page then waits on.
pub async fn start_ciba(
    state: &AppState,
    who: &Starter<'_>,
    ctx: &RequestContext,
) -> Result<RequestRecord, PairingError> {
    let (_identity, _link) = may_pair(state, who.identity_id, who.level, ctx).await?;
    Err(PairingError::Disabled)
}

/// Starts a redirect pairing: the address of Pro Santé Connect's page to send the browser to.
pub async fn start_redirect(
    state: &AppState,
    who: &Starter<'_>,
    ctx: &RequestContext,
) -> Result<String, PairingError> {
    let (_identity, _link) = may_pair(state, who.identity_id, who.level, ctx).await?;
    Err(PairingError::Disabled)
}
