//! Reconciliation findings, replaced by each run; `first_seen` survives across runs. Findings
//! that a run does not compute (a pairing that proved another IdNat than the link) stay until
//! an administrator acts on them.

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct FindingRecord {
    pub id: String,
    pub category: String,
    pub identity_id: Option<String>,
    pub idnat: Option<String>,
    /// JSON text.
    pub detail: String,
    pub first_seen: i64,
    pub seen_at: i64,
}

const COLUMNS: &str =
    "SELECT id, category, identity_id, idnat, detail, first_seen, seen_at FROM reconcile_findings";

pub async fn all(pool: &AnyPool) -> Result<Vec<FindingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} ORDER BY category, idnat, identity_id"
    )))
    .fetch_all(pool)
    .await
}

/// Category of the finding a pairing records when e-CPS proved another IdNat than the link.
pub const PAIRING_MISMATCH: &str = "pairing_mismatch";

/// Replaces every finding a run computes with `new` in one transaction (pairing findings stay).
pub async fn replace(tx: &mut Tx, new: &[FindingRecord]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reconcile_findings WHERE category <> $1")
        .bind(PAIRING_MISMATCH)
        .execute(&mut **tx)
        .await?;
    for f in new {
        insert(tx, f).await?;
    }
    Ok(())
}

/// Adds one finding.
pub async fn insert(tx: &mut Tx, f: &FindingRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reconcile_findings (id, category, identity_id, idnat, detail, \
         first_seen, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.category)
    .bind(&f.identity_id)
    .bind(&f.idnat)
    .bind(&f.detail)
    .bind(f.first_seen)
    .bind(f.seen_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// What the console's reconciliation report asks for: a category, the start of a person's
/// username, family name or IdNat, and the page after a `(category, id)` cursor.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub category: String,
    pub person: String,
    pub after: Option<(String, String)>,
    pub limit: i64,
}

/// A finding with the username of its identity, if any.
#[derive(Debug, Clone, FromRow)]
pub struct FindingRow {
    pub id: String,
    pub category: String,
    pub identity_id: Option<String>,
    pub idnat: Option<String>,
    pub detail: String,
    pub first_seen: i64,
    pub seen_at: i64,
    pub username: Option<String>,
}

impl FindingRow {
    /// The finding as stored, and who it is about (username, else identity id).
    pub fn split(self) -> (FindingRecord, String) {
        let user = self
            .username
            .or_else(|| self.identity_id.clone())
            .unwrap_or_default();
        let record = FindingRecord {
            id: self.id,
            category: self.category,
            identity_id: self.identity_id,
            idnat: self.idnat,
            detail: self.detail,
            first_seen: self.first_seen,
            seen_at: self.seen_at,
        };
        (record, user)
    }
}

/// One page of findings by `(category, id)`, filtered; empty filters match everything.
pub async fn page(pool: &AnyPool, f: &FindingFilter) -> Result<Vec<FindingRow>, sqlx::Error> {
    // A prefix search: the wildcards a person could type are taken out.
    let person: String = f
        .person
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect();
    let (after_category, after_id) = f.after.clone().unwrap_or_default();
    sqlx::query_as(
        "SELECT f.id, f.category, f.identity_id, f.idnat, f.detail, f.first_seen, f.seen_at, \
         i.username FROM reconcile_findings f LEFT JOIN identities i ON i.id = f.identity_id \
         WHERE ($1 = '' OR f.category = $1) \
         AND ($2 = '' OR lower(i.username) LIKE $3 OR lower(i.family_name) LIKE $3 \
              OR lower(i.given_name) LIKE $3 OR f.idnat LIKE $3) \
         AND (f.category > $4 OR (f.category = $4 AND f.id > $5)) \
         ORDER BY f.category, f.id LIMIT $6",
    )
    .bind(&f.category)
    .bind(&person)
    .bind(format!("{person}%"))
    .bind(after_category)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// Findings by category, except the links found correct: what is left to handle.
pub async fn to_handle(pool: &AnyPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT category, COUNT(*) AS n FROM reconcile_findings WHERE category <> 'linked_ok' \
         GROUP BY category ORDER BY category",
    )
    .fetch_all(pool)
    .await
}
