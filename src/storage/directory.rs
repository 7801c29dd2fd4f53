//! Directory accounts, pending password changes and directory sync runs.

use sqlx::{AnyPool, AssertSqlSafe, FromRow};

use super::{Backend, Tx, from_json_list, insert_sql, placeholders};
use crate::identity::Status;

/// One directory account.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AccountRecord {
    pub unique_id: String,
    pub identity_id: String,
    pub dn: String,
    pub username: String,
    pub upn: Option<String>,
    pub enabled: i64,
    pub deleted: i64,
    /// JSON list of direct group DNs.
    pub group_dns: String,
    /// JSON list of role names (the `roles` claim, `[ldap.roles]`).
    pub roles: String,
    /// JSON list of administration roles (`[admin.roles]`).
    pub admin_roles: String,
    pub fingerprint: String,
    pub seen_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AccountRecord {
    pub fn groups(&self) -> Vec<String> {
        from_json_list(&self.group_dns)
    }
    pub fn roles(&self) -> Vec<String> {
        from_json_list(&self.roles)
    }
}

const COLUMNS: &str = "unique_id, identity_id, dn, username, upn, enabled, deleted, group_dns, \
     roles, fingerprint, seen_at, created_at, updated_at, admin_roles";
const WIDTH: usize = 14;
/// Rows per multi-row statement (14 parameters each: well under every engine's limit).
pub const CHUNK: usize = 200;

/// The live account a login names (login name or UPN, lower-cased).
pub async fn by_login(pool: &AnyPool, login: &str) -> Result<Option<AccountRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM directory_accounts WHERE (username = $1 OR upn = $1) AND deleted = 0 \
         ORDER BY seen_at DESC LIMIT 1"
    )))
    .bind(login)
    .fetch_optional(pool)
    .await
}

pub async fn by_unique_id(
    pool: &AnyPool,
    unique_id: &str,
) -> Result<Option<AccountRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM directory_accounts WHERE unique_id = $1"
    )))
    .bind(unique_id)
    .fetch_optional(pool)
    .await
}

/// The accounts of an identity (an identity may have several, e.g. admin + user).
pub async fn of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<AccountRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM directory_accounts WHERE identity_id = $1 ORDER BY username"
    )))
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

/// Roles of an identity across its live, enabled accounts (sorted, unique).
pub async fn roles_of(pool: &AnyPool, identity_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT roles FROM directory_accounts WHERE identity_id = $1 AND deleted = 0 AND enabled = 1",
    )
    .bind(identity_id)
    .fetch_all(pool)
    .await?;
    let mut roles: Vec<String> = rows.iter().flat_map(|r| from_json_list(&r.0)).collect();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Inserts accounts with multi-row statements.
