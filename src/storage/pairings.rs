//! e-CPS pairings and the pending CIBA requests that lead to them. "Expired" is never stored:
//! an active row whose `expires_at` has passed reads as expired (the injected clock decides).

use sqlx::{AnyPool, FromRow};

use super::Tx;

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct PairingRecord {
    pub id: String,
    pub identity_id: String,
    pub idnat: String,
    /// `ciba` or `redirect`.
    pub means: String,
    pub validated_at: i64,
    pub expires_at: i64,
    /// `active` or `revoked` as stored; see [`PairingRecord::status_at`].
    pub status: String,
    /// 1 when this pairing created the identity's RPPS link (`psc.pairing.link_unlinked`).
    pub created_link: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
    /// The acr of the e-CPS validation (none for pairings older than its recording).
    pub acr: Option<String>,
}

impl PairingRecord {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn status_at(&self, now: i64) -> &'static str {
        match self.status.as_str() {
            "active" if self.expires_at > now => "active",
            "active" => "expired",
            _ => "revoked",
        }
    }
}

const COLUMNS: &str = "SELECT id, identity_id, idnat, means, validated_at, expires_at, status, \
     created_link, revoked_at, revoked_by, revoked_reason, acr FROM pairings";

pub async fn insert(tx: &mut Tx, r: &PairingRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pairings (id, identity_id, idnat, means, validated_at, expires_at, status, \
         created_link, revoked_at, revoked_by, revoked_reason, acr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&r.id)
    .bind(&r.identity_id)
    .bind(&r.idnat)
    .bind(&r.means)
    .bind(r.validated_at)
    .bind(r.expires_at)
    .bind(&r.status)
    .bind(r.created_link)
    .bind(r.revoked_at)
    .bind(&r.revoked_by)
    .bind(&r.revoked_reason)
    .bind(&r.acr)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The latest pairing of an identity (active, expired or revoked), if any.
pub async fn latest_of(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Option<PairingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE identity_id = $1 ORDER BY validated_at DESC, id DESC LIMIT 1"
    )))
    .bind(identity_id)
    .fetch_optional(pool)
    .await
}

/// Every pairing of an identity, newest first.
pub async fn of_identity(
    pool: &AnyPool,
    identity_id: &str,
) -> Result<Vec<PairingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE identity_id = $1 ORDER BY validated_at DESC, id DESC"
    )))
    .bind(identity_id)
    .fetch_all(pool)
    .await
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<PairingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Which pairings a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Active,
    Expired,
    Revoked,
}

/// Pairings by status at `now`, those expiring before `expiring_before` when given (active
/// ones only make sense there), newest first.
pub async fn list(
    pool: &AnyPool,
    filter: Filter,
    now: i64,
    expiring_before: Option<i64>,
) -> Result<Vec<PairingRecord>, sqlx::Error> {
    let listing = Listing {
        filter,
        now,
        expiring_before,
        after: None,
        limit: None,
    };
    let mut binds = Vec::new();
    let sql = format!(
        "SELECT {P_COLUMNS} FROM pairings p{} ORDER BY p.validated_at DESC, p.id DESC",
        listing.conditions(&mut binds, true)
    );
    fetch(pool, sql, binds).await
}

/// A pairing and the person it belongs to, as the lists show it.
#[derive(Debug, Clone, FromRow)]
pub struct ListedPairing {
    #[sqlx(flatten)]
    pub pairing: PairingRecord,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
}

/// What a list of pairings asks for: a filter at `now`, and one page of them by keyset.
#[derive(Debug, Clone)]
pub struct Listing {
    pub filter: Filter,
    pub now: i64,
    /// Only active pairings expiring after `now` and at the latest then.
    pub expiring_before: Option<i64>,
    /// The last row of the previous page (`validated_at`, `id`): the page starts after it.
    pub after: Option<(i64, String)>,
    /// The most rows to answer (none: every row).
    pub limit: Option<i64>,
}

/// A value bound to a listing's placeholders.
enum Bind {
    Int(i64),
    Text(String),
}

/// Columns of [`PairingRecord`] on the table aliased `p`.
const P_COLUMNS: &str = "p.id, p.identity_id, p.idnat, p.means, p.validated_at, p.expires_at, \
     p.status, p.created_link, p.revoked_at, p.revoked_by, p.revoked_reason, p.acr";

