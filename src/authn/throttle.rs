//! Brute-force throttling per account and per source address, shared through the database so
//! that every node sees the same counters. An admin lifts an account lock (`user unlock`).

use crate::config::ThrottleSettings;
use crate::storage::Db;
use crate::storage::throttle::{self, ThrottleRecord};

/// Why an attempt is refused before the password is even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Account { until: i64 },
    Address { until: i64 },
}

fn account_key(identity_id: &str) -> String {
    format!("account:{identity_id}")
}

fn address_key(ip: &str) -> String {
    format!("address:{ip}")
}

/// Whether an attempt may proceed now.
pub async fn check(
    db: &Db,
    s: &ThrottleSettings,
    now: i64,
    identity_id: Option<&str>,
    ip: Option<&str>,
) -> Result<Option<Blocked>, sqlx::Error> {
    let address = ip.map(address_key);
    let account = identity_id.map(account_key);
    let records = match (&address, &account) {
        (None, None) => Vec::new(),
        (Some(k), None) | (None, Some(k)) => {
            throttle::get(db.pool(), k).await?.into_iter().collect()
        }
        (Some(a), Some(b)) => throttle::get_pair(db.pool(), a, b).await?,
    };
    if let Some(a) = &address
        && let Some(r) = records.iter().find(|r| &r.key == a)
    {
        let until = r.window_start + s.address_window_secs;
        if r.failures >= s.address_max_failures && now < until {
            return Ok(Some(Blocked::Address { until }));
        }
    }
    if let Some(k) = &account
        && let Some(r) = records.iter().find(|r| &r.key == k)
        && let Some(until) = r.locked_until.filter(|u| now < *u)
    {
        return Ok(Some(Blocked::Account { until }));
    }
    Ok(None)
}

/// Counts a failure; returns the new account lock end when this failure locked the account.
pub async fn failure(
    db: &Db,
    s: &ThrottleSettings,
    now: i64,
    identity_id: Option<&str>,
    ip: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    if let Some(ip) = ip {
        let key = address_key(ip);
        let mut r = throttle::get(db.pool(), &key)
            .await?
            .unwrap_or(ThrottleRecord {
                key: key.clone(),
                failures: 0,
                window_start: now,
                locks: 0,
                locked_until: None,
            });
        if now - r.window_start >= s.address_window_secs {
            r.failures = 0;
            r.window_start = now;
        }
        r.failures += 1;
        throttle::put(db.pool(), &r).await?;
    }
    let Some(id) = identity_id else {
        return Ok(None);
    };
    let key = account_key(id);
    let mut r = throttle::get(db.pool(), &key)
        .await?
        .unwrap_or(ThrottleRecord {
            key: key.clone(),
            failures: 0,
            window_start: now,
            locks: 0,
            locked_until: None,
        });
    r.failures += 1;
    let mut locked = None;
    if r.failures >= s.account_max_failures {
        r.locks += 1;
        let factor = 1i64 << (r.locks - 1).clamp(0, 20);
        let secs = (s.account_lock_secs.saturating_mul(factor)).min(s.account_max_lock_secs);
        r.locked_until = Some(now + secs);
        r.failures = 0;
        locked = r.locked_until;
    }
    throttle::put(db.pool(), &r).await?;
    Ok(locked)
}

/// A successful login clears the account's consecutive failures (its lock history stays), and
/// forgives them at the source address: on a ward behind one address, people's typos followed
/// by a good password do not add up to a lock of everyone.
pub async fn success(db: &Db, identity_id: &str, ip: Option<&str>) -> Result<(), sqlx::Error> {
    let account = account_key(identity_id);
    if let Some(ip) = ip {
        throttle::forgive(db.pool(), &address_key(ip), &account).await?;
    }
    throttle::reset_failures(db.pool(), &account).await
}

/// [`success`] inside the login's transaction.
pub async fn success_in(
    tx: &mut crate::storage::Tx,
    identity_id: &str,
    ip: Option<&str>,
) -> Result<(), sqlx::Error> {
    let account = account_key(identity_id);
    if let Some(ip) = ip {
        throttle::forgive(&mut **tx, &address_key(ip), &account).await?;
    }
    throttle::reset_failures_in(tx, &account).await
}

/// Lifts an account lock and forgets its history; true when there was something to lift.
pub async fn unlock(db: &Db, identity_id: &str) -> Result<bool, sqlx::Error> {
    throttle::clear(db.pool(), &account_key(identity_id)).await
}
