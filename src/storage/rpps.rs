//! The RPPS national index (rpps.md): professionals as versioned rows (their practice
//! situations packed in the row), the snapshot pointer readers follow, and the import runs.
//! One generation is visible at a time: rows with `valid_from <= generation` and no `valid_to`
//! at or below it.

use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteConnection};
use sqlx::{Any, AnyPool, AssertSqlSafe, FromRow};
use std::sync::Arc;

pub use super::rpps_row::{Activity, FIELD_SEP, Professional, SITUATION_SEP, unpack};
use super::{Backend, Db, Tx, insert_sql, placeholders, to_json_list};

/// The index of name searches (dropped during an import into an empty table). It holds the
/// IdNat too, so that a search walks it in its result order (name, then IdNat) and stops after
/// the first page instead of sorting every namesake.
const NAME_INDEX: &str = "CREATE INDEX IF NOT EXISTS rpps_professionals_name \
     ON rpps_professionals(search_name, idnat)";

/// Rows per multi-row INSERT (well under both engines' bound-parameter limits).
const CHUNK: usize = 1000;

const PRO_COLUMNS: &str = "idnat, valid_from, hash, civility, last_name, first_name, search_name, \
    professions, profession_labels, specialties, finess, activities, situations";
const PRO_WIDTH: usize = 13;

/// The prepared texts of an import (built once, reused so statements stay cached).
#[derive(Debug)]
struct Statements {
    pros: Arc<str>,
    replace: Arc<str>,
}

