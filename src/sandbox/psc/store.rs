//! The sandbox's own state in SQLite (a file, or `:memory:`): pending e-CPS requests (CIBA and
//! browser logins), sessions, authorization codes and refresh tokens. Its small schema is
//! created at start and kept apart from Trousseau's migrations. Every single-use rule is one
//! conditional `UPDATE`, so concurrent callers cannot both win; the caps on open requests are
//! one conditional `INSERT` for the same reason. [`Store::purge`] keeps the tables bounded.

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS requests (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        client_id TEXT NOT NULL,
        idnat TEXT,
        binding_message TEXT NOT NULL,
        channel TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        interval_secs INTEGER NOT NULL,
        last_poll_at INTEGER,
        browser TEXT,
        redirect_uri TEXT,
        state TEXT,
        nonce TEXT,
        code_challenge TEXT,
        session_id TEXT,
        source TEXT)",
    "CREATE INDEX IF NOT EXISTS requests_idnat ON requests (idnat, status)",
    "CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        idnat TEXT NOT NULL,
        channel TEXT NOT NULL,
        auth_time INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        ended INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        session_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        nonce TEXT,
        code_challenge TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0)",
];

/// What kind of pending request the phone page shows.
pub const KIND_CIBA: &str = "ciba";
pub const KIND_LOGIN: &str = "login";

/// Request states: `prompt` (a login waiting for its IdNat), `pending`, `approved`,
/// `denied`, `done` (tokens or code issued).
pub mod status {
    pub const PROMPT: &str = "prompt";
    pub const PENDING: &str = "pending";
    pub const APPROVED: &str = "approved";
    pub const DENIED: &str = "denied";
    pub const DONE: &str = "done";
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: String,
    pub kind: String,
    pub client_id: String,
    pub idnat: Option<String>,
    pub binding_message: String,
    pub channel: String,
    pub scope: String,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
    pub last_poll_at: Option<i64>,
    pub browser: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub session_id: Option<String>,
    /// The address of the HTTP client that opened it (the caps per address).
    pub source: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub idnat: String,
    pub channel: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub session_id: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refresh {
    pub client_id: String,
    pub session_id: String,
    pub scope: String,
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

const REQUEST_COLUMNS: &str = "id, kind, client_id, idnat, binding_message, channel, scope, \
    status, created_at, expires_at, interval_secs, last_poll_at, browser, redirect_uri, state, \
    nonce, code_challenge, session_id, source";

/// The caps on requests still open (waiting for an IdNat or for the phone, not expired).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Per client address.
    pub per_address: i64,
    /// For the whole sandbox.
    pub total: i64,
}

/// What inserting a request under the caps did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    Inserted,
    /// The address already has `per_address` open requests.
    AddressFull,
    /// The sandbox already has `total` open requests.
    SandboxFull,
}

/// How long the rows of a purge are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A request stays this long after its expiry, so that polling it still answers
    /// `expired_token` (or `access_denied`, or "already used"); then it is unknown.
    pub request_secs: i64,
    /// A session's absolute lifetime: past it, nothing can use it.
    pub session_absolute_secs: i64,
}

/// Rows removed by one purge, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub requests: u64,
    pub sessions: u64,
    pub codes: u64,
    pub refresh_tokens: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.requests + self.sessions + self.codes + self.refresh_tokens
    }
}

/// The condition of a request still open at `$now`.
const OPEN: &str = "status IN ('prompt', 'pending') AND expires_at > ";

