//! The audit trail's hash chain: each event's place (`seq`) and MAC, and the anchors that let
//! the chain start again after a retention purge (migration 0021).

use sqlx::{AnyPool, FromRow};

use super::Tx;
use super::audit::AuditRecord;

/// A sealed event: its place in the chain, its MAC and its content.
#[derive(Debug, Clone, FromRow)]
pub struct SealedRecord {
    pub seq: i64,
    pub mac: String,
    #[sqlx(flatten)]
    pub record: AuditRecord,
}

/// Where the chain starts again after a purge: the last purged event's place and MAC.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub mac: String,
    pub purged_before: i64,
    pub anchor_mac: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, at, kind, outcome, reason, actor, subject, client_id, source_ip, \
    request_id, details";

/// The last sealed place and its MAC, in the transaction that extends the chain.
pub async fn last_sealed(tx: &mut Tx) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, mac FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await
}

/// The newest anchor (the chain's start after the last purge), if any purge happened: on the
/// pool, or in the transaction that extends or purges the chain.
pub async fn latest_anchor<'e, E>(executor: E) -> Result<Option<Anchor>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as(
        "SELECT seq, mac, purged_before, anchor_mac, created_at FROM audit_anchors \
         ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(executor)
    .await
}

/// The oldest unsealed events, in the order they are sealed: time, then id.
pub async fn unsealed(tx: &mut Tx, limit: i64) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_events WHERE seq IS NULL ORDER BY at, id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Rows per sealing statement (3 parameters each).
const SEAL_CHUNK: usize = 64;

/// `WITH v AS (VALUES …) UPDATE … FROM v` for `rows` rows (SQLite and PostgreSQL both read it).
fn seal_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            format!(
                "(${}, CAST(${} AS BIGINT), ${})",
                r * 3 + 1,
                r * 3 + 2,
                r * 3 + 3
            )
        })
        .collect();
    format!(
        "WITH v(id, seq, mac) AS (VALUES {}) \
         UPDATE audit_events SET seq = v.seq, mac = v.mac FROM v \
         WHERE audit_events.id = v.id AND audit_events.seq IS NULL",
        values.join(", ")
    )
}

/// Seals events (`(id, seq, mac)` each), many per statement; false when one of them was
/// sealed meanwhile (then the caller gives the transaction up).
pub async fn seal(tx: &mut Tx, seals: &[(&str, i64, String)]) -> Result<bool, sqlx::Error> {
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    for chunk in seals.chunks(SEAL_CHUNK) {
        let partial;
        let sql = if chunk.len() == SEAL_CHUNK {
            FULL.get_or_init(|| seal_sql(SEAL_CHUNK)).as_str()
        } else {
            partial = seal_sql(chunk.len());
            partial.as_str()
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, seq, mac) in chunk {
            q = q.bind(*id).bind(*seq).bind(mac);
        }
        if q.execute(&mut **tx).await?.rows_affected() != chunk.len() as u64 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Sealed events after `after`, in chain order, at most `limit` (the verification's pages).
pub async fn sealed_after(
    pool: &AnyPool,
    after: i64,
    limit: i64,
) -> Result<Vec<SealedRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT seq, mac, {COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Unsealed events written before `before` (a sealer that stopped, or rows written behind the
/// server's back), and the oldest one's time.
pub async fn unsealed_before(
    pool: &AnyPool,
    before: i64,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), MIN(at) FROM audit_events WHERE seq IS NULL AND at < $1")
        .bind(before)
        .fetch_one(pool)
        .await
}

/// The last place a purge of the events written before `cutoff` may reach: just before the
/// first sealed event written at or after it. Sealing follows time, give or take the seconds a
/// transaction takes, so that event is looked for among the hour after `cutoff` (an index
/// range, not the whole trail); with none there, every sealed event before `cutoff` may go.
pub async fn purge_boundary(tx: &mut Tx, cutoff: i64) -> Result<Option<i64>, sqlx::Error> {
    let first_kept: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(seq) FROM audit_events WHERE at >= $1 AND at < $2 AND seq IS NOT NULL",
    )
    .bind(cutoff)
    .bind(cutoff + 3600)
    .fetch_one(&mut **tx)
    .await?;
    match first_kept {
        Some(seq) => Ok(Some(seq - 1)),
        None => {
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_events WHERE at < $1")
                .bind(cutoff)
                .fetch_one(&mut **tx)
                .await
        }
    }
}

/// The MAC of the event at `seq`, in the purge's transaction.
pub async fn mac_at_tx(tx: &mut Tx, seq: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT mac FROM audit_events WHERE seq = $1")
        .bind(seq)
        .fetch_optional(&mut **tx)
        .await
}

/// Records an anchor in the purge's transaction.
pub async fn insert_anchor(tx: &mut Tx, a: &Anchor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_anchors (seq, mac, purged_before, anchor_mac, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(a.seq)
    .bind(&a.mac)
    .bind(a.purged_before)
    .bind(&a.anchor_mac)
    .bind(a.created_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Deletes the sealed events up to place `through` written before `cutoff` (the retention
/// purge, after its anchor; a later event sealed early stays, outside the verified chain).
pub async fn delete_through(tx: &mut Tx, through: i64, cutoff: i64) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM audit_events WHERE seq IS NOT NULL AND seq <= $1 AND at < $2")
        .bind(through)
        .bind(cutoff)
        .execute(&mut **tx)
        .await
        .map(|d| d.rows_affected())
}
