//! The append-only audit table.

use sqlx::{AnyPool, AssertSqlSafe, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<String>,
}

const INSERT: &str = "INSERT INTO audit_events (id, at, kind, outcome, reason, actor, subject, \
    client_id, source_ip, request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

macro_rules! bind_audit {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.id)
            .bind($r.at)
            .bind(&$r.kind)
            .bind(&$r.outcome)
            .bind(&$r.reason)
            .bind(&$r.actor)
            .bind(&$r.subject)
            .bind(&$r.client_id)
            .bind(&$r.source_ip)
            .bind(&$r.request_id)
            .bind(&$r.details)
    };
}

/// Writes one event inside the transaction of the change it records.
pub async fn insert(tx: &mut Tx, r: &AuditRecord) -> Result<(), sqlx::Error> {
    bind_audit!(sqlx::query(INSERT), r)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Rows per multi-row insert of a batch, largest first: a batch of 200 events is three
/// statements of 64 and two of 4, from a handful of distinct (prepared, cached) statement texts.
/// 64 rows bind 704 parameters, well under the limits of SQLite (32,766) and PostgreSQL (65,535).
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT … VALUES (…), (…)` for `rows` rows, placeholders numbered as `bind_audit!` binds.
fn insert_rows(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO audit_events (id, at, kind, outcome, reason, actor, subject, client_id, \
         source_ip, request_id, details) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..11 {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * 11 + column + 1));
        }
        sql.push(')');
    }
    sql
}

/// Writes a batch in one transaction (the batched writer of the hot path), many rows per
/// statement: each statement is a round trip to the database (for SQLite, to its worker thread).
pub async fn insert_batch(pool: &AnyPool, records: &[AuditRecord]) -> Result<(), sqlx::Error> {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| CHUNKS.iter().map(|&n| insert_rows(n)).collect());
    let mut tx = pool.begin().await?;
    let mut rest = records;
    while !rest.is_empty() {
        let (i, n) = CHUNKS
            .iter()
            .copied()
            .enumerate()
            .find(|&(_, n)| n <= rest.len())
            .unwrap_or((CHUNKS.len() - 1, 1));
        let (chunk, tail) = rest.split_at(n);
        let mut q = sqlx::query(sql[i].as_str());
        for r in chunk {
            q = bind_audit!(q, r);
        }
        q.execute(&mut *tx).await?;
        rest = tail;
    }
    tx.commit().await
}

/// Filters of `audit list`.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

pub async fn list(pool: &AnyPool, f: &AuditFilter) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details \
         FROM audit_events WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR subject = $2) \
         AND ($3 IS NULL OR client_id = $3) AND at >= $4 ORDER BY at DESC, id DESC LIMIT $5",
    )
    .bind(&f.kind)
    .bind(&f.subject)
    .bind(&f.client_id)
    .bind(f.since.unwrap_or(0))
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// The last `limit` events about one person, newest first (read through the subject index).
pub async fn of_subject(
    pool: &AnyPool,
    subject: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details \
         FROM audit_events WHERE subject = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Events about a person or done by them: `subject` is one of `ids`, or `actor` is one of
/// `actors` (the identity id and the console's `admin:<username>`, or a free actor such as
/// `api:<client>` or `cli`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PersonMatch {
    pub ids: Vec<String>,
    pub actors: Vec<String>,
}

/// Filters of an audit page: every field optional; `before` is the (at, id) of the last event
/// of the previous page (newest first).
#[derive(Debug, Default, Clone)]
pub struct AuditPage {
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub person: Option<PersonMatch>,
    pub client_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A value to bind, in the order of the placeholders.
enum Bound<'a> {
    Text(&'a str),
    Int(i64),
}

/// Adds a value to bind and answers its placeholder.
fn next<'a>(b: Bound<'a>, binds: &mut Vec<Bound<'a>>) -> String {
    binds.push(b);
    format!("${}", binds.len())
}

/// The `WHERE … ORDER BY … LIMIT` of a page: only the filters given appear, so that each reads
/// its own index ((kind|subject|actor|client_id), at, id) rather than scanning by time and
/// testing every row. The same text serves SQLite and PostgreSQL (row values compare in both).
fn page_sql(f: &AuditPage) -> (String, Vec<Bound<'_>>) {
    let mut sql = String::from(
        "SELECT id, at, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, \
         details FROM audit_events WHERE 1 = 1",
    );
    let mut binds: Vec<Bound<'_>> = Vec::new();
    for (column, value) in [
        ("kind", &f.kind),
        ("outcome", &f.outcome),
        ("subject", &f.subject),
        ("client_id", &f.client_id),
    ] {
        if let Some(v) = value {
            let p = next(Bound::Text(v), &mut binds);
            sql.push_str(&format!(" AND {column} = {p}"));
        }
    }
    if let Some(person) = &f.person {
        let mut any = Vec::new();
        for id in &person.ids {
            any.push(format!("subject = {}", next(Bound::Text(id), &mut binds)));
        }
        for actor in &person.actors {
            any.push(format!("actor = {}", next(Bound::Text(actor), &mut binds)));
        }
        if any.is_empty() {
            any.push("1 = 0".to_owned());
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    if let Some(since) = f.since {
        let p = next(Bound::Int(since), &mut binds);
        sql.push_str(&format!(" AND at >= {p}"));
    }
    if let Some(until) = f.until {
        let p = next(Bound::Int(until), &mut binds);
        sql.push_str(&format!(" AND at <= {p}"));
    }
    if let Some((at, id)) = &f.before {
        let a = next(Bound::Int(*at), &mut binds);
        let i = next(Bound::Text(id), &mut binds);
        sql.push_str(&format!(" AND (at, id) < ({a}, {i})"));
    }
    let l = next(Bound::Int(f.limit), &mut binds);
    sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {l}"));
    (sql, binds)
}

/// One page of events, newest first, by keyset (no OFFSET: every page costs the same).
pub async fn page(pool: &AnyPool, f: &AuditPage) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let (sql, binds) = page_sql(f);
    let mut q = sqlx::query_as(AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bound::Text(t) => q.bind(t),
            Bound::Int(i) => q.bind(i),
        };
    }
    q.fetch_all(pool).await
}

/// The kinds of event in the trail, in order, at most `limit`: a walk of the index on kind
/// from one kind to the next (a few lookups per kind, not a scan of every event).
pub async fn kinds(pool: &AnyPool, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE k(kind) AS ( \
           SELECT MIN(kind) FROM audit_events \
           UNION ALL \
           SELECT (SELECT MIN(kind) FROM audit_events WHERE kind > k.kind) FROM k \
           WHERE k.kind IS NOT NULL) \
         SELECT kind FROM k WHERE kind IS NOT NULL LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Which of `ids` are identities, with their usernames (to link a subject to its page).
pub async fn identities_among(
    pool: &AnyPool,
    ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT id, username FROM identities WHERE id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_as(AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_only_the_filters_given_in_placeholder_order() {
        let all = AuditPage {
            limit: 50,
            ..Default::default()
        };
        let (sql, binds) = page_sql(&all);
        assert!(
            sql.ends_with("WHERE 1 = 1 ORDER BY at DESC, id DESC LIMIT $1"),
            "{sql}"
        );
        assert_eq!(binds.len(), 1);
        let f = AuditPage {
            kind: Some("login".into()),
            person: Some(PersonMatch {
                ids: vec!["i1".into()],
                actors: vec!["i1".into(), "admin:x".into()],
            }),
            since: Some(10),
            before: Some((20, "e".into())),
            limit: 50,
            ..Default::default()
        };
        let (sql, binds) = page_sql(&f);
        assert!(
            sql.contains("kind = $1 AND (subject = $2 OR actor = $3 OR actor = $4)"),
            "{sql}"
        );
        assert!(
            sql.contains("at >= $5 AND (at, id) < ($6, $7) ORDER BY at DESC, id DESC LIMIT $8"),
            "{sql}"
        );
        assert_eq!(binds.len(), 8);
    }
}
