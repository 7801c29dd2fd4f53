//! Scopes: every scope the code flow can grant is shown on the consent page (`rpps` included),
//! registration refuses scopes it does not know, and discovery lists the claims they give.

use reqwest::StatusCode;
use serde_json::Value;
use trousseau::oidc::client::GrantType;
use trousseau::oidc::scope::PERSON_SCOPES;
use trousseau::ui::i18n::{EN, FR, scope_label};

use crate::helpers::{TestApp, authorize_url, query_param, spawn_app};

const PW: &str = "correct horse battery staple";

/// A page's text with the entities askama writes turned back into characters.
fn unescaped(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `url` with its `scope` parameter replaced.
fn with_scope(url: &str, scope: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "scope" {
                scope.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// Signs `alice` in for a third-party client asking for every person scope; returns the
/// consent page (body) in `lang`.
async fn consent_page(app: &TestApp, lang: &str) -> String {
    let mut spec = app.spec("portail");
    spec.first_party = false;
    spec.scopes = PERSON_SCOPES.map(str::to_owned).to_vec();
    let rp = app.register(spec).await;
    app.create_user("alice", PW).await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(app, &rp, &[("ui_locales", lang)]);
    let url = with_scope(&url, &PERSON_SCOPES.join(" "));
    let resp = browser.get(&url).await;
    let (_, login) = browser.follow(resp).await;
    assert!(login.contains("/login?"), "{login}");
    let resp = browser.submit_login(&login, "alice", PW).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (resp, at) = browser.follow(resp).await;
    assert!(at.contains("/consent?flow="), "{at}");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

#[tokio::test]
async fn the_consent_page_lists_every_grantable_scope_with_rpps() {
    let app = spawn_app().await;
    let page = unescaped(&consent_page(&app, "fr").await);
    for s in PERSON_SCOPES {
        let label = scope_label(&FR, s).unwrap_or_else(|| panic!("the scope {s} has no label"));
        assert!(page.contains(label), "{s} missing: {page}");
    }
    assert!(page.contains("(RPPS)"), "{page}");
    assert_eq!(page.matches("<li>").count(), PERSON_SCOPES.len(), "{page}");

    let app = spawn_app().await;
    let page = unescaped(&consent_page(&app, "en").await);
    for s in PERSON_SCOPES {
        let label = scope_label(&EN, s).unwrap_or_else(|| panic!("the scope {s} has no label"));
        assert!(page.contains(label), "{s} missing: {page}");
    }
}

#[tokio::test]
async fn registration_refuses_unknown_scopes() {
    let app = spawn_app().await;
    for bad in ["payroll", "api.read", "a b", "say\"hi"] {
        let mut spec = app.spec("dpi");
        spec.scopes.push(bad.into());
        let err = trousseau::admin::clients::create(&app.state, &spec, "test")
            .await
            .expect_err(bad);
        assert!(err.to_string().contains("scope"), "{bad}: {err}");
    }
    // An API scope belongs to a client acting for itself ...
    let mut spec = app.spec("batch");
    spec.grants = vec![GrantType::ClientCredentials];
    spec.redirect_uris.clear();
    spec.scopes = vec!["api.read".into()];
    app.register(spec).await;
    // ... and a client that also signs people in never gets it through the code flow.
    let mut spec = app.spec("dpi");
    spec.grants.push(GrantType::ClientCredentials);
    spec.scopes.push("api.read".into());
    let rp = app.register(spec).await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = browser.get(&with_scope(&url, "openid api.read")).await;
    let (_, back) = browser.follow(resp).await;
    assert!(back.starts_with(&rp.redirect_uri), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn discovery_lists_the_claims_of_every_scope() {
    let app = spawn_app().await;
    let meta: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims: Vec<&str> = meta["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in ["SubjectNameID", "SubjectRefPro", "idnat", "roles", "email"] {
        assert!(claims.contains(&c), "{c} missing from {claims:?}");
    }
    let scopes: Vec<&str> = meta["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(scopes, PERSON_SCOPES);
}
