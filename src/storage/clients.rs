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

/// The settings an edit rewrites, in the order `bind_settings` binds them from `$2`.
const SETTINGS: [&str; 16] = [
    "name",
    "public",
    "auth_method",
    "jwks",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grants",
    "scopes",
    "signing_alg",
    "backchannel_logout_uri",
    "first_party",
    "require_pkce",
    "min_acr",
    "max_auth_age",
    "introspect",
    "psc_broker",
];

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the client's id (`$1`), then its [`SETTINGS`] (`$2` to `$17`).
fn bind_settings<'q>(q: Query<'q>, r: &'q ClientRecord) -> Query<'q> {
    q.bind(r.id.as_str())
        .bind(&r.name)
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
        .bind(r.introspect)
        .bind(r.psc_broker)
}

pub async fn insert(tx: &mut Tx, r: &ClientRecord) -> Result<(), sqlx::Error> {
    let params: Vec<String> = (1..=22).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO clients (id, {}, created_at, updated_at, disabled_at, secret_rotated_at, \
         secret_hash) VALUES ({})",
        SETTINGS.join(", "),
        params.join(", ")
    );
    bind_settings(sqlx::query(sqlx::AssertSqlSafe(sql)), r)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(r.disabled_at)
        .bind(r.secret_rotated_at)
        .bind(&r.secret_hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rewrites a client's settings from `r`. Its secret columns (`secret_hash`,
/// `secret_rotated_at`) are written only when `with_secret` (the change makes the client
/// public or moves it to keys, which clears them), and `disabled_at` never: a rotation or a
/// disabling that lands meanwhile is kept, never reverted to what was read before. Whether
/// the client exists.
pub async fn update(tx: &mut Tx, r: &ClientRecord, with_secret: bool) -> Result<bool, sqlx::Error> {
    let settings: Vec<String> = SETTINGS
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 2))
        .collect();
    let secret = if with_secret {
        ", secret_hash = $19, secret_rotated_at = $20"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE clients SET {}, updated_at = $18{secret} WHERE id = $1",
        settings.join(", ")
    );
    let mut q = bind_settings(sqlx::query(sqlx::AssertSqlSafe(sql)), r).bind(r.updated_at);
    if with_secret {
        q = q.bind(&r.secret_hash).bind(r.secret_rotated_at);
    }
    let done = q.execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a confidential client a new secret hash, if it still authenticates with a secret
/// (not public, no keys): only the secret columns change. Whether it did.
pub async fn set_secret(
    tx: &mut Tx,
    id: &str,
    secret_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE clients SET secret_hash = $2, auth_method = 'client_secret_basic', \
         updated_at = $3, secret_rotated_at = $3 \
         WHERE id = $1 AND public = 0 AND auth_method <> 'private_key_jwt'",
    )
    .bind(id)
    .bind(secret_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables a client (`disabled_at` = when), or enables it (`disabled_at` = `None`), if it is
/// not so already: only `disabled_at` and `updated_at` change. Whether it did (two
/// administrators at once: one does it, the other finds it done).
pub async fn set_disabled(
    tx: &mut Tx,
    id: &str,
    disabled_at: Option<i64>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let unless = if disabled_at.is_some() {
        "disabled_at IS NULL"
    } else {
        "disabled_at IS NOT NULL"
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE clients SET disabled_at = $2, updated_at = $3 WHERE id = $1 AND {unless}"
    )))
    .bind(id)
    .bind(disabled_at)
    .bind(now)
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
