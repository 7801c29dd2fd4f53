//! Every refusal in the endpoint's own format: OAuth JSON on the token family, the French
//! (then English) HTML error page on pages, even when the request never reached its handler;
//! one client-authentication rule at the token, introspection and revocation endpoints.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::helpers::{Rp, TestApp, spawn_app};

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A form body over the 64 KiB limit.
fn oversized() -> String {
    format!("token={}", "a".repeat(70 * 1024))
}

async fn post_big(app: &TestApp, path: &str, rp: Option<&Rp>) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(oversized());
    if let Some(rp) = rp {
        req = req.basic_auth(&rp.id, rp.secret.as_deref());
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_oversized_body_is_refused_in_the_endpoints_format() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    for path in ["/token", "/revoke", "/introspect", "/par", "/userinfo"] {
        let resp = post_big(&app, path, Some(&rp)).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(
            content_type(&resp).starts_with("application/json"),
            "{path}: {}",
            content_type(&resp)
        );
        assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
        assert!(body["error_description"].as_str().is_some(), "{path}");
    }
    for path in ["/logout", "/login", "/consent", "/password/change"] {
        let resp = post_big(&app, path, None).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(
            content_type(&resp).starts_with("text/html"),
            "{path}: {}",
            content_type(&resp)
        );
        let body = resp.text().await.unwrap();
        assert!(body.contains("trop volumineuse"), "{path}: {body}");
        assert!(body.contains("<html"), "{path}");
    }
    for (kind, count) in [
        ("token_refused", 1),
        ("revocation_refused", 1),
        ("introspection_refused", 1),
        ("par_refused", 1),
        ("userinfo_refused", 1),
        ("logout_refused", 1),
        ("request_refused", 3),
    ] {
        let events = app.audit(kind).await;
        assert_eq!(
            events
                .iter()
                .filter(|e| e.reason.as_deref() == Some("body_too_large"))
                .count(),
            count,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn pages_without_their_flow_answer_the_error_page() {
    let app = spawn_app().await;
    for path in ["/login", "/consent", "/authorize/resume", "/login?lang=fr"] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(
            content_type(&resp).starts_with("text/html"),
            "{path}: {}",
            content_type(&resp)
        );
        let body = resp.text().await.unwrap();
        assert!(!body.contains("deserialize"), "{path}: {body}");
        assert!(body.contains("lang=\"fr\""), "{path}: {body}");
        assert!(body.contains("incomplète"), "{path}: {body}");
    }
    // English on request.
    let resp = app
        .http
        .get(app.url("/consent?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("incomplete"));
}

#[tokio::test]
async fn a_malformed_basic_header_is_refused_at_every_client_endpoint() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let secret = rp.secret.clone().unwrap();
    for path in ["/token", "/introspect", "/revoke"] {
        for header in ["Basic !!!", "Bearer abc"] {
            // The body alone would authenticate the client (client_secret_post).
            let resp = app
                .http
                .post(app.url(path))
                .header("authorization", header)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("token", "whatever"),
                    ("client_id", rp.id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path} {header}");
            assert!(
                resp.headers()[WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic"),
                "{path}"
            );
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client", "{path} {header}");
        }
    }
    for kind in [
        "token_refused",
        "introspection_refused",
        "revocation_refused",
    ] {
        let events = app.audit(kind).await;
        assert_eq!(
            events
                .iter()
                .filter(|e| e.reason.as_deref() == Some("malformed_basic_auth"))
                .count(),
            2,
            "{kind}"
        );
    }
    // Without the header the same body authenticates.
    let resp = app
        .post_form(
            "/introspect",
            None,
            &[
                ("token", "whatever"),
                ("client_id", rp.id.as_str()),
                ("client_secret", secret.as_str()),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["active"], false);
}