impl Statements {
    fn new(backend: Backend) -> Self {
        Statements {
            pros: insert_sql(backend, "rpps_professionals", PRO_COLUMNS, PRO_WIDTH, CHUNK),
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

/// An import run that holds the lease.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// The generation being built.
    pub generation: i64,
    /// The table was empty: the name index is built at the end.
    pub bulk: bool,
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
) -> Result<Option<Started>, sqlx::Error> {
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
    let (current, pending): (i64, i64) =
        sqlx::query_as("SELECT generation, pending FROM rpps_snapshot WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    if pending != 0 {
        // An earlier import stopped before publishing: drop what it wrote.
        sqlx::query("DELETE FROM rpps_professionals WHERE valid_from > $1")
            .bind(current)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE rpps_professionals SET valid_to = NULL WHERE valid_to > $1")
            .bind(current)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE rpps_snapshot SET pending = 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    // Into an empty table, the name index is built once at the end (a sort) rather than row
    // by row: its inserts land all over the index, and every batch re-wrote most of it.
    let (rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM (SELECT 1 FROM rpps_professionals LIMIT 1) t")
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(if rows == 0 {
        "DROP INDEX IF EXISTS rpps_professionals_name"
    } else {
        NAME_INDEX
    })
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
    Ok(Some(Started {
        generation: current + 1,
        bulk: rows == 0,
    }))
}

/// Calls `f` with the IdNat and content hash of every current professional. Rows come
/// aggregated a page at a time ("idnat hash idnat hash…"): a row stream costs a thread
/// hand-off a row on SQLite, which made loading a national index take seconds.
pub async fn for_each_current(db: &Db, mut f: impl FnMut(&str, u64)) -> Result<(), sqlx::Error> {
    const PAGE: i64 = 50_000;
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*), MAX(idnat), group_concat(idnat || ' ' || hash, ' ') FROM \
             (SELECT p.idnat, p.hash FROM rpps_professionals p, rpps_snapshot s \
             WHERE s.id = 1 AND p.idnat > ? AND p.valid_from <= s.generation \
             AND (p.valid_to IS NULL OR p.valid_to > s.generation) ORDER BY p.idnat LIMIT ?)"
        }
        Backend::Postgres => {
            "SELECT COUNT(*), MAX(idnat), string_agg(idnat || ' ' || hash::text, ' ') FROM \
             (SELECT p.idnat, p.hash FROM rpps_professionals p, rpps_snapshot s \
             WHERE s.id = 1 AND p.idnat > $1 AND p.valid_from <= s.generation \
             AND (p.valid_to IS NULL OR p.valid_to > s.generation) ORDER BY p.idnat LIMIT $2) page"
        }
    };
    let mut after = String::new();
    loop {
        let (count, last, page): (i64, Option<String>, Option<String>) = sqlx::query_as(sql)
            .bind(after.as_str())
            .bind(PAGE)
            .fetch_one(db.pool())
            .await?;
        let mut words = page.as_deref().unwrap_or("").split(' ');
        while let (Some(id), Some(hash)) = (words.next(), words.next()) {
            let hash: i64 = hash.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            f(id, hash as u64);
        }
        match last {
            Some(last) if count == PAGE => after = last,
            _ => return Ok(()),
        }
    }
}

/// The connection an import writes with. On SQLite it is a connection of its own through the
/// typed driver; when the name index is kept up to date row by row, it gets a page cache that
/// holds that index: its inserts land all over it, and with the default 2 MB cache every batch
/// re-read and re-wrote most of it. The connection is closed at the end.
pub struct Writer {
    conn: Conn,
    backend: Backend,
    st: Statements,
    generation: i64,
}

enum Conn {
    Sqlite(SqliteConnection),
    Pool(PoolConnection<Any>),
}

/// Page cache of the import connection, in KiB (SQLite's negative `cache_size`).
const IMPORT_CACHE_KIB: i64 = 65_536;

const RENEW_LEASE: &str = "UPDATE rpps_snapshot SET lease_until = $1 WHERE id = 1";

/// One write transaction of an import, on either kind of connection: ends the current
/// versions of `replaced`, runs the bound inserts of that kind, renews the lease.
macro_rules! write_batch_on {
    ($conn:expr, $begin:expr, $writer:expr, $lease:expr, $rows:expr, $replaced:expr, $kind:path) => {{
        let mut tx = sqlx::Connection::begin_with($conn, $begin).await?;
        for chunk in $replaced.chunks(CHUNK) {
            let sql = if chunk.len() == CHUNK {
                $writer.st.replace.clone()
            } else {
                replace_sql($writer.backend, chunk.len())
            };
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind($writer.generation)
                .bind($writer.generation);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        for rows in $rows {
            if let $kind(insert) = rows.0 {
                insert.execute(&mut *tx).await?;
            }
        }
        sqlx::query(RENEW_LEASE)
            .bind($lease)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }};
}

impl Writer {
    /// Opens the writer of a started run.
    pub async fn open(db: &Db, run: Started) -> Result<Writer, sqlx::Error> {
        let conn = match db.sqlite_connection().await {
            Some(conn) => {
                let mut conn = conn?;
                // The write-ahead log is copied back every 40 MB rather than every 4 MB.
                sqlx::query("PRAGMA wal_autocheckpoint = 10000")
                    .execute(&mut conn)
                    .await?;
                if !run.bulk {
                    sqlx::query(AssertSqlSafe(format!(
                        "PRAGMA cache_size = -{IMPORT_CACHE_KIB}"
                    )))
                    .execute(&mut conn)
                    .await?;
                }
                Conn::Sqlite(conn)
            }
            None => {
                let mut conn = db.pool().acquire().await?;
                conn.close_on_drop();
                Conn::Pool(conn)
            }
        };
        Ok(Writer {
            conn,
            backend: db.backend(),
            st: Statements::new(db.backend()),
            generation: run.generation,
        })
    }

    /// What binds rows for this writer, on any thread.
    pub fn rows(&self) -> RowBinder {
        RowBinder {
            backend: self.backend,
            typed: matches!(self.conn, Conn::Sqlite(_)),
            generation: self.generation,
            sql: self.st.pros.clone(),
        }
    }

    /// Writes one batch of new row versions in one transaction: the previous versions of
    /// `replaced` end at this generation, the new ones start there. Also renews the lease.
    pub async fn write_batch(
        &mut self,
        lease_until: i64,
        rows: Vec<BoundRows>,
        replaced: &[&str],
    ) -> Result<(), sqlx::Error> {
        match &mut self.conn {
            Conn::Sqlite(conn) => write_batch_on!(
                conn,
                "BEGIN IMMEDIATE",
                self,
                lease_until,
                rows,
                replaced,
                Bound::Sqlite
            ),
            Conn::Pool(conn) => write_batch_on!(
                &mut **conn,
                "BEGIN",
                self,
                lease_until,
                rows,
                replaced,
                Bound::Any
            ),
        }
    }

    /// Ends the current versions of professionals absent from the new file.
    pub async fn mark_removed(
        &mut self,
        lease_until: i64,
        ids: &[String],
    ) -> Result<(), sqlx::Error> {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for batch in refs.chunks(CHUNK * 10) {
            self.write_batch(lease_until, Vec::new(), batch).await?;
        }
        Ok(())
    }
}

/// Binds professionals into INSERT statements. It runs on the parser's thread, so that the
/// database's thread only executes: on two cores, three busy threads (parser, binder,
/// database) left the database waiting for a core.
#[derive(Debug, Clone)]
pub struct RowBinder {
    backend: Backend,
    /// Bind for the typed SQLite connection rather than `Any`.
    typed: bool,
    generation: i64,
    sql: Arc<str>,
}

/// One multi-row INSERT with its values bound, ready to run.
pub struct BoundRows(Bound);

enum Bound {
    Sqlite(Query<'static, Sqlite, SqliteArguments>),
    Any(Query<'static, Any, AnyArguments>),
}

/// Binds every column of a chunk of professionals, their values moved into the arguments (the
/// texts are not copied again).
macro_rules! bind_professionals {
    ($sql:expr, $generation:expr, $professionals:expr) => {{
        let mut q = sqlx::query(AssertSqlSafe($sql));
        for p in $professionals {
            q = q
                .bind(p.idnat.as_str().to_owned())
                .bind($generation)
                .bind(p.hash as i64)
                .bind(p.civility)
                .bind(p.last_name)
                .bind(p.first_name)
                .bind(p.search_name)
                .bind(to_json_list(&p.professions))
                .bind(to_json_list(&p.profession_labels))
                .bind(to_json_list(&p.specialties))
                .bind(finess_list(&p.finess))
                .bind(i64::from(p.activities))
                .bind(p.situations);
        }
        q
    }};
}

impl RowBinder {
    /// Rows a statement holds at most.
    pub const ROWS: usize = CHUNK;

    /// The INSERT of up to [`RowBinder::ROWS`] professionals.
    pub fn rows(&self, professionals: Vec<Professional>) -> BoundRows {
        let sql = if professionals.len() == CHUNK {
            self.sql.clone()
        } else {
            insert_sql(
                self.backend,
                "rpps_professionals",
                PRO_COLUMNS,
                PRO_WIDTH,
                professionals.len(),
            )
        };
        BoundRows(if self.typed {
            Bound::Sqlite(bind_professionals!(sql, self.generation, professionals))
        } else {
            Bound::Any(bind_professionals!(sql, self.generation, professionals))
        })
    }
}

/// The searchable form of a FINESS list: each number between spaces (" A B "), so that
/// `LIKE '% A %'` finds it.
fn finess_list(finess: &[String]) -> String {
    let mut out = String::with_capacity(1 + finess.len() * 10);
    out.push(' ');
    for f in finess {
        out.push_str(f);
        out.push(' ');
    }
    out
}

/// The `LIKE` pattern that finds a FINESS number in a list built by [`finess_list`].
pub(crate) fn finess_pattern(finess: &str) -> String {
    format!("% {finess} %")
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

/// Builds the name index when the import dropped it (in its own transaction: on a national
/// file it takes a second or two).
pub async fn ensure_name_index(db: &Db) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    if db.backend() == Backend::Sqlite {
        // SQLite sorts for the index with a helper thread when allowed to.
        conn.close_on_drop();
        sqlx::query("PRAGMA threads = 2")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(NAME_INDEX)
        .execute(&mut *conn)
        .await
        .map(|_| ())
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
        "UPDATE rpps_snapshot SET generation = $1, importing_run = NULL, lease_until = 0, \
         pending = 0 WHERE id = 1 AND importing_run = $2",
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

/// Writes the counters of a running run so far.
pub async fn progress(pool: &AnyPool, run_id: &str, c: &RunCounts) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rpps_runs SET lines = $1, rejected = $2 WHERE id = $3 AND status = 'running'",
    )
    .bind(c.lines)
    .bind(c.rejected)
    .bind(run_id)
    .execute(pool)
    .await
    .map(|_| ())
}

/// One run by its id.
pub async fn run(pool: &AnyPool, id: &str) -> Result<Option<RunRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, started_at, finished_at, file, generation, status, error, lines, \
         professionals, activities, added, changed, removed, rejected, duration_ms, rejections \
         FROM rpps_runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
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
    sqlx::query("DELETE FROM rpps_professionals WHERE valid_to IS NOT NULL AND valid_to <= $1")
        .bind(generation)
        .execute(db.pool())
        .await
        .map(|_| ())
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
#[derive(Debug, Clone, Default, serde::Serialize)]
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
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT p.situations FROM rpps_professionals p, rpps_snapshot s \
         WHERE s.id = 1 AND p.idnat = $1 \
         AND p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation)",
    )
    .bind(idnat)
    .fetch_optional(pool)
    .await?;
    let Some((packed,)) = row else {
        return Ok(Vec::new());
    };
    Ok(unpack(&packed)
        .into_iter()
        .enumerate()
        .map(|(seq, a)| ActivityRecord {
            idnat: idnat.to_owned(),
            seq: seq as i64,
            profession_code: a.profession_code,
            profession_label: a.profession_label,
            category_code: a.category_code,
            specialty_code: a.specialty_code,
            mode_code: a.mode_code,
            siret: a.siret,
            finess_site: a.finess_site,
            finess_ej: a.finess_ej,
            structure_id: a.structure_id,
            structure_name: a.structure_name,
            address: a.address,
            postcode: a.postcode,
            town_code: a.town_code,
            town: a.town,
            department_code: a.department_code,
            sector_code: a.sector_code,
            role_code: a.role_code,
            genre_code: a.genre_code,
        })
        .collect())
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
        "SELECT COUNT(*), CAST(COALESCE(SUM(p.activities), 0) AS BIGINT) \
         FROM rpps_professionals p, rpps_snapshot s WHERE s.id = 1 AND \
         p.valid_from <= s.generation AND (p.valid_to IS NULL OR p.valid_to > s.generation)",
    )
    .fetch_one(pool)
    .await
}
