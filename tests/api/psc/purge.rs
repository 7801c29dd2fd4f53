//! The housekeeping purge (under its cluster lease) removes settled e-CPS pairing requests a
//! day after they settled, and requests left pending a day past their expiry; the pairings
//! themselves stay.

use trousseau::clock::Clock;
use trousseau::storage::pairings::{self, RequestRecord};
use trousseau::workers::purge_once;

use crate::helpers::{TestApp, spawn_app};

const DAY: i64 = 86_400;

async fn request(app: &TestApp, identity_id: &str, id: &str, expires_in: i64) -> RequestRecord {
    let now = app.clock.now();
    let r = RequestRecord {
        id: id.into(),
        identity_id: identity_id.into(),
        session_id: "session".into(),
        idnat: "810001045367".into(),
        binding_message: "42".into(),
        auth_req_id: format!("auth-req-{id}"),
        interval_secs: 1,
        created_at: now,
        expires_at: now + expires_in,
        state: "pending".into(),
        reason: None,
        pairing_id: None,
        settled_at: None,
        purpose: pairings::PURPOSE_PAIRING.into(),
        acr: None,
        used_at: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    pairings::insert_request(&mut tx, &r).await.unwrap();
    tx.commit().await.unwrap();
    r
}

async fn exists(app: &TestApp, id: &str) -> bool {
    pairings::request(app.state.db.pool(), id)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn settled_pairing_requests_are_purged_a_day_after_they_settled() {
    let app = spawn_app().await;
    let who = app
        .create_user("pauline", "correct horse battery staple")
        .await;
    let pool = app.state.db.pool();
    let settled = request(&app, &who, "settled", 120).await;
    assert!(
        pairings::transition(
            pool,
            &settled.id,
            "pending",
            "refused",
            Some("psc_access_denied"),
            None,
            app.clock.now(),
        )
        .await
        .unwrap()
    );
    let forgotten = request(&app, &who, "forgotten", 120).await;

    // Within the day: kept (the page still shows the outcome).
    app.clock.advance(DAY - 60);
    request(&app, &who, "waiting", 120).await;
    purge_once(&app.state, "node-a").await.unwrap();
    assert!(exists(&app, "settled").await);
    assert!(exists(&app, "forgotten").await);

    app.clock.advance(DAY);
    // Still pending but within its lifetime: kept whatever its age.
    let recent = request(&app, &who, "recent", 120).await;
    assert!(purge_once(&app.state, "node-a").await.unwrap() >= 2);
    assert!(!exists(&app, "settled").await, "settled over a day ago");
    assert!(!exists(&app, &forgotten.id).await, "expired over a day ago");
    assert!(exists(&app, "waiting").await, "expired less than a day ago");
    assert!(exists(&app, &recent.id).await);
}