pub async fn insert_many(
    tx: &mut Tx,
    backend: Backend,
    rows: &[AccountRecord],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let sql = insert_sql(backend, "directory_accounts", COLUMNS, WIDTH, chunk.len());
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(&r.unique_id)
                .bind(&r.identity_id)
                .bind(&r.dn)
                .bind(&r.username)
                .bind(&r.upn)
                .bind(r.enabled)
                .bind(r.deleted)
                .bind(&r.group_dns)
                .bind(&r.roles)
                .bind(&r.fingerprint)
                .bind(r.seen_at)
                .bind(r.created_at)
                .bind(r.updated_at)
                .bind(&r.admin_roles);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Replaces what the directory says of an account.
pub async fn update(tx: &mut Tx, r: &AccountRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE directory_accounts SET identity_id = $1, dn = $2, username = $3, upn = $4, \
         enabled = $5, deleted = $6, group_dns = $7, roles = $8, fingerprint = $9, seen_at = $10, \
         updated_at = $11, admin_roles = $13 WHERE unique_id = $12",
    )
    .bind(&r.identity_id)
    .bind(&r.dn)
    .bind(&r.username)
    .bind(&r.upn)
    .bind(r.enabled)
    .bind(r.deleted)
    .bind(&r.group_dns)
    .bind(&r.roles)
    .bind(&r.fingerprint)
    .bind(r.seen_at)
    .bind(r.updated_at)
    .bind(&r.unique_id)
    .bind(&r.admin_roles)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Marks accounts as seen by a full sync without other change.
pub async fn touch_many(
    tx: &mut Tx,
    backend: Backend,
    ids: &[&str],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let sql = format!(
            "UPDATE directory_accounts SET seen_at = {} WHERE unique_id IN ({})",
            placeholders(backend, 1, 1),
            placeholders(backend, 2, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A new minimal identity row for a directory account (multi-row insert).
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub id: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub employee_number: Option<String>,
    pub status: Status,
    pub status_reason: Option<&'static str>,
}

pub async fn insert_identities(
    tx: &mut Tx,
    backend: Backend,
    rows: &[NewIdentity],
    now: i64,
) -> Result<(), sqlx::Error> {
    const COLS: &str = "id, username, given_name, family_name, email, employee_number, status, \
         status_reason, status_at, created_at, updated_at";
    for chunk in rows.chunks(CHUNK) {
        let sql = insert_sql(backend, "identities", COLS, 11, chunk.len());
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(&r.id)
                .bind(&r.username)
                .bind(&r.given_name)
                .bind(&r.family_name)
                .bind(&r.email)
                .bind(&r.employee_number)
                .bind(r.status.as_str())
                .bind(r.status_reason)
                .bind(now)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// What the sync needs of every identity to link accounts.
#[derive(Debug, Clone, FromRow)]
pub struct IdentityKey {
    pub id: String,
    pub username: String,
    pub employee_number: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub status_reason: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub idnat: Option<String>,
}

const KEY_COLUMNS: &str = "SELECT i.id, i.username, i.employee_number, i.status, \
     i.status_reason, i.given_name, i.family_name, i.email, l.idnat FROM identities i \
     LEFT JOIN rpps_links l ON l.identity_id = i.id";

/// The identities with one of these ids, employee numbers, login names (compared lower-case)
/// or linked IdNats.
pub async fn identity_keys_by(
    pool: &AnyPool,
    backend: Backend,
    ids: &[&str],
    employee_numbers: &[&str],
    usernames: &[&str],
    idnats: &[&str],
) -> Result<Vec<IdentityKey>, sqlx::Error> {
    let mut out: Vec<IdentityKey> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (column, values) in [
        ("i.id", ids),
        ("i.employee_number", employee_numbers),
        ("lower(i.username)", usernames),
        ("l.idnat", idnats),
    ] {
        for chunk in values.chunks(500) {
            let sql = format!(
                "{KEY_COLUMNS} WHERE {column} IN ({})",
                placeholders(backend, 1, chunk.len())
            );
            let mut q = sqlx::query_as::<_, IdentityKey>(AssertSqlSafe(sql));
            for v in chunk {
                q = q.bind(*v);
            }
            for k in q.fetch_all(pool).await? {
                if seen.insert(k.id.clone()) {
                    out.push(k);
                }
            }
        }
    }
    Ok(out)
}

/// Accounts by immutable id.
pub async fn by_unique_ids(
    pool: &AnyPool,
    backend: Backend,
    ids: &[&str],
) -> Result<Vec<AccountRecord>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS} FROM directory_accounts WHERE unique_id IN ({})",
            placeholders(backend, 1, chunk.len())
        );
        let mut q = sqlx::query_as::<_, AccountRecord>(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(pool).await?);
    }
    Ok(out)
}

/// Ids of the accounts not marked deleted.
pub async fn live_ids(pool: &AnyPool) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT unique_id FROM directory_accounts WHERE deleted = 0")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// (id, DN, direct groups as JSON) of the accounts not marked deleted.
pub async fn live_memberships(
    pool: &AnyPool,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT unique_id, dn, group_dns FROM directory_accounts WHERE deleted = 0")
        .fetch_all(pool)
        .await
}

/// Names and email from the directory.
pub async fn update_identity_names(
    tx: &mut Tx,
    id: &str,
    given_name: &str,
    family_name: &str,
    email: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identities SET given_name = $1, family_name = $2, email = $3, updated_at = $4 \
         WHERE id = $5",
    )
    .bind(given_name)
    .bind(family_name)
    .bind(email)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    super::search::reindex(tx, id).await
}

