//! Administration roles assigned locally, the roles mapped from directory groups, and the
//! identity checks recorded before an enrolment code.

use sqlx::{AnyPool, FromRow};

use super::{Tx, from_json_list};

/// A role assigned locally.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct RoleGrant {
    pub identity_id: String,
    pub role: String,
    pub granted_by: String,
    pub granted_at: i64,
}

/// Roles assigned locally to an identity, by name.
pub async fn local_roles(pool: &AnyPool, identity_id: &str) -> Result<Vec<RoleGrant>, sqlx::Error> {
    sqlx::query_as(
        "SELECT identity_id, role, granted_by, granted_at FROM identity_roles \
         WHERE identity_id = $1 ORDER BY role",
    )
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

/// Roles that the directory groups of the identity's enabled accounts map to (`[admin.roles]`).
pub async fn directory_roles(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT admin_roles FROM directory_accounts \
         WHERE identity_id = $1 AND deleted = 0 AND enabled = 1",
    )
    .bind(identity_id)
    .fetch_all(pool)
    .await?;
    let mut roles: Vec<String> = rows.iter().flat_map(|r| from_json_list(&r.0)).collect();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Assigns a role; false when the identity already had it.
pub async fn grant(tx: &mut Tx, g: &RoleGrant) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO identity_roles (identity_id, role, granted_by, granted_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (identity_id, role) DO NOTHING",
    )
    .bind(&g.identity_id)
    .bind(&g.role)
    .bind(&g.granted_by)
    .bind(g.granted_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws a role assigned locally; false when the identity did not have it.
pub async fn withdraw(tx: &mut Tx, identity_id: &str, role: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM identity_roles WHERE identity_id = $1 AND role = $2")
        .bind(identity_id)
        .bind(role)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// An identity check: who checked whose identity, with which document, how and when.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct IdentityCheck {
    pub id: String,
    pub identity_id: String,
    pub checked_by: String,
    pub document: String,
    /// 1 when the check was made remotely (video), 0 in person.
    pub remote: i64,
    pub checked_at: i64,
    pub recorded_by: String,
}

/// Records an identity check.
pub async fn insert_check(tx: &mut Tx, c: &IdentityCheck) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_checks (id, identity_id, checked_by, document, remote, checked_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&c.id)
    .bind(&c.identity_id)
    .bind(&c.checked_by)
    .bind(&c.document)
    .bind(c.remote)
    .bind(c.checked_at)
    .bind(&c.recorded_by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The identity checks of an identity, newest first.
pub async fn checks_of(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<IdentityCheck>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, identity_id, checked_by, document, remote, checked_at, recorded_by \
         FROM identity_checks WHERE identity_id = $1 ORDER BY checked_at DESC, id DESC",
    )
    .bind(identity_id)
    .fetch_all(pool)
    .await
}
