//! FIDO2 security keys, enrolment codes and pending WebAuthn ceremonies.

use sqlx::{AnyPool, AssertSqlSafe, FromRow};

use super::Tx;

/// One enrolled security key. `credential` is the verifier's serialised credential (public
/// key, counter, attestation); the other columns are what admins and people see and search.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct KeyRecord {
    pub id: String,
    pub identity_id: String,
    /// Base64url of the raw credential id.
    pub credential_id: String,
    pub name: String,
    #[serde(skip)]
    pub credential: String,
    pub aaguid: Option<String>,
    pub model: Option<String>,
    pub attested: i64,
    pub user_verified: i64,
    pub counter: i64,
    pub created_at: i64,
    /// `enrolment_code`, `strong_session` (another key or a card), `admin`.
    pub created_via: String,
    pub last_used_at: Option<i64>,
    pub flagged_at: Option<i64>,
    pub flag_reason: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
}

impl KeyRecord {
    /// Usable for a login: neither revoked nor flagged.
    pub fn usable(&self) -> bool {
        self.revoked_at.is_none() && self.flagged_at.is_none()
    }
}

const COLUMNS: &str = "id, identity_id, credential_id, name, credential, aaguid, model, attested, \
    user_verified, counter, created_at, created_via, last_used_at, flagged_at, flag_reason, \
    revoked_at, revoked_by, revoked_reason";

pub async fn insert(tx: &mut Tx, k: &KeyRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO security_keys (id, identity_id, credential_id, name, credential, aaguid, \
         model, attested, user_verified, counter, created_at, created_via) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&k.id)
    .bind(&k.identity_id)
    .bind(&k.credential_id)
    .bind(&k.name)
    .bind(&k.credential)
    .bind(&k.aaguid)
    .bind(&k.model)
    .bind(k.attested)
    .bind(k.user_verified)
    .bind(k.counter)
    .bind(k.created_at)
    .bind(&k.created_via)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The keys of an identity, revoked ones included, oldest first.
pub async fn of_identity(pool: &AnyPool, identity_id: &str) -> Result<Vec<KeyRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM security_keys WHERE identity_id = $1 ORDER BY created_at, id"
    )))
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

/// Every key, newest first, optionally only the flagged ones (admin listing).
pub async fn all(pool: &AnyPool, flagged_only: bool) -> Result<Vec<KeyRecord>, sqlx::Error> {
    let filter = if flagged_only {
        " WHERE flagged_at IS NOT NULL AND revoked_at IS NULL"
    } else {
        ""
    };
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM security_keys{filter} ORDER BY created_at DESC, id"
    )))
    .fetch_all(pool)
    .await
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM security_keys WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn by_credential_id(
    pool: &AnyPool,
    credential_id: &str,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM security_keys WHERE credential_id = $1"
    )))
    .bind(credential_id)
    .fetch_optional(pool)
    .await
}

/// After a verified assertion: the new credential state, counter and last use.
pub async fn record_use(
    tx: &mut Tx,
    id: &str,
    credential: &str,
    counter: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE security_keys SET credential = $1, counter = $2, last_used_at = $3 WHERE id = $4",
    )
    .bind(credential)
    .bind(counter)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Marks a key as suspect (e.g. a counter that went backwards): refused until an admin acts.
pub async fn flag(pool: &AnyPool, id: &str, reason: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE security_keys SET flagged_at = $1, flag_reason = $2 \
         WHERE id = $3 AND flagged_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Clears a flag after an admin checked the key; the counter restarts from zero (`credential`
/// is the verifier state with its counter reset).
pub async fn unflag(tx: &mut Tx, id: &str, credential: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE security_keys SET flagged_at = NULL, flag_reason = NULL, counter = 0, \
         credential = $2 WHERE id = $1 AND flagged_at IS NOT NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(credential)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn rename(
    pool: &AnyPool,
    id: &str,
    identity_id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE security_keys SET name = $1 WHERE id = $2 AND identity_id = $3 \
         AND revoked_at IS NULL",
    )
    .bind(name)
    .bind(id)
    .bind(identity_id)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes a key (removal by its owner or revocation by an admin). True when this call did it.
pub async fn revoke(
    tx: &mut Tx,
    id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let update = "UPDATE security_keys SET revoked_at = $1, revoked_by = $2, \
                  revoked_reason = $3 WHERE id = $4 AND revoked_at IS NULL";
    super::revoke_once(tx, update, id, by, reason, now).await
}

/// Open sessions that used this credential in one of their events.
pub async fn sessions_using(
    pool: &AnyPool,
    credential_ref: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT s.id FROM sso_sessions s JOIN auth_events e ON e.session_id = s.id \
         WHERE e.credential_ref = $1 AND s.ended_at IS NULL",
    )
    .bind(credential_ref)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// An enrolment code (stored hashed).
#[derive(Debug, Clone, FromRow)]
pub struct CodeRecord {
    pub code_hash: String,
    pub identity_id: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The identity check recorded when the code was issued.
    #[sqlx(default)]
    pub identity_check_id: Option<String>,
}

/// Stores a new code; the identity's earlier unused codes stop working.
pub async fn insert_code(tx: &mut Tx, c: &CodeRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE enrolment_codes SET used_at = $1 WHERE identity_id = $2 AND used_at IS NULL",
    )
    .bind(c.created_at)
    .bind(&c.identity_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO enrolment_codes (code_hash, identity_id, created_at, created_by, expires_at, identity_check_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.code_hash)
    .bind(&c.identity_id)
    .bind(c.created_at)
    .bind(&c.created_by)
    .bind(c.expires_at)
    .bind(&c.identity_check_id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A code that is neither used nor expired at `now`.
pub async fn live_code(
    pool: &AnyPool,
    code_hash: &str,
    now: i64,
) -> Result<Option<CodeRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code_hash, identity_id, created_at, created_by, expires_at, used_at \
         FROM enrolment_codes WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(code_hash)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Spends a code; false when it was spent or expired meanwhile.
pub async fn use_code(tx: &mut Tx, code_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE enrolment_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         AND expires_at > $1",
    )
    .bind(now)
    .bind(code_hash)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A pending ceremony: the verifier's state between the options and the browser's answer.
#[derive(Debug, Clone, FromRow)]
pub struct CeremonyRecord {
    pub id: String,
    /// `register`, `second_factor` or `passwordless`.
    pub kind: String,
    pub identity_id: Option<String>,
    pub flow_id: Option<String>,
    pub code_hash: Option<String>,
    pub state: String,
    pub expires_at: i64,
    /// The e-CPS authority of an enrolment (`pairing:ID` or `ciba:ID`), spent with it.
    pub ecps_grant: Option<String>,
}

pub async fn insert_ceremony(pool: &AnyPool, c: &CeremonyRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, kind, identity_id, flow_id, code_hash, state, \
         expires_at, ecps_grant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&c.id)
    .bind(&c.kind)
    .bind(&c.identity_id)
    .bind(&c.flow_id)
    .bind(&c.code_hash)
    .bind(&c.state)
    .bind(c.expires_at)
    .bind(&c.ecps_grant)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Takes a ceremony out (single use: a replayed answer finds nothing). Expired ones are
/// returned too (the minute purge removes them), for the caller to refuse.
pub async fn take_ceremony(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<CeremonyRecord>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 \
         RETURNING id, kind, identity_id, flow_id, code_hash, state, expires_at, ecps_grant",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}
