//! Reads of the RPPS index (tables of `0002_rpps.sql`, current snapshot only) for
//! reconciliation and the `rpps` claim: who practises at the establishment's FINESS.

use sqlx::{AnyPool, FromRow};

/// A professional of the current snapshot.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct Person {
    pub idnat: String,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    /// JSON list of profession codes.
    pub professions: String,
}

/// One practice situation of the current snapshot (read by `storage::rpps::activities`).
pub type Situation = super::rpps::ActivityRecord;

const CURRENT: &str = "s.id = 1 AND p.valid_from <= s.generation \
     AND (p.valid_to IS NULL OR p.valid_to > s.generation)";

pub async fn person(pool: &AnyPool, idnat: &str) -> Result<Option<Person>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.idnat, p.civility, p.last_name, p.first_name, p.professions \
         FROM rpps_professionals p, rpps_snapshot s WHERE {CURRENT} AND p.idnat = $1"
    )))
    .bind(idnat)
    .fetch_optional(pool)
    .await
}

/// The practice situations of one professional in the current snapshot.
pub async fn situations(pool: &AnyPool, idnat: &str) -> Result<Vec<Situation>, sqlx::Error> {
    super::rpps::activities(pool, idnat).await
}

/// Professionals with at least one activity whose FINESS site or legal entity is in `finess`.
pub async fn people_at(pool: &AnyPool, finess: &[String]) -> Result<Vec<Person>, sqlx::Error> {
    if finess.is_empty() {
        return Ok(Vec::new());
    }
    let any: Vec<String> = (1..=finess.len())
        .map(|i| format!("p.finess LIKE ${i}"))
        .collect();
    let sql = format!(
        "SELECT p.idnat, p.civility, p.last_name, p.first_name, p.professions \
         FROM rpps_professionals p, rpps_snapshot s WHERE {CURRENT} AND ({}) \
         ORDER BY p.idnat",
        any.join(" OR ")
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for f in finess {
        q = q.bind(super::rpps::finess_pattern(f));
    }
    q.fetch_all(pool).await
}
