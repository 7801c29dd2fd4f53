//! The SSO session (design.md, "SSO session"): server-side, behind a `__Host-` cookie, with an
//! absolute lifetime from creation and an idle timeout; authentication events accumulate in it
//! and never extend its absolute end. Ending it revokes its refresh tokens and notifies its
//! clients by back-channel logout.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use crate::audit::{Audit, AuditEvent, RequestContext};
use crate::authn::{AuthFactor, Level, Method, evaluate};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::{hash_secret, random_token};
use crate::protocol::{AcrLadder, Amr};
use crate::storage::sessions::{self, EventRecord, SessionRecord};
use crate::storage::{Db, Tx, refresh};

/// What the session functions use, lent by the application state (`AppState::sessions`).
pub struct Sessions<'a> {
    pub settings: &'a Settings,
    pub db: &'a Db,
    pub clock: &'a SharedClock,
    pub audit: &'a Audit,
    /// Queues the back-channel logout tokens of an ending session (the protocol core, above).
    pub logout: &'a dyn LogoutQueue,
    /// Wakes the back-channel delivery loop when a logout was queued.
    pub logout_wakeup: &'a Notify,
}

/// Queues, in the transaction that ends a session, a logout token for every client of the
/// session that registered a back-channel URI; answers how many were queued.
pub trait LogoutQueue: Send + Sync {
    fn enqueue<'a>(
        &'a self,
        tx: &'a mut Tx,
        session: &'a SessionRecord,
    ) -> BoxFuture<'a, anyhow::Result<usize>>;
}

/// What a token says about the login behind it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    pub sid: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<Amr>,
    /// The upstream identity provider of the session's login (`psc` after an e-CPS login).
    pub idp: Option<String>,
}

/// A live session with its computed level.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub identity_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub auth_time: i64,
    pub factors: Vec<AuthFactor>,
    pub level: Level,
    pub amr: Vec<Amr>,
}

impl Session {
    /// The claims tokens carry about this session.
    pub fn claims(&self, levels: &AcrLadder) -> SessionClaims {
        SessionClaims {
            sid: self.id.clone(),
            auth_time: self.auth_time,
            acr: levels
                .at(self.level.index())
                .map(ToString::to_string)
                .unwrap_or_default(),
            amr: self.amr.clone(),
            idp: self.idp().map(str::to_owned),
        }
    }

    /// The upstream identity provider the session was proven with: `psc` when an event of
    /// the session is an e-CPS login through Pro Santé Connect.
    pub fn idp(&self) -> Option<&'static str> {
        self.factors
            .iter()
            .any(|f| f.method == Method::Ecps)
            .then_some("psc")
    }
}

/// Whether a stored session is still usable at `now`.
pub fn is_live(r: &SessionRecord, now: i64, idle_secs: i64) -> bool {
    r.ended_at.is_none() && now < r.expires_at && now - r.last_active_at < idle_secs
}

async fn hydrate(db: &Db, r: SessionRecord) -> Result<Option<Session>, sqlx::Error> {
    let events = sessions::events(db.pool(), &r.id).await?;
    let factors: Vec<AuthFactor> = events
        .iter()
        .filter_map(|e| {
            Method::parse(&e.method).map(|m| AuthFactor {
                method: m,
                user_verified: e.user_verified != 0,
            })
        })
        .collect();
    let Some((level, amr)) = evaluate(&factors) else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: r.id,
        identity_id: r.identity_id,
        created_at: r.created_at,
        expires_at: r.expires_at,
        auth_time: r.auth_time,
        factors,
        level,
        amr,
    }))
}

/// What reading the session behind a cookie needs, and nothing more: the pages' extractors
/// get it as app data of its own.
#[derive(Clone, Debug)]
pub struct SessionReader {
    db: Db,
    clock: SharedClock,
    idle_secs: i64,
}

impl SessionReader {
    pub fn new(db: Db, clock: SharedClock, idle_secs: i64) -> SessionReader {
        SessionReader {
            db,
            clock,
            idle_secs,
        }
    }

    /// The reader of these sessions.
    pub fn of(state: &Sessions<'_>) -> SessionReader {
        SessionReader::new(
            state.db.clone(),
            state.clock.clone(),
            state.settings.session.idle_secs,
        )
    }

    /// The live session behind a cookie value, if any.
    pub async fn from_cookie(&self, token: Option<&str>) -> Result<Option<Session>, sqlx::Error> {
        let Some(token) = token else { return Ok(None) };
        let Some(r) = sessions::by_token_hash(self.db.pool(), &hash_secret(token)).await? else {
            return Ok(None);
        };
        if !is_live(&r, self.clock.now(), self.idle_secs) {
            return Ok(None);
        }
        hydrate(&self.db, r).await
    }
}

