//! e-CPS pairings: listing them (by status, those expiring soon, a page at a time) and revoking
//! one (a lost phone, a mistaken pairing), which also ends the sessions that came through Pro
//! Santé Connect, which must not keep the person signed in. The CLI, the console and the admin
//! API all call these functions.

use crate::audit::RequestContext;
use crate::psc::pairing::{self, PairingError};
use crate::state::AppState;
use crate::storage::pairings::{self as store, Filter, ListedPairing, Listing, PairingRecord};

/// The longest reason kept with a revoked pairing, in characters.
pub const REASON_MAX_CHARS: usize = 200;
/// The most pairings one page may hold.
pub const MAX_LIMIT: i64 = 500;
/// The longest "expiring within" window, in days.
pub const MAX_EXPIRING_DAYS: u32 = 366;

/// A refused revocation; [`RevokeError::code`] is the stable code of the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("a reason is required: 1 to 200 characters, no control characters")]
    Reason,
    #[error("no such pairing")]
    Unknown,
    #[error("the pairing is already revoked")]
    AlreadyRevoked,
    #[error(transparent)]
    Pairing(#[from] PairingError),
}

impl RevokeError {
    pub fn code(&self) -> &'static str {
        match self {
            RevokeError::Reason => "reason_missing",
            RevokeError::Unknown => "pairing_unknown",
            RevokeError::AlreadyRevoked => "already_revoked",
            RevokeError::Pairing(e) => e.reason(),
        }
    }
}

/// A revoked pairing: the row before and after, and how many federated sessions ended.
#[derive(Debug)]
pub struct Revoked {
    pub before: PairingRecord,
    pub after: PairingRecord,
    pub sessions_ended: usize,
}

/// The reason typed by a person or a program, trimmed, when acceptable.
fn checked_reason(reason: &str) -> Option<&str> {
    let r = reason.trim();
    let fits = (1..=REASON_MAX_CHARS).contains(&r.chars().count());
    (fits && !r.chars().any(char::is_control)).then_some(r)
}

/// Revokes the pairing `pairing_id` (audited `pairing_revoked`, with `reason`) and ends the
/// person's federated sessions. An expired pairing may be revoked; a revoked one may not.
pub async fn revoke(
    state: &AppState,
    pairing_id: &str,
    actor: &str,
    reason: &str,
    ctx: &RequestContext,
) -> Result<Revoked, RevokeError> {
    let reason = checked_reason(reason).ok_or(RevokeError::Reason)?;
    let before = store::by_id(state.db.pool(), pairing_id)
        .await
        .map_err(PairingError::from)?
        .ok_or(RevokeError::Unknown)?;
    if before.status == "revoked" {
        return Err(RevokeError::AlreadyRevoked);
    }
    let after = match pairing::revoke(&state.ecps(), pairing_id, actor, reason).await {
        // Revoked meanwhile by someone else.
        Err(PairingError::NotFound) => return Err(RevokeError::AlreadyRevoked),
        other => other?,
    };
    let sessions_ended = crate::session::end_federated(
        &state.sessions(),
        &after.identity_id,
        "pairing_revoked",
        ctx,
    )
    .await
    .map_err(PairingError::from)?;
    Ok(Revoked {
        before,
        after,
        sessions_ended,
    })
}

/// A list's filter as typed: `all` (or nothing), `active`, `expired`, `revoked`.
pub fn parse_status(s: Option<&str>) -> Option<Filter> {
    Some(match s.unwrap_or_default() {
        "" | "all" => Filter::All,
        "active" => Filter::Active,
        "expired" => Filter::Expired,
        "revoked" => Filter::Revoked,
        _ => return None,
    })
}

/// The name of a filter, as [`parse_status`] reads it.
pub fn status_name(f: Filter) -> &'static str {
    match f {
        Filter::All => "all",
        Filter::Active => "active",
        Filter::Expired => "expired",
        Filter::Revoked => "revoked",
    }
}

/// What a list asks for, as typed by a person or a program.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub status: Option<String>,
    pub expiring_within_days: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: i64,
}

