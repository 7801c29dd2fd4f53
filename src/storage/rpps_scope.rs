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

/// One practice situation of the current snapshot.
#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct Situation {
    pub idnat: String,
    pub profession_code: Option<String>,
    pub category_code: Option<String>,
    pub specialty_code: Option<String>,
    pub mode_code: Option<String>,
    pub siret: Option<String>,
    pub finess_site: Option<String>,
    pub finess_ej: Option<String>,
    pub structure_id: Option<String>,
    pub structure_name: Option<String>,
    pub postcode: Option<String>,
    pub town: Option<String>,
    pub sector_code: Option<String>,
    pub role_code: Option<String>,
    pub genre_code: Option<String>,
}

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

pub async fn situations(pool: &AnyPool, idnat: &str) -> Result<Vec<Situation>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.idnat, a.profession_code, a.category_code, a.specialty_code, a.mode_code, \
         a.siret, a.finess_site, a.finess_ej, a.structure_id, a.structure_name, a.postcode, \
         a.town, a.sector_code, a.role_code, a.genre_code \
         FROM rpps_activities a, rpps_professionals p, rpps_snapshot s \
         WHERE {CURRENT} AND p.idnat = $1 \
         AND a.idnat = p.idnat AND a.valid_from = p.valid_from ORDER BY a.seq"
    )))
    .bind(idnat)
    .fetch_all(pool)
    .await
}

/// Professionals with at least one activity whose FINESS site or legal entity is in `finess`.
pub async fn people_at(pool: &AnyPool, finess: &[String]) -> Result<Vec<Person>, sqlx::Error> {
    if finess.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (1..=finess.len()).map(|i| format!("${i}")).collect();
    let list = list.join(", ");
    let sql = format!(
        "SELECT p.idnat, p.civility, p.last_name, p.first_name, p.professions \
         FROM rpps_professionals p, rpps_snapshot s WHERE {CURRENT} \
         AND EXISTS (SELECT 1 FROM rpps_activities a WHERE a.idnat = p.idnat \
         AND a.valid_from = p.valid_from \
         AND (a.finess_site IN ({list}) OR a.finess_ej IN ({list}))) \
         ORDER BY p.idnat"
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for f in finess {
        q = q.bind(f.clone());
    }
    q.fetch_all(pool).await
}
