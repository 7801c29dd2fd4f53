//! `/metrics`: label values a client cannot multiply, and who may read them (`[metrics]`:
//! direct peers in `allow`, never judged by `X-Forwarded-For`; a listener of its own).

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn scrape(app: &TestApp, base: &str) -> reqwest::Response {
    app.http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
}

/// The request series (`trousseau_http_requests_total{…}` lines) of a scrape.
async fn request_series(app: &TestApp) -> Vec<String> {
    let resp = scrape(app, &app.issuer).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("trousseau_http_requests_total{"))
        .map(str::to_owned)
        .collect()
}

/// Sends `round` batches of odd requests: methods nobody uses and paths no route matches.
async fn odd_requests(app: &TestApp, round: usize) {
    for i in 0..10 {
        let method = Method::from_bytes(format!("BREW{round}X{i}").as_bytes()).unwrap();
        app.http
            .request(method, app.url("/token"))
            .send()
            .await
            .unwrap();
        app.http
            .get(app.url(&format!("/nothing-here-{round}-{i}")))
            .send()
            .await
            .unwrap();
        app.http
            .post(app.url(&format!("/a/{round}/{i}")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn odd_methods_and_unknown_paths_add_no_label_values() {
    let app = spawn_app().await;
    let huge = Method::from_bytes("X".repeat(8000).as_bytes()).unwrap();
    let resp = app
        .http
        .request(huge, app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    odd_requests(&app, 1).await;
    // The first scrape is counted after it answered: the second one sees it.
    request_series(&app).await;
    let before = request_series(&app).await;
    odd_requests(&app, 2).await;
    let after = request_series(&app).await;

    let labels_of = |lines: &[String]| {
        lines
            .iter()
            .map(|l| l.split('}').next().unwrap_or("").to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // Twenty new methods and forty new paths: not one new series.
    assert_eq!(labels_of(&before), labels_of(&after), "{after:#?}");
    for line in &after {
        assert!(!line.contains("XXXX") && !line.contains("BREW"), "{line}");
        assert!(
            !line.contains("nothing-here") && !line.contains("/a/"),
            "{line}"
        );
        assert!(line.len() < 200, "{line}");
    }
    assert!(
        after
            .iter()
            .any(|l| l.contains("method=\"OTHER\"") && l.contains("route=\"/token\"")),
        "{after:#?}"
    );
    assert!(
        after.iter().any(|l| l.contains("route=\"unmatched\"")),
        "{after:#?}"
    );
}

#[tokio::test]
async fn metrics_answer_only_the_allowed_direct_peers() {
    // A forwarded address is whatever the caller wrote: never believed for /metrics.
    let app = spawn_app_with("[metrics]\nallow = [\"10.9.8.0/24\"]\n").await;
    for forwarded in [None, Some("10.9.8.7"), Some("10.9.8.7, 127.0.0.1")] {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{forwarded:?}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = resp.text().await.unwrap();
        assert!(!body.contains("trousseau_http_requests"), "{body}");
        assert!(
            body.contains("pas accessible depuis votre adresse"),
            "{body}"
        );
    }
    let refused = app.audit("metrics_refused").await;
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|e| e.outcome == "failure" && e.reason.as_deref() == Some("address_not_allowed"))
    );

    // The default lets loopback read.
    let open = spawn_app().await;
    let resp = scrape(&open, &open.issuer).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("# TYPE trousseau_http_requests counter")
    );
}

#[tokio::test]
async fn metrics_on_their_own_listener_only() {
    let app = spawn_app_with("[metrics]\nbind = \"127.0.0.1:0\"\n").await;
    let port = app.metrics_port.expect("a metrics listener");
    let own = format!("http://127.0.0.1:{port}");

    let resp = scrape(&app, &own).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("# TYPE trousseau_http_requests counter")
    );
    for probe in ["/healthz", "/readyz"] {
        let resp = app.http.get(format!("{own}{probe}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{probe}");
    }
    // The public listener no longer serves /metrics, and the metrics listener serves nothing
    // else.
    assert_eq!(
        scrape(&app, &app.issuer).await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        "/",
        "/authorize",
        "/.well-known/openid-configuration",
        "/jwks",
    ] {
        let resp = app.http.get(format!("{own}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = app
        .http
        .post(format!("{own}/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // `allow` applies on that listener too.
    let closed =
        spawn_app_with("[metrics]\nbind = \"127.0.0.1:0\"\nallow = [\"10.9.8.0/24\"]\n").await;
    let port = closed.metrics_port.expect("a metrics listener");
    let resp = scrape(&closed, &format!("http://127.0.0.1:{port}")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}
