//! The broker's state in the sandbox's SQLite database (psc.md, "Trousseau as third-party IdP
//! of PSC"): broker logins on their way through a Trousseau, the pairings (`tid`, `oid`) →
//! IdNat, and which sandbox session each broker login opened (for back-channel logout). Every
//! step of a login is one conditional `UPDATE`, so a replayed or concurrent request cannot
//! take it twice.

use anyhow::Context;
use sqlx::sqlite::SqlitePool;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS broker_logins (
        id TEXT PRIMARY KEY,
        alias TEXT NOT NULL,
        browser TEXT NOT NULL,
        address TEXT NOT NULL,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        scope TEXT NOT NULL,
        state TEXT,
        nonce TEXT,
        code_challenge TEXT NOT NULL,
        idp_nonce TEXT NOT NULL,
        verifier TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        tid TEXT,
        oid TEXT,
        idp_sub TEXT,
        idp_sid TEXT,
        amr TEXT,
        auth_time INTEGER,
        account TEXT,
        request_id TEXT)",
    "CREATE INDEX IF NOT EXISTS broker_logins_address ON broker_logins (address, expires_at)",
    "CREATE TABLE IF NOT EXISTS broker_pairings (
        tid TEXT NOT NULL,
        oid TEXT NOT NULL,
        idnat TEXT NOT NULL,
        alias TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (tid, oid))",
    "CREATE TABLE IF NOT EXISTS broker_sessions (
        session_id TEXT PRIMARY KEY,
        alias TEXT NOT NULL,
        idp_sid TEXT,
        idp_sub TEXT NOT NULL,
        amr TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS broker_sessions_sid ON broker_sessions (alias, idp_sid)",
    "CREATE INDEX IF NOT EXISTS broker_sessions_sub ON broker_sessions (alias, idp_sub)",
    "CREATE TABLE IF NOT EXISTS broker_logout_tokens (
        alias TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (alias, jti))",
    "CREATE INDEX IF NOT EXISTS broker_logout_tokens_expiry ON broker_logout_tokens (expires_at)",
];

/// The most logout tokens remembered at once (each until its expiry): beyond it a new token
/// is refused until older ones expire, so that the table stays bounded.
pub const MAX_LOGOUT_TOKENS: i64 = 10_000;

/// Whether a logout token's `jti` was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jti {
    /// First use: remembered until the token expires.
    Fresh,
    /// Already used: a replay.
    Replayed,
    /// [`MAX_LOGOUT_TOKENS`] unexpired tokens are remembered already.
    Full,
}

/// The steps of a broker login: sent to Trousseau, back with a code (being exchanged), its
/// identity verified, waiting for the phone (pairing), finished or failed.
pub mod step {
    pub const REDIRECTED: &str = "redirected";
    pub const RETURNED: &str = "returned";
    pub const VERIFIED: &str = "verified";
    pub const PAIRING: &str = "pairing";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

/// A broker login: the service's original authorization request, what the sandbox sent to
/// Trousseau, and (once verified) who Trousseau said the person is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrokerLogin {
    pub id: String,
    pub alias: String,
    /// A hash of the browser's CSRF cookie: the login belongs to that browser.
    pub browser: String,
    pub address: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub idp_nonce: String,
    pub verifier: String,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub tid: Option<String>,
    pub oid: Option<String>,
    pub idp_sub: Option<String>,
    pub idp_sid: Option<String>,
    /// Trousseau's `amr`, space-separated.
    pub amr: Option<String>,
    pub auth_time: Option<i64>,
    /// The establishment account, as shown on the confirmation screen.
    pub account: Option<String>,
    /// The phone request of a pairing.
    pub request_id: Option<String>,
}

/// What a verified ID token of Trousseau says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub sid: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: i64,
    pub account: String,
}

/// A live pairing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pairing {
    pub idnat: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The sandbox session a broker login opened.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrokerSession {
    pub session_id: String,
    pub amr: String,
}

