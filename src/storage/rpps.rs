//! The RPPS national index (rpps.md): professionals and activities as versioned rows, the
//! snapshot pointer readers follow, and the import runs. One generation is visible at a time:
//! rows with `valid_from <= generation` and no `valid_to` at or below it.

use futures_util::TryStreamExt;
use sqlx::{AnyPool, AssertSqlSafe, FromRow};
use std::sync::Arc;

use super::{Backend, Db, Tx, insert_sql, placeholders, to_json_list};
use crate::directory::rpps::Professional;

/// Rows per multi-row INSERT (well under both engines' bound-parameter limits).
const CHUNK: usize = 400;

const PRO_COLUMNS: &str = "idnat, valid_from, hash, civility, last_name, first_name, search_name, \
    professions, profession_labels, specialties, activities";
const PRO_WIDTH: usize = 11;
const ACT_COLUMNS: &str = "idnat, valid_from, seq, profession_code, profession_label, \
    category_code, specialty_code, mode_code, siret, finess_site, finess_ej, structure_id, \
    structure_name, address, postcode, town_code, town, department_code, sector_code, role_code, \
    genre_code";
const ACT_WIDTH: usize = 21;

/// The prepared texts of an import (built once, reused so statements stay cached).
#[derive(Debug)]
pub struct Statements {
    backend: Backend,
    pros: Arc<str>,
    acts: Arc<str>,
    replace: Arc<str>,
}

impl Statements {
    pub fn new(backend: Backend) -> Self {
        Statements {
            backend,
            pros: insert_sql(backend, "rpps_professionals", PRO_COLUMNS, PRO_WIDTH, CHUNK),
            acts: insert_sql(backend, "rpps_activities", ACT_COLUMNS, ACT_WIDTH, CHUNK),
            replace: replace_sql(backend, CHUNK),
        }
    }
}

fn replace_sql(backend: Backend, rows: usize) -> Arc<str> {
    format!(
        "UPDATE rpps_professionals SET valid_to = {} WHERE valid_to IS NULL AND valid_from < {} \
         AND idnat IN ({})",
        placeholders(backend, 1, 1),
        placeholders(backend, 2, 1),
        placeholders(backend, 3, rows)
    )
    .into()
}

/// Takes the import lease (one import at a time, across nodes) and drops what an interrupted
/// import left unpublished. Returns the generation being built, or `None` when another import
/// holds the lease.
pub async fn begin(
    db: &Db,
    run_id: &str,
    file: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let taken = sqlx::query(
        "UPDATE rpps_snapshot SET importing_run = $1, lease_until = $2 \
         WHERE id = 1 AND (importing_run IS NULL OR lease_until < $3)",
    )
    .bind(run_id)
    .bind(lease_until)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if taken != 1 {
        return Ok(None);
    }
    let (current,): (i64,) = sqlx::query_as("SELECT generation FROM rpps_snapshot WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rpps_activities WHERE valid_from > $1")
        .bind(current)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM rpps_professionals WHERE valid_from > $1")
        .bind(current)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE rpps_professionals SET valid_to = NULL WHERE valid_to > $1")
        .bind(current)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE rpps_runs SET status = 'abandoned', finished_at = $1 WHERE status = 'running'",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rpps_runs (id, started_at, file, generation, status) \
         VALUES ($1, $2, $3, $4, 'running')",
    )
    .bind(run_id)
    .bind(now)
    .bind(file)
    .bind(current + 1)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(current + 1))
}

/// Calls `f` with the IdNat and content hash of every current professional.
pub async fn for_each_current(
    pool: &AnyPool,
    mut f: impl FnMut(&str, u64),
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query_as::<_, (String, i64)>(
        "SELECT p.idnat, p.hash FROM rpps_professionals p, rpps_snapshot s \
         WHERE s.id = 1 AND p.valid_from <= s.generation \
         AND (p.valid_to IS NULL OR p.valid_to > s.generation)",
    )
    .fetch(pool);
    while let Some((idnat, hash)) = rows.try_next().await? {
        f(&idnat, hash as u64);
    }
    Ok(())
}

