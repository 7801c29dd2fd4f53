//! The authorization-code flow through the sandbox's pages (psc.md): PKCE S256, state, nonce,
//! acr eidas1; the IdNat prompt, the wait for the phone, the code; the session that skips the
//! prompt; CSRF and browser binding.

use reqwest::StatusCode;
use serde_json::Value;

use super::{error_of, verify};
use crate::helpers::sandbox::{
    NURSE, PROFESSIONAL, Sandbox, SandboxOptions, browser, spawn_sandbox,
};
use crate::helpers::{pkce, query_param};

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    text[from..from + len].to_owned()
}

/// Logs `idnat` in through the pages, approving on the phone; the redirect back.
async fn login(sb: &Sandbox, b: &reqwest::Client, challenge: &str, idnat: &str) -> String {
    let url = sb.authorize_url(challenge, "");
    sb.sign_in(b, &url, idnat, true).await
}

#[tokio::test]
async fn login_with_phone_approval_gives_a_code_for_pkce() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let b = browser();
    let (verifier, challenge) = pkce();
    let back = login(&sb, &b, &challenge, PROFESSIONAL).await;
    assert!(back.starts_with(&sb.redirect_uri), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st4te"));
    let code = query_param(&back, "code").unwrap();

    let resp = sb.exchange(&code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    let claims = verify(&sb, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["acr"], "eidas1");
    assert_eq!(claims["aud"], "trousseau");
    assert_eq!(claims["preferred_username"], PROFESSIONAL);
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!((claims["iat"].as_i64().unwrap() - auth_time).abs() < 30);
    assert_eq!(
        error_of(sb.exchange(&code, &verifier).await).await,
        (400, "invalid_grant".into())
    );

    // The session (4 h / 30 min) skips the prompt: straight back with a new code.
    let (verifier2, challenge2) = pkce();
    let again = b
        .get(sb.authorize_url(&challenge2, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let to = again.headers()["location"].to_str().unwrap().to_owned();
    let code2 = query_param(&to, "code").unwrap();
    let tokens: Value = sb.exchange(&code2, &verifier2).await.json().await.unwrap();
    let claims2 = verify(&sb, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims2["auth_time"].as_i64().unwrap(), auth_time);
    assert_eq!(claims2["sid"], claims["sid"]);

    // prompt=login asks again.
    let forced = b
        .get(sb.authorize_url(&challenge2, "&prompt=login"))
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200);
}

#[tokio::test]
async fn a_wrong_verifier_is_refused() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let (_, challenge) = pkce();
    let back = login(&sb, &browser(), &challenge, NURSE).await;
    let code = query_param(&back, "code").unwrap();
    let (other_verifier, _) = pkce();
    assert_eq!(
        error_of(sb.exchange(&code, &other_verifier).await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn requests_without_pkce_or_with_an_unknown_redirect_are_refused() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let b = browser();
    // No PKCE: back to the client with an error.
    let url = sb
        .authorize_url("", "")
        .replace("&code_challenge=&code_challenge_method=S256", "");
    let resp = b.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
    // plain is not S256.
    let (_, challenge) = pkce();
    let plain = sb
        .authorize_url(&challenge, "")
        .replace("method=S256", "method=plain");
    let to = b.get(&plain).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
    // An unregistered redirect URI: never redirected to.
    let evil = sb
        .authorize_url(&challenge, "")
        .replace("127.0.0.1%3A9", "evil.example");
    let resp = b.get(&evil).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn forms_need_their_csrf_token_and_the_browser_that_started() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let b = browser();
    let (_, challenge) = pkce();
    let html = b
        .get(sb.authorize_url(&challenge, ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    let req = between(&html, "name=\"req\" value=\"", "\"");
    // A forged form (no matching token).
    let forged = b
        .post(format!("{}/wallet/auth/login", sb.base))
        .form(&[
            ("csrf", "forged-value-forged-value-forged-value"),
            ("req", req.as_str()),
            ("idnat", PROFESSIONAL),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // An unknown professional is told so.
    let unknown = b
        .post(format!("{}/wallet/auth/login", sb.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("req", req.as_str()),
            ("idnat", "810000000000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("Aucun professionnel")
    );
    let ok = b
        .post(format!("{}/wallet/auth/login", sb.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("req", req.as_str()),
            ("idnat", PROFESSIONAL),
        ])
        .send()
        .await
        .unwrap();
    let wait = format!("{}{}", sb.base, ok.headers()["location"].to_str().unwrap());
    // Another browser cannot take the login over, even once approved.
    sb.approve_all(PROFESSIONAL).await;
    let other = browser();
    let _ = other.get(format!("{}/ecps", sb.base)).send().await.unwrap();
    assert_eq!(other.get(&wait).send().await.unwrap().status(), 403);
    assert_eq!(
        b.get(&wait).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    // The phone's form needs its token too.
    let resp = b
        .post(format!("{}/ecps/decide", sb.base))
        .form(&[
            ("csrf", "x"),
            ("idnat", PROFESSIONAL),
            ("req", req.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn a_refusal_on_the_phone_returns_access_denied() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let b = browser();
    let (_, challenge) = pkce();
    let html = b
        .get(sb.authorize_url(&challenge, ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"");
    let req = between(&html, "name=\"req\" value=\"", "\"");
    let ok = b
        .post(format!("{}/wallet/auth/login", sb.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("req", req.as_str()),
            ("idnat", NURSE),
        ])
        .send()
        .await
        .unwrap();
    let wait = format!("{}{}", sb.base, ok.headers()["location"].to_str().unwrap());
    sb.refuse_all(NURSE).await;
    let back = b.get(&wait).send().await.unwrap();
    let to = back.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st4te"));
}

#[tokio::test]
async fn the_pages_speak_french_first_and_english_on_request() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let fr = sb
        .http
        .get(format!("{}/ecps", sb.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fr.contains("lang=\"fr\"") && fr.contains("Téléphone e-CPS") && fr.contains("Bac à sable")
    );
    let en = sb
        .http
        .get(format!("{}/ecps?lang=en", sb.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("lang=\"en\"") && en.contains("e-CPS phone") && en.contains("bac à sable"));
}
