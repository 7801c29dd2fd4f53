//! Registered relying parties.

use sqlx::{AnyPool, FromRow};

use super::Tx;
use crate::protocol::ClientId;

#[derive(Debug, Clone, FromRow)]
pub struct ClientRecord {
    #[sqlx(try_from = "String")]
    pub id: ClientId,
    pub name: String,
    pub secret_hash: Option<String>,
    pub public: i64,
    pub auth_method: String,
    pub jwks: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grants: String,
    pub scopes: String,
    pub signing_alg: String,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: i64,
    pub require_pkce: i64,
    pub min_acr: Option<String>,
    pub max_auth_age: Option<i64>,
    /// 1 for a resource server, which may introspect every client's access tokens.
    pub introspect: i64,
    /// 1 for Pro Santé Connect's broker: the federation profile and claims apply.
    pub psc_broker: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the client was disabled; while set, it can neither start a login nor get tokens.
    pub disabled_at: Option<i64>,
    /// When its current secret was issued (unknown for secrets older than this column).
    pub secret_rotated_at: Option<i64>,
}

const SELECT: &str = "SELECT id, name, secret_hash, public, auth_method, jwks, redirect_uris, \
    post_logout_redirect_uris, grants, scopes, signing_alg, backchannel_logout_uri, first_party, \
    require_pkce, min_acr, max_auth_age, introspect, psc_broker, created_at, updated_at, disabled_at, \
    secret_rotated_at FROM clients";

pub async fn insert(tx: &mut Tx, r: &ClientRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clients (id, name, secret_hash, public, auth_method, jwks, redirect_uris, \
         post_logout_redirect_uris, grants, scopes, signing_alg, backchannel_logout_uri, \
         first_party, require_pkce, min_acr, max_auth_age, created_at, updated_at, introspect, \
         psc_broker, disabled_at, secret_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
    )
    .bind(r.id.as_str())
    .bind(&r.name)
    .bind(&r.secret_hash)
    .bind(r.public)
    .bind(&r.auth_method)
    .bind(&r.jwks)
    .bind(&r.redirect_uris)
    .bind(&r.post_logout_redirect_uris)
    .bind(&r.grants)
    .bind(&r.scopes)
    .bind(&r.signing_alg)
    .bind(&r.backchannel_logout_uri)
    .bind(r.first_party)
    .bind(r.require_pkce)
    .bind(&r.min_acr)
    .bind(r.max_auth_age)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.introspect)
    .bind(r.psc_broker)
    .bind(r.disabled_at)
    .bind(r.secret_rotated_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Writes every mutable field of an existing client.
pub async fn update(tx: &mut Tx, r: &ClientRecord) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE clients SET name = $2, secret_hash = $3, public = $4, auth_method = $5, jwks = $6, \
         redirect_uris = $7, post_logout_redirect_uris = $8, grants = $9, scopes = $10, \
         signing_alg = $11, backchannel_logout_uri = $12, first_party = $13, require_pkce = $14, \
         min_acr = $15, max_auth_age = $16, updated_at = $17, introspect = $18, \
         psc_broker = $19, disabled_at = $20, secret_rotated_at = $21 WHERE id = $1",
    )
    .bind(r.id.as_str())
    .bind(&r.name)
    .bind(&r.secret_hash)
    .bind(r.public)
    .bind(&r.auth_method)
    .bind(&r.jwks)
    .bind(&r.redirect_uris)
    .bind(&r.post_logout_redirect_uris)
    .bind(&r.grants)
    .bind(&r.scopes)
    .bind(&r.signing_alg)
    .bind(&r.backchannel_logout_uri)
    .bind(r.first_party)
    .bind(r.require_pkce)
    .bind(&r.min_acr)
    .bind(r.max_auth_age)
    .bind(r.updated_at)
    .bind(r.introspect)
    .bind(r.psc_broker)
    .bind(r.disabled_at)
    .bind(r.secret_rotated_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<ClientRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn list(pool: &AnyPool) -> Result<Vec<ClientRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY id")))
        .fetch_all(pool)
        .await
}

/// Up to `limit` clients after the id `after` (`""` for the first page), by id: keyset
/// pagination for the console.
pub async fn page(
    pool: &AnyPool,
    after: &str,
    limit: i64,
) -> Result<Vec<ClientRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE id > $1 ORDER BY id LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delete(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM clients WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
