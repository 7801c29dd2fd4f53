//! Unit tests of the session rules: when a stored session is still live, and what tokens say
//! about it.

use super::*;
use crate::protocol::{Acr, Amr};

const NOW: i64 = 1_800_000_000;
const IDLE: i64 = 1800;

fn record(last_active_at: i64, expires_at: i64, ended_at: Option<i64>) -> SessionRecord {
    SessionRecord {
        id: "sid-1".into(),
        token_hash: "hash".into(),
        identity_id: "alice".into(),
        created_at: NOW - 3600,
        last_active_at,
        expires_at,
        auth_time: NOW - 3600,
        ended_at,
        end_reason: ended_at.map(|_| "logout".into()),
    }
}

#[test]
fn a_session_lives_until_its_absolute_end_or_its_idle_limit() {
    assert!(is_live(&record(NOW - 60, NOW + 3600, None), NOW, IDLE));
    // The absolute lifetime ends it whatever the activity.
    assert!(!is_live(&record(NOW, NOW, None), NOW, IDLE));
    assert!(is_live(&record(NOW, NOW + 1, None), NOW, IDLE));
    // Idle for the whole idle period: gone; one second less: still there.
    assert!(!is_live(&record(NOW - IDLE, NOW + 3600, None), NOW, IDLE));
    assert!(is_live(
        &record(NOW - IDLE + 1, NOW + 3600, None),
        NOW,
        IDLE
    ));
}

#[test]
fn an_ended_session_is_never_live() {
    assert!(!is_live(&record(NOW, NOW + 3600, Some(NOW - 1)), NOW, IDLE));
}

#[test]
fn the_token_claims_name_the_level_by_its_configured_acr() {
    let session = Session {
        id: "sid-1".into(),
        identity_id: "alice".into(),
        created_at: NOW - 60,
        expires_at: NOW + 3600,
        auth_time: NOW - 60,
        factors: vec![AuthFactor {
            method: Method::Card,
            user_verified: true,
        }],
        level: Level::Loa3,
        amr: vec![Amr::Sc, Amr::Pin],
    };
    let ladder = |names: &[&str]| {
        AcrLadder::new(names.iter().map(|n| Acr::new(*n).unwrap()).collect()).unwrap()
    };
    let claims = session.claims(&ladder(&["loa1", "loa2", "eidas-high"]));
    assert_eq!(claims.sid, "sid-1");
    assert_eq!(claims.auth_time, NOW - 60);
    assert_eq!(claims.acr, "eidas-high");
    assert_eq!(claims.amr, [Amr::Sc, Amr::Pin]);
    // A level without a configured name gives an empty acr rather than a wrong one.
    assert_eq!(session.claims(&ladder(&["loa1", "loa2"])).acr, "");
}
