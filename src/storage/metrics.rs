//! The counts behind the gauges of `/metrics` that only the database knows: live sessions,
//! pairings by state, audit events not sealed yet, and when each synchronisation last
//! succeeded. One round trip, each count read through an index (`sso_sessions_open`,
//! `pairings_expiry`, `audit_events_unsealed`, the runs' `*_started`); `/metrics` reads them at
//! most once a minute (crate::metrics).

use sqlx::AnyPool;

/// What the database holds at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sessions neither ended, past their lifetime, nor idle for longer than the idle timeout.
    pub sessions_active: i64,
    /// Pairings active, expired (active past their expiry) and revoked.
    pub pairings_active: i64,
    pub pairings_expired: i64,
    pub pairings_revoked: i64,
    /// Active pairings whose expiry falls before the given instant.
    pub pairings_expiring: i64,
    pub audit_unsealed: i64,
    /// When the latest successful RPPS import, HR import and directory sync ended.
    pub rpps_succeeded_at: Option<i64>,
    pub hr_succeeded_at: Option<i64>,
    pub ldap_succeeded_at: Option<i64>,
}

type Row = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The counts at `now`: sessions idle since before `idle_since` are not live; pairings
/// expiring before `expiring_before` are counted apart too.
pub async fn counts(
    pool: &AnyPool,
    now: i64,
    idle_since: i64,
    expiring_before: i64,
) -> Result<Counts, sqlx::Error> {
    let row: Row = sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM sso_sessions \
            WHERE ended_at IS NULL AND expires_at > $1 AND last_active_at > $2), \
         (SELECT COUNT(*) FROM pairings WHERE status = 'active' AND expires_at > $3), \
         (SELECT COUNT(*) FROM pairings WHERE status = 'active' AND expires_at <= $4), \
         (SELECT COUNT(*) FROM pairings WHERE status = 'revoked'), \
         (SELECT COUNT(*) FROM pairings \
            WHERE status = 'active' AND expires_at > $5 AND expires_at <= $6), \
         (SELECT COUNT(*) FROM audit_events WHERE seq IS NULL), \
         (SELECT finished_at FROM rpps_runs WHERE status = 'succeeded' \
            ORDER BY started_at DESC LIMIT 1), \
         (SELECT finished_at FROM hr_runs WHERE status = 'succeeded' \
            ORDER BY started_at DESC LIMIT 1), \
         (SELECT finished_at FROM ldap_sync_runs \
            WHERE finished_at IS NOT NULL AND error IS NULL ORDER BY started_at DESC LIMIT 1)",
    )
    .bind(now)
    .bind(idle_since)
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(expiring_before)
    .fetch_one(pool)
    .await?;
    Ok(Counts {
        sessions_active: row.0,
        pairings_active: row.1,
        pairings_expired: row.2,
        pairings_revoked: row.3,
        pairings_expiring: row.4,
        audit_unsealed: row.5,
        rpps_succeeded_at: row.6,
        hr_succeeded_at: row.7,
        ldap_succeeded_at: row.8,
    })
}
