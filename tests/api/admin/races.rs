//! Administrators acting at the same moment on the same thing: one-time changes happen once,
//! and no change reverts another that landed meanwhile (each write touches only its own
//! columns). Each case runs several rounds, so that the interleavings vary.

use reqwest::StatusCode;
use serde_json::json;

use super::api::api_token;
use super::clients_page::token_with;
use super::pairings_page::{call, paired, status_of};
use crate::helpers::*;
use trousseau::admin::clients::{self, ClientSpec};
use trousseau::oidc::client::GrantType;

const ROUNDS: usize = 8;
const DAY: i64 = 86_400;

/// A confidential client-credentials client `id`; its secret.
async fn batch_client(app: &TestApp, id: &str) -> (ClientSpec, String) {
    let mut spec = app.spec(id);
    spec.grants = vec![GrantType::ClientCredentials];
    spec.redirect_uris.clear();
    spec.post_logout_redirect_uris.clear();
    spec.scopes = vec!["api.read".into()];
    let secret = clients::create(&app.state, &spec, "test").await.unwrap();
    (spec, secret.expect("a confidential client has a secret"))
}

#[tokio::test]
async fn two_revocations_of_one_pairing_at_once_revoke_it_once() {
    let app = spawn_app().await;
    let helpdesk = api_token(&app, "ops", &["trousseau:helpdesk"]).await;
    for round in 0..ROUNDS {
        let idnat = format!("8{:011}", 30_000_000_000u64 + round as u64);
        let p = paired(&app, &format!("race{round}"), &idnat, DAY, 100 * DAY).await;
        let path = format!("/pairings/{}/revoke", p.id);
        let ((a, _), (b, _)) = tokio::join!(
            call(&app, &helpdesk, &path, Some(json!({ "reason": "first" }))),
            call(&app, &helpdesk, &path, Some(json!({ "reason": "second" }))),
        );
        let mut got = [a, b];
        got.sort();
        assert_eq!(got, [StatusCode::OK, StatusCode::CONFLICT], "round {round}");
        assert_eq!(status_of(&app, &p.id).await, "revoked");
    }
    assert_eq!(app.audit("pairing_revoked").await.len(), ROUNDS);
}

#[tokio::test]
async fn an_edit_racing_a_rotation_keeps_both_and_the_old_secret_never_returns() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let id = format!("batch{round}");
        let (mut spec, old) = batch_client(&app, &id).await;
        spec.name = format!("Renamed {round}");
        let (edited, rotated) = tokio::join!(
            clients::update(&app.state, &spec, "admin:a"),
            clients::rotate_secret(&app.state, &id, "admin:b"),
        );
        edited.unwrap();
        let new = rotated.unwrap();
        assert_eq!(clients::get(&app.state, &id).await.unwrap().name, spec.name);
        assert_eq!(
            token_with(&app, &id, &new).await.0,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(
            token_with(&app, &id, &old).await.0,
            StatusCode::UNAUTHORIZED,
            "round {round}: the rotated-out secret came back"
        );
    }
}

#[tokio::test]
async fn a_disabling_racing_an_edit_and_a_rotation_stays_disabled() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let id = format!("batch{round}");
        let (mut spec, _) = batch_client(&app, &id).await;
        spec.name = format!("Renamed {round}");
        let (disabled, edited, rotated) = tokio::join!(
            clients::set_disabled(&app.state, &id, true, "admin:a"),
            clients::update(&app.state, &spec, "admin:b"),
            clients::rotate_secret(&app.state, &id, "admin:c"),
        );
        disabled.unwrap();
        edited.unwrap();
        let new = rotated.unwrap();
        let stored = clients::get(&app.state, &id).await.unwrap();
        assert!(
            stored.disabled_at.is_some(),
            "round {round}: re-enabled by a race"
        );
        assert_eq!(stored.name, spec.name);
        assert_eq!(token_with(&app, &id, &new).await.1, "invalid_client");
    }
    assert_eq!(app.audit("client_disabled").await.len(), ROUNDS);
}

#[tokio::test]
async fn two_rotations_at_once_leave_exactly_one_working_secret() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let id = format!("batch{round}");
        let (_, old) = batch_client(&app, &id).await;
        let (a, b) = tokio::join!(
            clients::rotate_secret(&app.state, &id, "admin:a"),
            clients::rotate_secret(&app.state, &id, "admin:b"),
        );
        let mut working = 0;
        for secret in [a.unwrap(), b.unwrap(), old] {
            if token_with(&app, &id, &secret).await.0 == StatusCode::OK {
                working += 1;
            }
        }
        assert_eq!(working, 1, "round {round}");
    }
    assert_eq!(app.audit("client_secret_rotated").await.len(), 2 * ROUNDS);
}

#[tokio::test]
async fn two_disablings_at_once_disable_and_audit_once() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let id = format!("batch{round}");
        batch_client(&app, &id).await;
        let (a, b) = tokio::join!(
            clients::set_disabled(&app.state, &id, true, "admin:a"),
            clients::set_disabled(&app.state, &id, true, "admin:b"),
        );
        let changed = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|(before, after)| before.disabled_at != after.disabled_at)
            .count();
        assert_eq!(changed, 1, "round {round}");
    }
    assert_eq!(app.audit("client_disabled").await.len(), ROUNDS);
}