/// The live session behind a cookie value, if any.
pub async fn from_cookie(
    state: &Sessions<'_>,
    token: Option<&str>,
) -> Result<Option<Session>, sqlx::Error> {
    SessionReader::of(state).from_cookie(token).await
}

/// The live session with this id (refresh grants).
pub async fn by_id(state: &Sessions<'_>, id: &str) -> Result<Option<Session>, sqlx::Error> {
    let Some(r) = sessions::by_id(state.db.pool(), id).await? else {
        return Ok(None);
    };
    if !is_live(&r, state.clock.now(), state.settings.session.idle_secs) {
        return Ok(None);
    }
    hydrate(state.db, r).await
}

/// Records activity (authorization requests, refreshes) against the idle timeout.
pub async fn touch(state: &Sessions<'_>, id: &str) -> Result<(), sqlx::Error> {
    sessions::touch(state.db.pool(), id, state.clock.now()).await
}

/// How often client traffic (userinfo, introspection) may write a session's activity.
pub const ACTIVITY_WRITE_SECS: i64 = 60;

/// Records client traffic on a live session against the idle timeout, at most one write per
/// session per [`ACTIVITY_WRITE_SECS`].
pub async fn note_activity(state: &Sessions<'_>, r: &SessionRecord) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    if now - r.last_active_at < ACTIVITY_WRITE_SECS {
        return Ok(());
    }
    sessions::touch(state.db.pool(), &r.id, now).await
}

/// The outcome of a successful proof.
#[derive(Debug)]
pub struct LoggedIn {
    pub session: Session,
    /// A new cookie value when a new session was opened.
    pub new_token: Option<String>,
}