impl Listing {
    /// The `WHERE` clause (empty when nothing filters), its values pushed on `binds`; with the
    /// keyset of `after` unless `whole` (a count or a full list).
    fn conditions(&self, binds: &mut Vec<Bind>, whole: bool) -> String {
        let mut next = |b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let mut clauses: Vec<String> = Vec::new();
        match self.filter {
            Filter::All => {}
            Filter::Active => clauses.push(format!(
                "p.status = 'active' AND p.expires_at > {}",
                next(Bind::Int(self.now))
            )),
            Filter::Expired => clauses.push(format!(
                "p.status = 'active' AND p.expires_at <= {}",
                next(Bind::Int(self.now))
            )),
            Filter::Revoked => clauses.push("p.status = 'revoked'".to_owned()),
        }
        if let Some(t) = self.expiring_before {
            let now = next(Bind::Int(self.now));
            let t = next(Bind::Int(t));
            clauses.push(format!(
                "p.status = 'active' AND p.expires_at > {now} AND p.expires_at <= {t}"
            ));
        }
        if let (Some((at, id)), false) = (&self.after, whole) {
            let a1 = next(Bind::Int(*at));
            let a2 = next(Bind::Int(*at));
            let i = next(Bind::Text(id.clone()));
            clauses.push(format!(
                "(p.validated_at < {a1} OR (p.validated_at = {a2} AND p.id < {i}))"
            ));
        }
        if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        }
    }
}

async fn fetch<O>(pool: &AnyPool, sql: String, binds: Vec<Bind>) -> Result<Vec<O>, sqlx::Error>
where
    O: for<'r> FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(v),
            Bind::Text(v) => q.bind(v),
        };
    }
    q.fetch_all(pool).await
}

/// One page of pairings with their person, newest first (`validated_at`, then `id`): a
/// keyset, so a late page costs what the first does.
pub async fn page(pool: &AnyPool, listing: &Listing) -> Result<Vec<ListedPairing>, sqlx::Error> {
    let mut binds = Vec::new();
    let mut sql = format!(
        "SELECT {P_COLUMNS}, i.username, i.given_name, i.family_name FROM pairings p \
         JOIN identities i ON i.id = p.identity_id{} \
         ORDER BY p.validated_at DESC, p.id DESC",
        listing.conditions(&mut binds, false)
    );
    if let Some(n) = listing.limit {
        binds.push(Bind::Int(n));
        sql.push_str(&format!(" LIMIT ${}", binds.len()));
    }
    fetch(pool, sql, binds).await
}

/// How many pairings the listing's filter holds (its keyset and limit aside).
pub async fn count(pool: &AnyPool, listing: &Listing) -> Result<i64, sqlx::Error> {
    let mut binds = Vec::new();
    let sql = format!(
        "SELECT COUNT(*) FROM pairings p{}",
        listing.conditions(&mut binds, true)
    );
    let (n,): (i64,) = fetch(pool, sql, binds)
        .await?
        .into_iter()
        .next()
        .unwrap_or((0,));
    Ok(n)
}

/// Revokes the active pairing of an identity (if any); the revoked row.
pub async fn revoke_active_of(
    tx: &mut Tx,
    identity_id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> Result<Option<PairingRecord>, sqlx::Error> {
    let row: Option<PairingRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE identity_id = $1 AND status = 'active'"
    )))
    .bind(identity_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    revoke_row(tx, &row.id, by, reason, now).await?;
    Ok(Some(row))
}

/// Revokes one pairing; whether it was not revoked already.
pub async fn revoke_row(
    tx: &mut Tx,
    id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let update = "UPDATE pairings SET status = 'revoked', revoked_at = $1, revoked_by = $2, \
                  revoked_reason = $3 WHERE id = $4 AND status = 'active'";
    super::revoke_once(tx, update, id, by, reason, now).await
}

/// What a CIBA request was made for.
pub const PURPOSE_PAIRING: &str = "pairing";
/// A proof of the person's IdNat that authorises enrolling one security key.
pub const PURPOSE_ENROLMENT: &str = "enrolment";

/// A pending (or settled) CIBA request: for a pairing, or for a key enrolment.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRecord {
    pub id: String,
    pub identity_id: String,
    /// The SSO session that started it: the browser and the person it is bound to.
    pub session_id: String,
    pub idnat: String,
    pub binding_message: String,
    pub auth_req_id: String,
    pub interval_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// `pending`, `paired` (a pairing) or `proven` (an enrolment), `refused`, `expired`,
    /// `mismatch`, `failed`, `cancelled`.
    pub state: String,
    pub reason: Option<String>,
    pub pairing_id: Option<String>,
    pub settled_at: Option<i64>,
    /// [`PURPOSE_PAIRING`] or [`PURPOSE_ENROLMENT`].
    pub purpose: String,
    /// The acr of the e-CPS validation, once proven.
    pub acr: Option<String>,
    /// When an enrolment spent this proof.
    pub used_at: Option<i64>,
}

