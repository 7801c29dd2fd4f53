//! The sandbox's storage bounds: caps on open requests per client address and in all (429
//! with a sandbox message), and the purge that keeps an expired CIBA request answering
//! `expired_token` for a while, then forgets it (`invalid_grant`).

use serde_json::Value;

use super::{CIBA, CIBA_GRANT, TOKEN, error_of, post};
use crate::helpers::pkce;
use crate::helpers::sandbox::{NURSE, PROFESSIONAL, Sandbox, SandboxOptions, spawn_sandbox};
use crate::helpers::wait;

async fn ciba(sb: &Sandbox, idnat: &str) -> reqwest::Response {
    post(
        sb,
        CIBA,
        &[("scope", "openid scope_all"), ("login_hint", idnat)],
    )
    .await
}

fn capped(per_address: u64, total: u64) -> SandboxOptions {
    SandboxOptions {
        extra: format!(
            "max_open_requests_per_address = {per_address}\nmax_open_requests = {total}\n"
        ),
        ..SandboxOptions::default()
    }
}

#[tokio::test]
async fn open_requests_of_one_address_are_capped_until_one_settles() {
    let sb = spawn_sandbox(capped(2, 100)).await;
    assert_eq!(ciba(&sb, PROFESSIONAL).await.status(), 200);
    assert_eq!(ciba(&sb, NURSE).await.status(), 200);
    let refused = ciba(&sb, PROFESSIONAL).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let text = body["error_description"].as_str().unwrap();
    assert!(
        text.starts_with("sandbox:") && text.contains("max_open_requests_per_address"),
        "{text}"
    );
    // The login page counts the same requests, and says so in French first.
    let (_, challenge) = pkce();
    let page = sb
        .http
        .get(sb.authorize_url(&challenge, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("trop de demandes de connexion en attente depuis votre adresse")
    );
    // A settled request frees its place.
    sb.refuse_all(NURSE).await;
    assert_eq!(ciba(&sb, NURSE).await.status(), 200);
}

#[tokio::test]
async fn open_requests_of_the_whole_sandbox_are_capped() {
    let sb = spawn_sandbox(capped(10, 2)).await;
    let (_, challenge) = pkce();
    let page = sb
        .http
        .get(sb.authorize_url(&challenge, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "a login prompt is an open request");
    assert_eq!(ciba(&sb, PROFESSIONAL).await.status(), 200);
    let refused = ciba(&sb, NURSE).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    let text = body["error_description"].as_str().unwrap();
    assert!(text.contains("(max_open_requests)"), "{text}");
    let page = sb
        .http
        .get(format!("{}&lang=en", sb.authorize_url(&challenge, "")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Sandbox: too many sign-in requests are waiting.")
    );
}

#[tokio::test]
async fn an_expired_request_answers_expired_token_then_is_purged_and_unknown() {
    let sb = spawn_sandbox(SandboxOptions {
        ciba_expires_in: 1,
        extra: "purge_interval_secs = 1\nexpired_request_keep_secs = 2\n".into(),
        ..SandboxOptions::default()
    })
    .await;
    let id = sb.ciba_start(PROFESSIONAL).await;
    let poll = || async {
        error_of(
            post(
                &sb,
                TOKEN,
                &[("grant_type", CIBA_GRANT), ("auth_req_id", id.as_str())],
            )
            .await,
        )
        .await
    };
    wait::until("the request expires", || async {
        poll().await == (400, "expired_token".into())
    })
    .await;
    wait::until("the purge forgets it", || async {
        let answer = poll().await;
        assert_ne!(answer.1, "authorization_pending");
        answer == (400, "invalid_grant".into())
    })
    .await;
}
