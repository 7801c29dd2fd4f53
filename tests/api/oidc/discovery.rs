//! Discovery metadata and the JWKS.

use crate::helpers::spawn_app;
use serde_json::Value;

#[tokio::test]
async fn discovery_document_describes_the_provider() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["backchannel_logout_supported"], true);
    for alg in ["RS256", "ES256", "PS256"] {
        assert!(
            doc["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == alg)
        );
    }
}

#[tokio::test]
async fn jwks_publishes_current_and_next_keys_with_kids() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/jwk-set+json");
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 6, "current and next for RS256, ES256 and PS256");
    for k in keys {
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(k.get("d").is_none(), "no private part is ever published");
        assert_eq!(k["use"], "sig");
    }
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("trousseau_http_requests_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn security_headers_are_on_every_page() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/")).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    // `no-referrer` would make browsers send `Origin: null` on our own form posts.
    assert_eq!(resp.headers()["referrer-policy"], "same-origin");
    assert!(
        resp.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
}