impl Store {
    /// Opens (or creates) the database and its schema.
    pub async fn open(database: &str) -> anyhow::Result<Store> {
        let (url, connections) = if database == ":memory:" {
            // Each connection to `:memory:` is its own database: keep one.
            ("sqlite::memory:".to_owned(), 1)
        } else {
            (format!("sqlite://{database}"), 4)
        };
        let options = SqliteConnectOptions::from_str(&url)
            .context("database")?
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {database}"))?;
        for statement in SCHEMA {
            sqlx::query(*statement)
                .execute(&pool)
                .await
                .context("creating the sandbox schema")?;
        }
        // A file made before requests recorded their client address.
        if let Err(e) = sqlx::query("ALTER TABLE requests ADD COLUMN source TEXT")
            .execute(&pool)
            .await
            && !e.to_string().contains("duplicate column")
        {
            return Err(e).context("adding requests.source");
        }
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS requests_open ON requests (status, expires_at, source)",
        )
        .execute(&pool)
        .await
        .context("creating the sandbox schema")?;
        Ok(Store { pool })
    }

    /// The connection pool, for the broker's own tables (`broker_store`).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Inserts a request without any cap (tests, and rows that are not open).
    pub async fn insert_request(&self, r: &Request) -> anyhow::Result<()> {
        self.bind_request(
            "INSERT INTO requests (id, kind, client_id, idnat, binding_message, channel, scope, \
             status, created_at, expires_at, interval_secs, last_poll_at, browser, redirect_uri, \
             state, nonce, code_challenge, session_id, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19)",
            r,
        )
        .execute(&self.pool)
        .await
        .context("insert request")?;
        Ok(())
    }

    /// Inserts a request unless its address, or the whole sandbox, already has as many open
    /// requests as `caps` allows (counted at the request's `created_at`). One statement: two
    /// concurrent callers cannot both take the last place.
    pub async fn insert_request_capped(&self, r: &Request, caps: Caps) -> anyhow::Result<Admitted> {
        let sql = format!(
            "INSERT INTO requests (id, kind, client_id, idnat, binding_message, channel, scope, \
             status, created_at, expires_at, interval_secs, last_poll_at, browser, redirect_uri, \
             state, nonce, code_challenge, session_id, source) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19 \
             WHERE (SELECT COUNT(*) FROM requests WHERE source = $19 AND {OPEN} $9) < $20 \
             AND (SELECT COUNT(*) FROM requests WHERE {OPEN} $9) < $21"
        );
        let done = self
            .bind_request(sqlx::AssertSqlSafe(sql), r)
            .bind(caps.per_address)
            .bind(caps.total)
            .execute(&self.pool)
            .await
            .context("insert request")?;
        if done.rows_affected() == 1 {
            return Ok(Admitted::Inserted);
        }
        let (from_address, _) = self
            .open_requests(r.source.as_deref().unwrap_or(""), r.created_at)
            .await?;
        Ok(if from_address >= caps.per_address {
            Admitted::AddressFull
        } else {
            Admitted::SandboxFull
        })
    }

    /// The open requests of an address, and of the whole sandbox, at `now`.
    pub async fn open_requests(&self, source: &str, now: i64) -> anyhow::Result<(i64, i64)> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(CASE WHEN source = $1 THEN 1 ELSE 0 END), 0), COUNT(*) \
             FROM requests WHERE {OPEN} $2"
        )))
        .bind(source)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .context("count open requests")
    }

    /// Deletes what nothing can use any more: requests `request_secs` past their expiry,
    /// ended or finished sessions, used or expired codes and refresh tokens.
    pub async fn purge(&self, now: i64, keep: Retention) -> anyhow::Result<Purged> {
        let run = |sql: &'static str, limit: i64| {
            let pool = self.pool.clone();
            async move {
                sqlx::query(sql)
                    .bind(limit)
                    .execute(&pool)
                    .await
                    .map(|d| d.rows_affected())
                    .with_context(|| format!("purge: {sql}"))
            }
        };
        Ok(Purged {
            requests: run(
                "DELETE FROM requests WHERE expires_at < $1",
                now - keep.request_secs,
            )
            .await?,
            codes: run("DELETE FROM codes WHERE used = 1 OR expires_at <= $1", now).await?,
            refresh_tokens: run(
                "DELETE FROM refresh_tokens WHERE used = 1 OR expires_at <= $1",
                now,
            )
            .await?,
            sessions: run(
                "DELETE FROM sessions WHERE ended = 1 OR created_at <= $1",
                now - keep.session_absolute_secs,
            )
            .await?,
        })
    }

    fn bind_request<'q>(
        &self,
        sql: impl sqlx::SqlSafeStr,
        r: &'q Request,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        sqlx::query(sql)
            .bind(&r.id)
            .bind(&r.kind)
            .bind(&r.client_id)
            .bind(&r.idnat)
            .bind(&r.binding_message)
            .bind(&r.channel)
            .bind(&r.scope)
            .bind(&r.status)
            .bind(r.created_at)
            .bind(r.expires_at)
            .bind(r.interval_secs)
            .bind(r.last_poll_at)
            .bind(&r.browser)
            .bind(&r.redirect_uri)
            .bind(&r.state)
            .bind(&r.nonce)
            .bind(&r.code_challenge)
            .bind(&r.session_id)
            .bind(&r.source)
    }

    pub async fn request(&self, id: &str) -> anyhow::Result<Option<Request>> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("read request")
    }

    /// The requests of a professional still waiting for a decision.
    pub async fn pending_for(&self, idnat: &str, now: i64) -> anyhow::Result<Vec<Request>> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests \
             WHERE idnat = $1 AND status = 'pending' AND expires_at > $2 ORDER BY created_at"
        )))
        .bind(idnat)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("pending requests")
    }

    /// Records a poll made at `now_ms` (milliseconds) when it comes at least the request's
    /// interval after the previous one (less `grace_ms` of network jitter); `false` when it
    /// came too soon (`slow_down`), which leaves the previous time in place.
    pub async fn record_poll(&self, id: &str, now_ms: i64, grace_ms: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE requests SET last_poll_at = $2 WHERE id = $1 \
             AND (last_poll_at IS NULL OR last_poll_at <= $2 - interval_secs * 1000 + $3)",
        )
        .bind(id)
        .bind(now_ms)
        .bind(grace_ms)
        .execute(&self.pool)
        .await
        .context("record poll")?;
        Ok(done.rows_affected() == 1)
    }

    /// A login request gets its professional and starts waiting for the phone.
    pub async fn start_login(
        &self,
        id: &str,
        idnat: &str,
        binding_message: &str,
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE requests SET idnat = $2, binding_message = $3, status = 'pending', \
             expires_at = $4 WHERE id = $1 AND status = 'prompt'",
        )
        .bind(id)
        .bind(idnat)
        .bind(binding_message)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .context("start login")?;
        Ok(done.rows_affected() == 1)
    }

    /// The phone's answer: only a pending, unexpired request of this professional changes.
    pub async fn decide(
        &self,
        id: &str,
        idnat: &str,
        approve: bool,
        now: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE requests SET status = $3 \
             WHERE id = $1 AND idnat = $2 AND status = 'pending' AND expires_at > $4",
        )
        .bind(id)
        .bind(idnat)
        .bind(if approve {
            status::APPROVED
        } else {
            status::DENIED
        })
        .bind(now)
        .execute(&self.pool)
        .await
        .context("decide request")?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes an approved request once (the caller then issues tokens or a code).
    pub async fn consume(&self, id: &str, now: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE requests SET status = 'done' \
             WHERE id = $1 AND status = 'approved' AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("consume request")?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_session(&self, s: &Session) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, idnat, channel, auth_time, created_at, last_seen_at, ended) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&s.id)
        .bind(&s.idnat)
        .bind(&s.channel)
        .bind(s.auth_time)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .execute(&self.pool)
        .await
        .context("insert session")?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> anyhow::Result<Option<Session>> {
        sqlx::query_as(
            "SELECT id, idnat, channel, auth_time, created_at, last_seen_at, ended \
             FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("read session")
    }

    pub async fn touch_session(&self, id: &str, now: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("touch session")?;
        Ok(())
    }

    pub async fn end_session(&self, id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE sessions SET ended = 1 WHERE id = $1 AND ended = 0")
            .bind(id)
            .execute(&self.pool)
            .await
            .context("end session")?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_code(&self, code_hash: &str, c: &Code) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO codes (code_hash, client_id, redirect_uri, session_id, scope, nonce, \
             code_challenge, expires_at, used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
        )
        .bind(code_hash)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.session_id)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await
        .context("insert code")?;
        Ok(())
    }

    /// Takes a code once.
    pub async fn take_code(&self, code_hash: &str) -> anyhow::Result<Option<Code>> {
        sqlx::query_as(
            "UPDATE codes SET used = 1 WHERE code_hash = $1 AND used = 0 \
             RETURNING client_id, redirect_uri, session_id, scope, nonce, code_challenge, expires_at",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .context("take code")
    }

    pub async fn insert_refresh(&self, token_hash: &str, r: &Refresh) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, client_id, session_id, scope, expires_at, used) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(token_hash)
        .bind(&r.client_id)
        .bind(&r.session_id)
        .bind(&r.scope)
        .bind(r.expires_at)
        .execute(&self.pool)
        .await
        .context("insert refresh token")?;
        Ok(())
    }

    /// Takes a refresh token once (it is rotated).
    pub async fn take_refresh(&self, token_hash: &str) -> anyhow::Result<Option<Refresh>> {
        sqlx::query_as(
            "UPDATE refresh_tokens SET used = 1 WHERE token_hash = $1 AND used = 0 \
             RETURNING client_id, session_id, scope, expires_at",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .context("take refresh token")
    }

    /// A refresh token, without using it (introspection).
    pub async fn refresh(&self, token_hash: &str) -> anyhow::Result<Option<Refresh>> {
        sqlx::query_as(
            "SELECT client_id, session_id, scope, expires_at FROM refresh_tokens \
             WHERE token_hash = $1 AND used = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .context("read refresh token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str) -> Request {
        Request {
            id: id.into(),
            kind: KIND_CIBA.into(),
            client_id: "c".into(),
            idnat: Some("810001045367".into()),
            binding_message: "42".into(),
            channel: "MOBILE".into(),
            scope: "openid scope_all".into(),
            status: status::PENDING.into(),
            created_at: 100,
            expires_at: 200,
            interval_secs: 1,
            last_poll_at: None,
            browser: None,
            redirect_uri: None,
            state: None,
            nonce: None,
            code_challenge: None,
            session_id: None,
            source: Some("127.0.0.1".into()),
        }
    }

    #[tokio::test]
    async fn an_approved_request_is_consumed_once() {
        let store = Store::open(":memory:").await.unwrap();
        store.insert_request(&request("r1")).await.unwrap();
        assert!(store.record_poll("r1", 110_000, 100).await.unwrap());
        assert!(!store.record_poll("r1", 110_500, 100).await.unwrap());
        assert!(store.record_poll("r1", 110_950, 100).await.unwrap());
        assert!(!store.decide("r1", "899700000000", true, 120).await.unwrap());
        assert!(store.decide("r1", "810001045367", true, 120).await.unwrap());
        assert!(
            !store
                .decide("r1", "810001045367", false, 121)
                .await
                .unwrap()
        );
        let (a, b) = tokio::join!(store.consume("r1", 130), store.consume("r1", 130));
        assert!(a.unwrap() ^ b.unwrap());
        assert_eq!(store.request("r1").await.unwrap().unwrap().status, "done");
    }

    #[tokio::test]
    async fn an_expired_request_cannot_be_approved() {
        let store = Store::open(":memory:").await.unwrap();
        store.insert_request(&request("r2")).await.unwrap();
        assert!(!store.decide("r2", "810001045367", true, 200).await.unwrap());
        assert!(
            store
                .pending_for("810001045367", 200)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.pending_for("810001045367", 150).await.unwrap().len(),
            1
        );
    }

    fn open_request(id: &str, source: &str, created_at: i64) -> Request {
        Request {
            id: id.into(),
            source: Some(source.into()),
            created_at,
            expires_at: created_at + 100,
            ..request(id)
        }
    }

    #[tokio::test]
    async fn open_requests_are_capped_per_address_and_in_all() {
        let store = Store::open(":memory:").await.unwrap();
        let caps = Caps {
            per_address: 2,
            total: 3,
        };
        let insert = |id: &'static str, source: &'static str, at: i64| {
            let store = store.clone();
            async move {
                store
                    .insert_request_capped(&open_request(id, source, at), caps)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(insert("a1", "10.0.0.1", 100).await, Admitted::Inserted);
        assert_eq!(insert("a2", "10.0.0.1", 100).await, Admitted::Inserted);
        assert_eq!(insert("a3", "10.0.0.1", 100).await, Admitted::AddressFull);
        assert_eq!(insert("b1", "10.0.0.2", 100).await, Admitted::Inserted);
        assert_eq!(insert("c1", "10.0.0.3", 100).await, Admitted::SandboxFull);
        assert!(store.request("a3").await.unwrap().is_none());
        // A settled request no longer counts, nor does an expired one.
        assert!(
            store
                .decide("a1", "810001045367", false, 150)
                .await
                .unwrap()
        );
        assert_eq!(insert("a4", "10.0.0.1", 150).await, Admitted::Inserted);
        assert_eq!(insert("a5", "10.0.0.1", 201).await, Admitted::Inserted);
        assert_eq!(store.open_requests("10.0.0.1", 201).await.unwrap(), (2, 2));
    }

    #[tokio::test]
    async fn the_purge_keeps_an_expired_request_for_a_while_then_forgets_it() {
        let store = Store::open(":memory:").await.unwrap();
        let keep = Retention {
            request_secs: 600,
            session_absolute_secs: 14_400,
        };
        store.insert_request(&request("r3")).await.unwrap();
        // Expired at 200: still there at 200 + 600, so a poll answers `expired_token`.
        assert_eq!(store.purge(800, keep).await.unwrap().requests, 0);
        assert!(store.request("r3").await.unwrap().is_some());
        assert_eq!(store.purge(801, keep).await.unwrap().requests, 1);
        assert!(store.request("r3").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_purge_drops_used_codes_tokens_and_dead_sessions() {
        let store = Store::open(":memory:").await.unwrap();
        let keep = Retention {
            request_secs: 600,
            session_absolute_secs: 1000,
        };
        for (id, created) in [("s-live", 500), ("s-old", 100), ("s-ended", 500)] {
            store
                .insert_session(&Session {
                    id: id.into(),
                    idnat: "810001045367".into(),
                    channel: "MOBILE".into(),
                    auth_time: created,
                    created_at: created,
                    last_seen_at: created,
                    ended: 0,
                })
                .await
                .unwrap();
        }
        store.end_session("s-ended").await.unwrap();
        let code = |expires_at| Code {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
            session_id: "s-live".into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: "x".into(),
            expires_at,
        };
        store.insert_code("used", &code(2000)).await.unwrap();
        store.insert_code("expired", &code(1000)).await.unwrap();
        store.insert_code("live", &code(2000)).await.unwrap();
        store.take_code("used").await.unwrap().unwrap();
        let refresh = |expires_at| Refresh {
            client_id: "c".into(),
            session_id: "s-live".into(),
            scope: "openid".into(),
            expires_at,
        };
        store
            .insert_refresh("r-used", &refresh(2000))
            .await
            .unwrap();
        store
            .insert_refresh("r-expired", &refresh(1000))
            .await
            .unwrap();
        store
            .insert_refresh("r-live", &refresh(2000))
            .await
            .unwrap();
        store.take_refresh("r-used").await.unwrap().unwrap();

        let purged = store.purge(1100, keep).await.unwrap();
        assert_eq!(
            purged,
            Purged {
                requests: 0,
                sessions: 2,
                codes: 2,
                refresh_tokens: 2,
            }
        );
        assert!(store.session("s-live").await.unwrap().is_some());
        assert!(store.take_code("live").await.unwrap().is_some());
        assert!(store.refresh("r-live").await.unwrap().is_some());
        // Only the code just taken goes now.
        assert_eq!(store.purge(1100, keep).await.unwrap().total(), 1);
    }
}