const LOGIN_COLUMNS: &str = "id, alias, browser, address, client_id, redirect_uri, scope, state, \
    nonce, code_challenge, idp_nonce, verifier, status, created_at, expires_at, tid, oid, \
    idp_sub, idp_sid, amr, auth_time, account, request_id";

/// The broker's tables.
#[derive(Clone)]
pub struct BrokerStore {
    pool: SqlitePool,
}

impl BrokerStore {
    /// Creates the broker's tables beside the sandbox's own.
    pub async fn open(pool: SqlitePool) -> anyhow::Result<BrokerStore> {
        for statement in SCHEMA {
            sqlx::query(*statement)
                .execute(&pool)
                .await
                .context("creating the broker schema")?;
        }
        Ok(BrokerStore { pool })
    }

    /// Forgets broker logins that ended or expired before `before`, and logout tokens past
    /// their expiry.
    pub async fn purge(&self, before: i64) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM broker_logins WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .context("purge broker logins")?;
        sqlx::query("DELETE FROM broker_logout_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .context("purge logout tokens")?;
        Ok(done.rows_affected())
    }

    /// Remembers the `jti` of a logout token from the Trousseau `alias` until `expires_at`;
    /// tells a replay. The insert decides, so two concurrent deliveries of one token cannot
    /// both be fresh. Tokens past their expiry are forgotten first.
    pub async fn remember_logout_token(
        &self,
        alias: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> anyhow::Result<Jti> {
        sqlx::query("DELETE FROM broker_logout_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .context("forget expired logout tokens")?;
        let inserted = sqlx::query(
            "INSERT INTO broker_logout_tokens (alias, jti, expires_at) \
             SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM broker_logout_tokens) < $4 \
             ON CONFLICT (alias, jti) DO NOTHING",
        )
        .bind(alias)
        .bind(jti)
        .bind(expires_at)
        .bind(MAX_LOGOUT_TOKENS)
        .execute(&self.pool)
        .await
        .context("remember a logout token")?;
        if inserted.rows_affected() == 1 {
            return Ok(Jti::Fresh);
        }
        let seen: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM broker_logout_tokens WHERE alias = $1 AND jti = $2")
                .bind(alias)
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .context("read a logout token")?;
        Ok(if seen.is_some() {
            Jti::Replayed
        } else {
            Jti::Full
        })
    }

    /// How many unfinished broker logins an address has open.
    pub async fn open_logins(&self, address: &str, now: i64) -> anyhow::Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM broker_logins WHERE address = $1 AND expires_at > $2 \
             AND status NOT IN ('done', 'failed')",
        )
        .bind(address)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .context("count broker logins")
    }