/// Writes one batch of new row versions in one transaction: the previous versions of
/// `replaced` end at `generation`, the new ones start there. Also renews the lease.
pub async fn write_batch(
    db: &Db,
    st: &Statements,
    generation: i64,
    lease_until: i64,
    professionals: &[Professional],
    replaced: &[&str],
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for chunk in replaced.chunks(CHUNK) {
        let sql = if chunk.len() == CHUNK {
            st.replace.clone()
        } else {
            replace_sql(st.backend, chunk.len())
        };
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(generation)
            .bind(generation);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
    }
    for chunk in professionals.chunks(CHUNK) {
        let sql = if chunk.len() == CHUNK {
            st.pros.clone()
        } else {
            insert_sql(
                st.backend,
                "rpps_professionals",
                PRO_COLUMNS,
                PRO_WIDTH,
                chunk.len(),
            )
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in chunk {
            q = q
                .bind(p.idnat.as_str())
                .bind(generation)
                .bind(p.hash as i64)
                .bind(p.civility.as_deref())
                .bind(p.last_name.as_str())
                .bind(p.first_name.as_str())
                .bind(p.search_name())
                .bind(to_json_list(&p.professions()))
                .bind(to_json_list(&p.profession_labels()))
                .bind(to_json_list(&p.specialties()))
                .bind(p.activities.len() as i64);
        }
        q.execute(&mut *tx).await?;
    }
    let activities: Vec<(&Professional, i64, &crate::directory::rpps::Activity)> = professionals
        .iter()
        .flat_map(|p| {
            p.activities
                .iter()
                .enumerate()
                .map(move |(i, a)| (p, i as i64, a))
        })
        .collect();
    for chunk in activities.chunks(CHUNK) {
        let sql = if chunk.len() == CHUNK {
            st.acts.clone()
        } else {
            insert_sql(
                st.backend,
                "rpps_activities",
                ACT_COLUMNS,
                ACT_WIDTH,
                chunk.len(),
            )
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (p, seq, a) in chunk {
            q = q
                .bind(p.idnat.as_str())
                .bind(generation)
                .bind(*seq)
                .bind(a.profession_code.as_deref())
                .bind(a.profession_label.as_deref())
                .bind(a.category_code.as_deref())
                .bind(a.specialty_code.as_deref())
                .bind(a.mode_code.as_deref())
                .bind(a.siret.as_deref())
                .bind(a.finess_site.as_deref())
                .bind(a.finess_ej.as_deref())
                .bind(a.structure_id.as_deref())
                .bind(a.structure_name.as_deref())
                .bind(a.address.as_deref())
                .bind(a.postcode.as_deref())
                .bind(a.town_code.as_deref())
                .bind(a.town.as_deref())
                .bind(a.department_code.as_deref())
                .bind(a.sector_code.as_deref())
                .bind(a.role_code.as_deref())
                .bind(a.genre_code.as_deref());
        }
        q.execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE rpps_snapshot SET lease_until = $1 WHERE id = 1")
        .bind(lease_until)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Ends the current versions of professionals absent from the new file.
pub async fn mark_removed(
    db: &Db,
    st: &Statements,
    generation: i64,
    lease_until: i64,
    ids: &[String],
) -> Result<(), sqlx::Error> {
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for batch in refs.chunks(CHUNK * 10) {
        write_batch(db, st, generation, lease_until, &[], batch).await?;
    }
    Ok(())
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    pub lines: i64,
    pub professionals: i64,
    pub activities: i64,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub rejected: i64,
    pub duration_ms: i64,
}

/// Switches readers to `generation` and closes the run, inside the caller's transaction (the
/// audit event goes in the same one). Returns false when the lease was lost.
pub async fn publish(
    tx: &mut Tx,
    run_id: &str,
    generation: i64,
    now: i64,
    counts: &RunCounts,
    rejections: &str,
) -> Result<bool, sqlx::Error> {
    let switched = sqlx::query(
        "UPDATE rpps_snapshot SET generation = $1, importing_run = NULL, lease_until = 0 \
         WHERE id = 1 AND importing_run = $2",
    )
    .bind(generation)
    .bind(run_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if switched != 1 {
        return Ok(false);
    }
    close_run(tx, run_id, "succeeded", None, now, counts, rejections).await?;
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
async fn close_run(
    tx: &mut Tx,
    run_id: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
    c: &RunCounts,
    rejections: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rpps_runs SET status = $1, error = $2, finished_at = $3, lines = $4, \
         professionals = $5, activities = $6, added = $7, changed = $8, removed = $9, \
         rejected = $10, duration_ms = $11, rejections = $12 WHERE id = $13",
    )
    .bind(status)
    .bind(error)
    .bind(now)
    .bind(c.lines)
    .bind(c.professionals)
    .bind(c.activities)
    .bind(c.added)
    .bind(c.changed)
    .bind(c.removed)
    .bind(c.rejected)
    .bind(c.duration_ms)
    .bind(rejections)
    .bind(run_id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Closes a failed run and gives the lease back; the unpublished rows stay invisible and are
/// dropped by the next import.
pub async fn fail(
    tx: &mut Tx,
    run_id: &str,
    error: &str,
    now: i64,
    counts: &RunCounts,
    rejections: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rpps_snapshot SET importing_run = NULL, lease_until = 0 WHERE id = 1 AND importing_run = $1")
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    close_run(tx, run_id, "failed", Some(error), now, counts, rejections).await
}

/// Deletes the row versions no snapshot at or after `generation` can see.
pub async fn purge(db: &Db, generation: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "DELETE FROM rpps_activities WHERE EXISTS (SELECT 1 FROM rpps_professionals p \
         WHERE p.idnat = rpps_activities.idnat AND p.valid_from = rpps_activities.valid_from \
         AND p.valid_to IS NOT NULL AND p.valid_to <= $1)",
    )
    .bind(generation)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM rpps_professionals WHERE valid_to IS NOT NULL AND valid_to <= $1")
        .bind(generation)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A professional of the current snapshot.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ProfessionalRecord {
    pub idnat: String,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    /// JSON lists.
    pub professions: String,
    pub profession_labels: String,
    pub specialties: String,
    pub activities: i64,
}

/// Professionals whose "LAST FIRST" search form starts with `prefix` (already folded).
pub async fn search_by_name(
    pool: &AnyPool,
    prefix: &str,
    limit: i64,
) -> Result<Vec<ProfessionalRecord>, sqlx::Error> {
    // Search forms hold only A-Z, 0-9 and spaces: `~` sorts after all of them.
    let upper = format!("{prefix}~");
    sqlx::query_as(
        "SELECT p.idnat, p.civility, p.last_name, p.first_name, p.professions, \
         p.profession_labels, p.specialties, p.activities \
         FROM rpps_professionals p, rpps_snapshot s WHERE s.id = 1 \
         AND p.search_name >= $1 AND p.search_name < $2 \
         AND p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation) \
         ORDER BY p.search_name, p.idnat LIMIT $3",
    )
    .bind(prefix)
    .bind(upper)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn find(pool: &AnyPool, idnat: &str) -> Result<Option<ProfessionalRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.idnat, p.civility, p.last_name, p.first_name, p.professions, \
         p.profession_labels, p.specialties, p.activities \
         FROM rpps_professionals p, rpps_snapshot s WHERE s.id = 1 AND p.idnat = $1 \
         AND p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation)",
    )
    .bind(idnat)
    .fetch_optional(pool)
    .await
}

/// An activity of the current snapshot.
#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct ActivityRecord {
    pub idnat: String,
    pub seq: i64,
    pub profession_code: Option<String>,
    pub profession_label: Option<String>,
    pub category_code: Option<String>,
    pub specialty_code: Option<String>,
    pub mode_code: Option<String>,
    pub siret: Option<String>,
    pub finess_site: Option<String>,
    pub finess_ej: Option<String>,
    pub structure_id: Option<String>,
    pub structure_name: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub town_code: Option<String>,
    pub town: Option<String>,
    pub department_code: Option<String>,
    pub sector_code: Option<String>,
    pub role_code: Option<String>,
    pub genre_code: Option<String>,
}

/// The activities of one professional in the current snapshot.
pub async fn activities(pool: &AnyPool, idnat: &str) -> Result<Vec<ActivityRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.idnat, a.seq, a.profession_code, a.profession_label, a.category_code, \
         a.specialty_code, a.mode_code, a.siret, a.finess_site, a.finess_ej, a.structure_id, \
         a.structure_name, a.address, a.postcode, a.town_code, a.town, a.department_code, \
         a.sector_code, a.role_code, a.genre_code \
         FROM rpps_activities a, rpps_professionals p, rpps_snapshot s \
         WHERE s.id = 1 AND p.idnat = $1 \
         AND p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation) \
         AND a.idnat = p.idnat AND a.valid_from = p.valid_from ORDER BY a.seq",
    )
    .bind(idnat)
    .fetch_all(pool)
    .await
}

/// One import run.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct RunRecord {
    pub id: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub file: String,
    pub generation: i64,
    pub status: String,
    pub error: Option<String>,
    pub lines: i64,
    pub professionals: i64,
    pub activities: i64,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub rejected: i64,
    pub duration_ms: i64,
    /// JSON: the first rejected lines in full, then a count.
    pub rejections: Option<String>,
}

pub async fn runs(pool: &AnyPool, limit: i64) -> Result<Vec<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, started_at, finished_at, file, generation, status, error, lines, \
         professionals, activities, added, changed, removed, rejected, duration_ms, rejections \
         FROM rpps_runs ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Counts of the current snapshot: (professionals, activities).
pub async fn counts(pool: &AnyPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM rpps_professionals p, rpps_snapshot s WHERE s.id = 1 AND \
         p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation)), \
         (SELECT COUNT(*) FROM rpps_activities a, rpps_professionals p, rpps_snapshot s \
         WHERE s.id = 1 AND p.valid_from <= s.generation \
         AND (p.valid_to IS NULL OR p.valid_to > s.generation) \
         AND a.idnat = p.idnat AND a.valid_from = p.valid_from)",
    )
    .fetch_one(pool)
    .await
}