/// Adds a successful proof: to the current session when it is the same person, otherwise to a
/// new session (ending the previous person's session first).
///
/// In the same transaction: the flow's login step (`flow_id`), and for a local password the
/// credential's last use and the end of the account's run of failures.
pub async fn record_login(
    state: &Sessions<'_>,
    current: Option<Session>,
    identity_id: &str,
    factor: AuthFactor,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> anyhow::Result<LoggedIn> {
    record(
        state,
        current,
        identity_id,
        factor,
        None,
        None,
        flow_id,
        ctx,
    )
    .await
}

/// Like [`record_login`] for an e-CPS login through Pro Santé Connect: the event records the
/// PSC subject it came from.
pub async fn record_psc_login(
    state: &Sessions<'_>,
    current: Option<Session>,
    identity_id: &str,
    psc_sub: &str,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> anyhow::Result<LoggedIn> {
    let factor = AuthFactor {
        method: Method::Ecps,
        user_verified: true,
    };
    let origin = format!("psc:{psc_sub}");
    record(
        state,
        current,
        identity_id,
        factor,
        None,
        Some(&origin),
        flow_id,
        ctx,
    )
    .await
}

/// A verified security-key assertion: the key and its new verifier state.
#[derive(Debug)]
pub struct KeyUse<'a> {
    pub key_id: &'a str,
    pub credential: &'a str,
    pub counter: i64,
}

/// Like [`record_login`] for a security key: the event names the key, and the key's counter
/// and last use are written in the same transaction.
pub async fn record_key_login(
    state: &Sessions<'_>,
    current: Option<Session>,
    identity_id: &str,
    factor: AuthFactor,
    key: &KeyUse<'_>,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> anyhow::Result<LoggedIn> {
    record(
        state,
        current,
        identity_id,
        factor,
        Some(key),
        None,
        flow_id,
        ctx,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn record(
    state: &Sessions<'_>,
    current: Option<Session>,
    identity_id: &str,
    factor: AuthFactor,
    key: Option<&KeyUse<'_>>,
    origin: Option<&str>,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> anyhow::Result<LoggedIn> {
    let now = state.clock.now();
    let mut reuse = None;
    if let Some(s) = current {
        if s.identity_id == identity_id {
            reuse = Some(s.id);
        } else {
            end(state, &s.id, "switch_user", ctx).await?;
        }
    }
    let mut tx = state.db.begin().await?;
    let (session_id, new_token) = match reuse {
        Some(id) => {
            sessions::set_auth_time(&mut tx, &id, now).await?;
            (id, None)
        }
        None => {
            let token = random_token(32);
            let record = SessionRecord {
                id: uuid::Uuid::now_v7().to_string(),
                token_hash: hash_secret(&token),
                identity_id: identity_id.to_owned(),
                created_at: now,
                last_active_at: now,
                expires_at: now + state.settings.session.absolute_secs,
                auth_time: now,
                ended_at: None,
                end_reason: None,
            };
            sessions::insert(&mut tx, &record).await?;
            (record.id, Some(token))
        }
    };
    let amr = factor.method.amr(factor.user_verified);
    sessions::add_event(
        &mut tx,
        &EventRecord {
            id: uuid::Uuid::now_v7().to_string(),
            session_id: session_id.clone(),
            identity_id: identity_id.to_owned(),
            method: factor.method.as_str().to_owned(),
            amr: json!(amr).to_string(),
            user_verified: i64::from(factor.user_verified),
            phishing_resistant: i64::from(factor.method.phishing_resistant()),
            at: now,
            source_ip: ctx.source_ip.clone(),
            credential_ref: key
                .map(|k| k.key_id.to_owned())
                .or(origin.map(str::to_owned)),
        },
    )
    .await?;
    if let Some(k) = key {
        crate::storage::security_keys::record_use(&mut tx, k.key_id, k.credential, k.counter, now)
            .await?;
    }
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("login")
                .subject(identity_id)
                .context(ctx)
                .details(json!({ "method": factor.method.as_str(), "amr": amr, "user_verified": factor.user_verified, "key": key.map(|k| k.key_id), "origin": origin, "session": session_id, "new_session": new_token.is_some() })),
        )
        .await?;
    if let Some(flow) = flow_id {
        crate::storage::flows::mark_login_in(&mut tx, flow, &session_id).await?;
    }
    if factor.method == Method::Password {
        crate::storage::identities::touch_password_in(&mut tx, identity_id, now).await?;
        crate::authn::throttle::success_in(&mut tx, identity_id, ctx.source_ip.as_deref()).await?;
    }
    tx.commit().await?;
    let session = if new_token.is_some() {
        // A new session holds this one event: no need to read it back.
        let factors = vec![factor];
        let (level, amr) =
            evaluate(&factors).ok_or_else(|| anyhow::anyhow!("a login without a factor"))?;
        Session {
            id: session_id,
            identity_id: identity_id.to_owned(),
            created_at: now,
            expires_at: now + state.settings.session.absolute_secs,
            auth_time: now,
            factors,
            level,
            amr,
        }
    } else {
        by_id(state, &session_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("session vanished right after login"))?
    };
    Ok(LoggedIn { session, new_token })
}

/// Ends a session: revokes its refresh tokens, queues back-channel logout to its clients and
/// audits, in one transaction. True when this call ended it.
pub async fn end(
    state: &Sessions<'_>,
    session_id: &str,
    reason: &str,
    ctx: &RequestContext,
) -> anyhow::Result<bool> {
    let now = state.clock.now();
    let Some(record) = sessions::by_id(state.db.pool(), session_id).await? else {
        return Ok(false);
    };
    let mut tx = state.db.begin().await?;
    if !sessions::end(&mut tx, session_id, now, reason).await? {
        return Ok(false);
    }
    let revoked = refresh::revoke_session_families(&mut tx, session_id, reason, now).await?;
    let notified = state.logout.enqueue(&mut tx, &record).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("logout")
                .subject(&record.identity_id)
                .context(ctx)
                .reason(reason)
                .details(json!({ "session": session_id, "refresh_families_revoked": revoked, "clients_notified": notified })),
        )
        .await?;
    tx.commit().await?;
    if notified > 0 {
        state.logout_wakeup.notify_one();
    }
    Ok(true)
}

/// Ends every open session of an identity (suspension, admin action).
pub async fn end_all(
    state: &Sessions<'_>,
    identity_id: &str,
    reason: &str,
    ctx: &RequestContext,
) -> anyhow::Result<usize> {
    let mut ended = 0;
    for s in sessions::open_of_identity(state.db.pool(), identity_id).await? {
        if end(state, &s.id, reason, ctx).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Ends the open sessions of an identity that reached Pro Santé Connect's broker (a pairing
/// revoked or cancelled: PSC must not keep the person signed in on its strength).
pub async fn end_federated(
    state: &Sessions<'_>,
    identity_id: &str,
    reason: &str,
    ctx: &RequestContext,
) -> anyhow::Result<usize> {
    let mut ended = 0;
    for id in sessions::open_federated_of_identity(state.db.pool(), identity_id).await? {
        if end(state, &id, reason, ctx).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

#[cfg(test)]
mod tests;
