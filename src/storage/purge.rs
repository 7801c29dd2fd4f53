//! The purge of short-lived rows: revoked tokens, used assertions, pushed requests,
//! authorization flows, WebAuthn ceremonies, old authorization codes, pending PSC
//! authorizations and settled e-CPS pairing requests.

use sqlx::AnyPool;

/// Deletes expired rows of the short-lived tables; returns how many went.
pub async fn purge_expired(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    for sql in [
        "DELETE FROM revoked_tokens WHERE expires_at < $1",
        "DELETE FROM used_assertions WHERE expires_at < $1",
        "DELETE FROM par_requests WHERE expires_at < $1",
        "DELETE FROM auth_flows WHERE expires_at < $1",
        // A flow nobody opened for 10 minutes (crate::endpoint::flow::IDLE_SECS) is abandoned.
        "DELETE FROM auth_flows WHERE touched_at < $1 - 600",
        "DELETE FROM webauthn_ceremonies WHERE expires_at < $1",
        "DELETE FROM auth_codes WHERE expires_at < $1 - 86400",
        "DELETE FROM psc_pending WHERE expires_at < $1",
        "DELETE FROM psc_used_nonces WHERE expires_at < $1",
        // A settled pairing request shows its outcome on the page once; a day later it is
        // only history, which the audit log and the pairing itself keep. A request still
        // pending a day after its expiry (PSC disabled since) goes too.
        "DELETE FROM pairing_requests WHERE state <> 'pending' AND settled_at < $1 - 86400",
        "DELETE FROM pairing_requests WHERE state = 'pending' AND expires_at < $1 - 86400",
    ] {
        total += sqlx::query(sql)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
    }
    Ok(total)
}