/// A pending change of an expired directory password.
#[derive(Debug, Clone, FromRow)]
pub struct PasswordChange {
    pub id: String,
    pub flow_id: String,
    pub login: String,
    pub dn: String,
    pub reason: String,
    pub expires_at: i64,
}

pub async fn insert_change(pool: &AnyPool, c: &PasswordChange) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_changes WHERE expires_at < $1")
        .bind(c.expires_at - 3600)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO password_changes (id, flow_id, login, dn, reason, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.id)
    .bind(&c.flow_id)
    .bind(&c.login)
    .bind(&c.dn)
    .bind(&c.reason)
    .bind(c.expires_at)
    .execute(pool)
    .await
    .map(|_| ())
}

pub async fn change(pool: &AnyPool, id: &str) -> Result<Option<PasswordChange>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, flow_id, login, dn, reason, expires_at FROM password_changes WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn delete_change(pool: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM password_changes WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
}

/// One directory sync run.
#[derive(Debug, Clone, Default, FromRow, serde::Serialize)]
pub struct SyncRun {
    pub id: String,
    pub mode: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub seen: i64,
    pub created: i64,
    pub linked: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub disabled: i64,
    pub enabled: i64,
    pub deleted: i64,
    pub conflicts: i64,
    pub group_count: i64,
    pub marker: Option<String>,
    pub error: Option<String>,
}

pub async fn insert_run(pool: &AnyPool, r: &SyncRun) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ldap_sync_runs (id, mode, started_at, finished_at, seen, created, linked, \
         updated, unchanged, disabled, enabled, deleted, conflicts, group_count, marker, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&r.id)
    .bind(&r.mode)
    .bind(r.started_at)
    .bind(r.finished_at)
    .bind(r.seen)
    .bind(r.created)
    .bind(r.linked)
    .bind(r.updated)
    .bind(r.unchanged)
    .bind(r.disabled)
    .bind(r.enabled)
    .bind(r.deleted)
    .bind(r.conflicts)
    .bind(r.group_count)
    .bind(&r.marker)
    .bind(&r.error)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Writes a run's counters and, once it ended, its end, marker and error.
pub async fn update_run(pool: &AnyPool, r: &SyncRun) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE ldap_sync_runs SET mode = $1, finished_at = $2, seen = $3, created = $4, \
         linked = $5, updated = $6, unchanged = $7, disabled = $8, enabled = $9, deleted = $10, \
         conflicts = $11, group_count = $12, marker = $13, error = $14 WHERE id = $15",
    )
    .bind(&r.mode)
    .bind(r.finished_at)
    .bind(r.seen)
    .bind(r.created)
    .bind(r.linked)
    .bind(r.updated)
    .bind(r.unchanged)
    .bind(r.disabled)
    .bind(r.enabled)
    .bind(r.deleted)
    .bind(r.conflicts)
    .bind(r.group_count)
    .bind(&r.marker)
    .bind(&r.error)
    .bind(&r.id)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Closes the runs a stopped process left open (called under the sync's lease).
pub async fn abandon_running(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE ldap_sync_runs SET finished_at = $1, error = 'abandoned: the process stopped \
         during the run' WHERE finished_at IS NULL",
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|d| d.rows_affected())
}

pub async fn run(pool: &AnyPool, id: &str) -> Result<Option<SyncRun>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, mode, started_at, finished_at, seen, created, linked, updated, unchanged, \
         disabled, enabled, deleted, conflicts, group_count, marker, error FROM ldap_sync_runs \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The latest successful run's marker (where the next incremental sync starts).
pub async fn last_marker(pool: &AnyPool) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT marker FROM ldap_sync_runs WHERE error IS NULL AND marker IS NOT NULL \
         AND finished_at IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| r.0))
}

pub async fn runs(pool: &AnyPool, limit: i64) -> Result<Vec<SyncRun>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, mode, started_at, finished_at, seen, created, linked, updated, unchanged, \
         disabled, enabled, deleted, conflicts, group_count, marker, error FROM ldap_sync_runs \
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