/// A refused list request: which parameter is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("status: all, active, expired or revoked")]
    Status,
    #[error("expiring_within_days: 1 to 366")]
    Days,
    #[error("cursor: not one this list gave")]
    Cursor,
    #[error("limit: 1 to 500")]
    Limit,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// A page of pairings, newest first, and the cursor of the next one (none on the last).
#[derive(Debug)]
pub struct Page {
    pub items: Vec<ListedPairing>,
    pub next_cursor: Option<String>,
}

fn cursor_of(p: &PairingRecord) -> String {
    super::cursor::encode(p.validated_at, &p.id)
}

fn parse_cursor(text: &str) -> Option<(i64, String)> {
    super::cursor::decode_timed(text).filter(|(_, id)| !id.is_empty())
}

impl ListRequest {
    /// The storage's listing at `now`, once every parameter is checked.
    fn listing(&self, now: i64) -> Result<Listing, ListError> {
        let filter = parse_status(self.status.as_deref()).ok_or(ListError::Status)?;
        let expiring_before = match self.expiring_within_days {
            None => None,
            Some(d) if (1..=MAX_EXPIRING_DAYS).contains(&d) => Some(now + i64::from(d) * 86_400),
            Some(_) => return Err(ListError::Days),
        };
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(ListError::Limit);
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(parse_cursor(c).ok_or(ListError::Cursor)?),
            None => None,
        };
        Ok(Listing {
            filter,
            now,
            expiring_before,
            after,
            limit: Some(self.limit + 1),
        })
    }
}

/// One page of the pairings `request` asks for, at the injected clock's now.
pub async fn list(state: &AppState, request: &ListRequest) -> Result<Page, ListError> {
    let listing = request.listing(state.clock.now())?;
    let mut items = store::page(state.db.pool(), &listing).await?;
    let more = items.len() as i64 > request.limit;
    items.truncate(request.limit as usize);
    let next_cursor = match (more, items.last()) {
        (true, Some(last)) => Some(cursor_of(&last.pairing)),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// How many pairings `request`'s filters hold (its cursor and limit aside).
pub async fn count(state: &AppState, request: &ListRequest) -> Result<i64, ListError> {
    let listing = request.listing(state.clock.now())?;
    Ok(store::count(state.db.pool(), &listing).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_forged_ones_are_refused() {
        let p = PairingRecord {
            id: "0191-abc".into(),
            identity_id: String::new(),
            idnat: String::new(),
            means: "ciba".into(),
            validated_at: 1_700_000_000,
            expires_at: 0,
            status: "active".into(),
            created_link: 0,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            acr: None,
        };
        assert_eq!(
            parse_cursor(&cursor_of(&p)),
            Some((1_700_000_000, "0191-abc".into()))
        );
        for bad in [
            "",
            "!!",
            &crate::admin::cursor::encode("x", "y"),
            &crate::admin::cursor::encode(12, ""),
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_reason_is_one_line_of_1_to_200_characters() {
        assert_eq!(checked_reason("  phone lost "), Some("phone lost"));
        let long = "é".repeat(REASON_MAX_CHARS);
        assert_eq!(checked_reason(&long), Some(long.as_str()));
        for bad in [
            "",
            "   ",
            "a\nb",
            "tab\there",
            &"x".repeat(REASON_MAX_CHARS + 1),
        ] {
            assert_eq!(checked_reason(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn list_parameters_are_checked() {
        let ok = ListRequest {
            limit: 50,
            ..Default::default()
        };
        assert!(ok.listing(0).is_ok());
        let cases = [
            (Some("bogus"), None, None, 50),
            (None, Some(0), None, 50),
            (None, Some(367), None, 50),
            (None, None, Some("!!"), 50),
            (None, None, None, 0),
            (None, None, None, 501),
        ];
        for (status, days, cursor, limit) in cases {
            let r = ListRequest {
                status: status.map(str::to_owned),
                expiring_within_days: days,
                cursor: cursor.map(str::to_owned),
                limit,
            };
            assert!(r.listing(0).is_err(), "{r:?}");
        }
    }
}