    pub async fn insert(&self, l: &BrokerLogin) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO broker_logins (id, alias, browser, address, client_id, redirect_uri, \
             scope, state, nonce, code_challenge, idp_nonce, verifier, status, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&l.id)
        .bind(&l.alias)
        .bind(&l.browser)
        .bind(&l.address)
        .bind(&l.client_id)
        .bind(&l.redirect_uri)
        .bind(&l.scope)
        .bind(&l.state)
        .bind(&l.nonce)
        .bind(&l.code_challenge)
        .bind(&l.idp_nonce)
        .bind(&l.verifier)
        .bind(&l.status)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(&self.pool)
        .await
        .context("insert broker login")?;
        Ok(())
    }

    pub async fn login(&self, id: &str) -> anyhow::Result<Option<BrokerLogin>> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LOGIN_COLUMNS} FROM broker_logins WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("read broker login")
    }

    /// Moves a live login from one step to the next; `false` when it was not at `from`.
    pub async fn advance(&self, id: &str, from: &str, to: &str, now: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE broker_logins SET status = $3 WHERE id = $1 AND status = $2 AND expires_at > $4",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("advance broker login")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records who Trousseau said the person is (after the code was exchanged).
    pub async fn verified(&self, id: &str, v: &Verified) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE broker_logins SET status = 'verified', tid = $2, oid = $3, idp_sub = $4, \
             idp_sid = $5, amr = $6, auth_time = $7, account = $8 \
             WHERE id = $1 AND status = 'returned'",
        )
        .bind(id)
        .bind(&v.tid)
        .bind(&v.oid)
        .bind(&v.sub)
        .bind(&v.sid)
        .bind(v.amr.join(" "))
        .bind(v.auth_time)
        .bind(&v.account)
        .execute(&self.pool)
        .await
        .context("record broker identity")?;
        Ok(done.rows_affected() == 1)
    }

    /// A verified login starts waiting for the phone with request `request_id`.
    pub async fn start_pairing(
        &self,
        id: &str,
        request_id: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE broker_logins SET status = 'pairing', request_id = $2 \
             WHERE id = $1 AND status = 'verified' AND expires_at > $3",
        )
        .bind(id)
        .bind(request_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("start pairing")?;
        Ok(done.rows_affected() == 1)
    }

    /// The live pairing of an establishment account.
    pub async fn pairing(&self, tid: &str, oid: &str, now: i64) -> anyhow::Result<Option<Pairing>> {
        sqlx::query_as(
            "SELECT idnat, created_at, expires_at FROM broker_pairings \
             WHERE tid = $1 AND oid = $2 AND expires_at > $3",
        )
        .bind(tid)
        .bind(oid)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .context("read pairing")
    }

    /// Binds an establishment account to an IdNat (replacing an expired binding).
    pub async fn pair(
        &self,
        tid: &str,
        oid: &str,
        idnat: &str,
        alias: &str,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO broker_pairings (tid, oid, idnat, alias, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tid, oid) DO UPDATE SET \
             idnat = excluded.idnat, alias = excluded.alias, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
        )
        .bind(tid)
        .bind(oid)
        .bind(idnat)
        .bind(alias)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .context("record pairing")?;
        Ok(())
    }

    /// Remembers which Trousseau login a sandbox session came from.
    pub async fn link_session(
        &self,
        session_id: &str,
        alias: &str,
        idp_sid: Option<&str>,
        idp_sub: &str,
        amr: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO broker_sessions (session_id, alias, idp_sid, idp_sub, amr) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_id)
        .bind(alias)
        .bind(idp_sid)
        .bind(idp_sub)
        .bind(amr)
        .execute(&self.pool)
        .await
        .context("link broker session")?;
        Ok(())
    }

    /// The broker link of a sandbox session, if it came through a Trousseau.
    pub async fn session(&self, session_id: &str) -> anyhow::Result<Option<BrokerSession>> {
        sqlx::query_as("SELECT session_id, amr FROM broker_sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
            .context("read broker session")
    }

    /// The still-open sandbox sessions of a Trousseau login: by its `sid`, else by `sub`.
    pub async fn sessions_of(
        &self,
        alias: &str,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT b.session_id FROM broker_sessions b JOIN sessions s ON s.id = b.session_id \
             WHERE b.alias = $1 AND s.ended = 0 \
             AND (($2 IS NOT NULL AND b.idp_sid = $2) OR ($2 IS NULL AND b.idp_sub = $3))",
        )
        .bind(alias)
        .bind(sid)
        .bind(sub)
        .fetch_all(&self.pool)
        .await
        .context("sessions of a Trousseau login")
    }

    /// The clients that received a code in a session (to notify them of its end).
    pub async fn clients_of(&self, session_id: &str) -> anyhow::Result<Vec<String>> {
        sqlx::query_scalar("SELECT DISTINCT client_id FROM codes WHERE session_id = $1")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await
            .context("clients of a session")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> BrokerStore {
        let main = super::super::store::Store::open(":memory:").await.unwrap();
        BrokerStore::open(main.pool().clone()).await.unwrap()
    }

    fn login(id: &str, address: &str) -> BrokerLogin {
        BrokerLogin {
            id: id.into(),
            alias: "chu".into(),
            browser: "b".into(),
            address: address.into(),
            client_id: "svc".into(),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
            scope: "openid".into(),
            state: None,
            nonce: None,
            code_challenge: "c".into(),
            idp_nonce: "n".into(),
            verifier: "v".into(),
            status: step::REDIRECTED.into(),
            created_at: 100,
            expires_at: 200,
            tid: None,
            oid: None,
            idp_sub: None,
            idp_sid: None,
            amr: None,
            auth_time: None,
            account: None,
            request_id: None,
        }
    }

    #[tokio::test]
    async fn a_login_returns_once_and_expires() {
        let s = store().await;
        s.insert(&login("l1", "127.0.0.1")).await.unwrap();
        s.insert(&login("l2", "127.0.0.1")).await.unwrap();
        assert_eq!(s.open_logins("127.0.0.1", 150).await.unwrap(), 2);
        let (a, b) = tokio::join!(
            s.advance("l1", step::REDIRECTED, step::RETURNED, 150),
            s.advance("l1", step::REDIRECTED, step::RETURNED, 150)
        );
        assert!(a.unwrap() ^ b.unwrap());
        assert!(
            !s.advance("l2", step::REDIRECTED, step::RETURNED, 200)
                .await
                .unwrap(),
            "an expired login cannot come back"
        );
        assert_eq!(s.purge(201).await.unwrap(), 2);
        assert!(s.login("l1").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_logout_token_is_taken_once_until_it_expires() {
        let s = store().await;
        let (a, b) = tokio::join!(
            s.remember_logout_token("chu", "j1", 200, 100),
            s.remember_logout_token("chu", "j1", 200, 100)
        );
        assert!(
            matches!(
                (a.unwrap(), b.unwrap()),
                (Jti::Fresh, Jti::Replayed) | (Jti::Replayed, Jti::Fresh)
            ),
            "one of two concurrent deliveries"
        );
        assert_eq!(
            s.remember_logout_token("chu", "j1", 200, 199)
                .await
                .unwrap(),
            Jti::Replayed
        );
        assert_eq!(
            s.remember_logout_token("other", "j1", 200, 150)
                .await
                .unwrap(),
            Jti::Fresh,
            "each Trousseau has its own jti space"
        );
        // Past its expiry the token is forgotten (and its signature check refuses it anyway).
        assert_eq!(
            s.remember_logout_token("chu", "j1", 300, 200)
                .await
                .unwrap(),
            Jti::Fresh
        );
    }

    #[tokio::test]
    async fn remembered_logout_tokens_are_bounded() {
        let s = store().await;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO broker_logout_tokens (alias, jti, expires_at) \
             SELECT 'chu', 'old' || i, 500 FROM n",
        )
        .bind(MAX_LOGOUT_TOKENS)
        .execute(&s.pool)
        .await
        .unwrap();
        assert_eq!(
            s.remember_logout_token("chu", "new", 600, 100)
                .await
                .unwrap(),
            Jti::Full
        );
        assert_eq!(
            s.remember_logout_token("chu", "old1", 500, 100)
                .await
                .unwrap(),
            Jti::Replayed,
            "a replay is still told apart when full"
        );
        // Once the old ones expire there is room again.
        assert_eq!(
            s.remember_logout_token("chu", "new", 600, 500)
                .await
                .unwrap(),
            Jti::Fresh
        );
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM broker_logout_tokens")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(left, 1);
    }

    #[tokio::test]
    async fn a_pairing_lives_until_it_expires_and_can_be_renewed() {
        let s = store().await;
        s.pair("t", "o", "810001045367", "chu", 100, 200)
            .await
            .unwrap();
        assert_eq!(
            s.pairing("t", "o", 150).await.unwrap().unwrap().idnat,
            "810001045367"
        );
        assert!(s.pairing("t", "o", 200).await.unwrap().is_none());
        s.pair("t", "o", "899700218896", "chu", 300, 400)
            .await
            .unwrap();
        assert_eq!(
            s.pairing("t", "o", 350).await.unwrap().unwrap().idnat,
            "899700218896"
        );
    }
}
