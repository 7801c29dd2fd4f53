//! CIBA in poll mode (CIBA Core §7 and §10, psc.md): pending, slow_down, approval on the
//! phone page, tokens once; refusal, expiry, unknown professionals.

use std::time::Duration;

use serde_json::Value;

use super::{CIBA, CIBA_GRANT, TOKEN, error_of, post, verify};
use crate::helpers::sandbox::{NURSE, PROFESSIONAL, Sandbox, SandboxOptions, spawn_sandbox};

async fn start(sb: &Sandbox, idnat: &str, binding: &str, channel: &str) -> Value {
    let resp = post(
        sb,
        CIBA,
        &[
            ("scope", "openid scope_all"),
            ("acr_values", "eidas1"),
            ("login_hint", idnat),
            ("binding_message", binding),
            ("channel", channel),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn poll(sb: &Sandbox, id: &str) -> reqwest::Response {
    post(
        sb,
        TOKEN,
        &[("grant_type", CIBA_GRANT), ("auth_req_id", id)],
    )
    .await
}

fn interval() -> Duration {
    Duration::from_millis(1100)
}

#[tokio::test]
async fn a_full_cycle_gives_tokens_once() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let started = start(&sb, PROFESSIONAL, "42", "MOBILE").await;
    assert_eq!(started["expires_in"], 30);
    assert_eq!(started["interval"], 1);
    let id = started["auth_req_id"].as_str().unwrap().to_owned();

    assert_eq!(
        error_of(poll(&sb, &id).await).await,
        (400, "authorization_pending".into())
    );
    // Polled again at once: faster than the interval.
    assert_eq!(
        error_of(poll(&sb, &id).await).await,
        (400, "slow_down".into())
    );

    // The phone shows the request with its binding message, client and channel.
    let pending = sb.pending(PROFESSIONAL).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, id);
    assert_eq!(pending[0].binding_message, "42");
    assert_eq!(pending[0].client, "trousseau");
    assert_eq!(pending[0].channel, "MOBILE");
    assert!(
        sb.pending(NURSE).await.is_empty(),
        "another professional sees nothing"
    );
    // Another professional cannot approve it.
    assert!(!sb.decide(NURSE, &id, true).await);
    assert!(sb.decide(PROFESSIONAL, &id, true).await);
    assert!(sb.pending(PROFESSIONAL).await.is_empty());

    tokio::time::sleep(interval()).await;
    let resp = poll(&sb, &id).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 120);
    assert!(tokens["refresh_token"].as_str().is_some());
    let id_token = verify(&sb, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["iss"], sb.issuer.as_str());
    assert_eq!(id_token["aud"], "trousseau");
    assert_eq!(id_token["acr"], "eidas1");
    assert_eq!(id_token["SubjectNameID"], PROFESSIONAL);
    assert_eq!(id_token["authMode"], "MOBILE");
    assert!(id_token["sub"].as_str().unwrap().starts_with("f:"));
    assert!(
        id_token["sub"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{PROFESSIONAL}"))
    );
    assert!(id_token.get("nonce").is_none());
    assert!(id_token["amr"].as_array().is_some_and(|a| !a.is_empty()));

    // Single use.
    tokio::time::sleep(interval()).await;
    assert_eq!(
        error_of(poll(&sb, &id).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn concurrent_polls_get_the_tokens_once() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let started = start(&sb, PROFESSIONAL, "07", "CARD").await;
    let id = started["auth_req_id"].as_str().unwrap().to_owned();
    let pending = sb.approve_all(PROFESSIONAL).await;
    assert_eq!(pending[0].channel, "CARD");
    let polls = (0..8).map(|_| poll(&sb, &id));
    let answers = futures_util::future::join_all(polls).await;
    let granted = answers.iter().filter(|r| r.status() == 200).count();
    assert_eq!(granted, 1, "exactly one poll gets the tokens");
}

#[tokio::test]
async fn a_refusal_answers_access_denied() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let started = start(&sb, NURSE, "13", "MOBILE").await;
    let id = started["auth_req_id"].as_str().unwrap().to_owned();
    sb.refuse_all(NURSE).await;
    assert_eq!(
        error_of(poll(&sb, &id).await).await,
        (403, "access_denied".into())
    );
}

#[tokio::test]
async fn an_unanswered_request_expires() {
    let sb = spawn_sandbox(SandboxOptions {
        ciba_expires_in: 2,
        ..SandboxOptions::default()
    })
    .await;
    let started = start(&sb, PROFESSIONAL, "99", "MOBILE").await;
    assert_eq!(started["expires_in"], 2);
    let id = started["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(
        error_of(poll(&sb, &id).await).await.1,
        "authorization_pending"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        error_of(poll(&sb, &id).await).await,
        (400, "expired_token".into())
    );
    // Too late for the phone as well.
    assert!(sb.pending(PROFESSIONAL).await.is_empty());
    assert!(!sb.decide(PROFESSIONAL, &id, true).await);
}

#[tokio::test]
async fn unknown_professionals_and_bad_requests_are_refused() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let ask = |hint: &'static str, channel: &'static str| {
        let sb = &sb;
        async move {
            post(
                sb,
                CIBA,
                &[
                    ("scope", "openid scope_all"),
                    ("login_hint", hint),
                    ("binding_message", "12"),
                    ("channel", channel),
                ],
            )
            .await
        }
    };
    // A valid IdNat that is not in the RPPS file; then something that is no IdNat.
    assert_eq!(
        error_of(ask("810000000000", "MOBILE").await).await,
        (400, "unknown_user_id".into())
    );
    assert_eq!(
        error_of(ask("hello", "MOBILE").await).await,
        (400, "unknown_user_id".into())
    );
    assert_eq!(
        error_of(ask(PROFESSIONAL, "PIGEON").await).await,
        (400, "invalid_request".into())
    );
    let no_openid = post(
        &sb,
        CIBA,
        &[("scope", "scope_all"), ("login_hint", PROFESSIONAL)],
    )
    .await;
    assert_eq!(error_of(no_openid).await, (400, "invalid_scope".into()));
    // An auth_req_id of nothing.
    assert_eq!(
        error_of(poll(&sb, "nothing").await).await,
        (400, "invalid_grant".into())
    );
}
