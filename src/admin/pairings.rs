//! e-CPS pairings: revoking one (a lost phone, a mistaken pairing) also ends the sessions that
//! came through Pro Santé Connect, which must not keep the person signed in.

use crate::audit::RequestContext;
use crate::psc::pairing::{self, PairingError};
use crate::state::AppState;
use crate::storage::pairings::PairingRecord;

/// Revokes the pairing `pairing_id` (audited `pairing_revoked`) and ends the person's federated
/// sessions: the revoked row and how many sessions ended.
pub async fn revoke(
    state: &AppState,
    pairing_id: &str,
    actor: &str,
    reason: &str,
    ctx: &RequestContext,
) -> Result<(PairingRecord, usize), PairingError> {
    let p = pairing::revoke(&state.ecps(), pairing_id, actor, reason).await?;
    let ended =
        crate::session::end_federated(&state.sessions(), &p.identity_id, "pairing_revoked", ctx)
            .await?;
    Ok((p, ended))
}