const REQUEST_COLUMNS: &str = "SELECT id, identity_id, session_id, idnat, binding_message, \
     auth_req_id, interval_secs, created_at, expires_at, state, reason, pairing_id, settled_at, \
     purpose, acr, used_at FROM pairing_requests";

pub async fn insert_request(tx: &mut Tx, r: &RequestRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pairing_requests (id, identity_id, session_id, idnat, binding_message, \
         auth_req_id, interval_secs, created_at, expires_at, state, reason, pairing_id, \
         settled_at, purpose, acr, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&r.id)
    .bind(&r.identity_id)
    .bind(&r.session_id)
    .bind(&r.idnat)
    .bind(&r.binding_message)
    .bind(&r.auth_req_id)
    .bind(r.interval_secs)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(&r.state)
    .bind(&r.reason)
    .bind(&r.pairing_id)
    .bind(r.settled_at)
    .bind(&r.purpose)
    .bind(&r.acr)
    .bind(r.used_at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn request(pool: &AnyPool, id: &str) -> Result<Option<RequestRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_COLUMNS} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The latest request of a session for `purpose` (what the page shows after a reload).
pub async fn latest_request_of_session(
    pool: &AnyPool,
    session_id: &str,
    purpose: &str,
) -> Result<Option<RequestRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_COLUMNS} WHERE session_id = $1 AND purpose = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    )))
    .bind(session_id)
    .bind(purpose)
    .fetch_optional(pool)
    .await
}

/// Every pending request (the polling worker's work list).
pub async fn pending(pool: &AnyPool) -> Result<Vec<RequestRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_COLUMNS} WHERE state = 'pending' ORDER BY created_at"
    )))
    .fetch_all(pool)
    .await
}

/// Moves a request from state `from` to `to`: only the first caller wins (concurrent
/// completions are single-use). Whether this call moved it.
pub async fn transition(
    pool: &AnyPool,
    id: &str,
    from: &str,
    to: &str,
    reason: Option<&str>,
    pairing_id: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE pairing_requests SET state = $1, reason = $2, pairing_id = $3, settled_at = $4 \
         WHERE id = $5 AND state = $6",
    )
    .bind(to)
    .bind(reason)
    .bind(pairing_id)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the acr of an approved enrolment proof and settles it as `to` (`proven`,
/// `mismatch`, `failed`), from `approved` only. Whether this call settled it.
pub async fn settle_proof(
    pool: &AnyPool,
    id: &str,
    to: &str,
    reason: Option<&str>,
    acr: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE pairing_requests SET state = $1, reason = $2, acr = $3, settled_at = $4 \
         WHERE id = $5 AND state = 'approved' AND purpose = 'enrolment'",
    )
    .bind(to)
    .bind(reason)
    .bind(acr)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Spends an enrolment proof of `identity_id` proven after `proven_after`: only the first
/// caller wins (one proof, one key). Whether this call spent it, and the request as it now
/// stands (`None` when unknown): not spent when it is another person's, not proven, stale or
/// already spent.
pub async fn spend_proof(
    tx: &mut Tx,
    id: &str,
    identity_id: &str,
    proven_after: i64,
    now: i64,
) -> Result<(bool, Option<RequestRecord>), sqlx::Error> {
    let done = sqlx::query(
        "UPDATE pairing_requests SET used_at = $1 WHERE id = $2 AND identity_id = $3 \
         AND purpose = 'enrolment' AND state = 'proven' AND used_at IS NULL \
         AND settled_at > $4",
    )
    .bind(now)
    .bind(id)
    .bind(identity_id)
    .bind(proven_after)
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_COLUMNS} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok((done.rows_affected() == 1, row))
}

/// The pairing `id` of `identity_id` when it is still active at `now` (read in the
/// transaction that stores a key enrolled on its authority).
pub async fn live_pairing(
    tx: &mut Tx,
    id: &str,
    identity_id: &str,
    now: i64,
) -> Result<Option<PairingRecord>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE id = $1 AND identity_id = $2 AND status = 'active' AND expires_at > $3"
    )))
    .bind(id)
    .bind(identity_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// Cancels the pending requests of an identity (suspension, departure, a new request).
pub async fn cancel_pending_of(
    tx: &mut Tx,
    identity_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE pairing_requests SET state = 'cancelled', reason = $1, settled_at = $2 \
         WHERE identity_id = $3 AND state = 'pending'",
    )
    .bind(reason)
    .bind(now)
    .bind(identity_id)
    .execute(&mut **tx)
    .await
    .map(|r| r.rows_affected())
}
