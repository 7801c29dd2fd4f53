//! The admin API: its OpenAPI document, client-credentials authentication with scopes that
//! mirror the roles, problem details for every refusal, the same core functions as the CLI
//! (audited with the API client as actor), and cursor pagination of the audit trail.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use trousseau::oidc::client::GrantType;

/// A client of the admin API with `scopes`, and an access token for it.
pub(super) async fn api_token(app: &TestApp, id: &str, scopes: &[&str]) -> String {
    let mut spec = app.spec(id);
    spec.grants = vec![GrantType::ClientCredentials];
    spec.redirect_uris.clear();
    spec.post_logout_redirect_uris.clear();
    spec.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    let rp = app.register(spec).await;
    let scope = scopes.join(" ");
    let resp = app
        .post_form(
            "/token",
            Some(&rp),
            &[("grant_type", "client_credentials"), ("scope", &scope)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .http
        .request(method, app.url(&format!("/admin/api/v1{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn is_problem(headers: &reqwest::header::HeaderMap, body: &Value, code: &str) {
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{body}"
    );
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:trousseau:problem:{code}"));
    assert!(body["status"].is_u64() && body["title"].is_string() && body["detail"].is_string());
}

#[tokio::test]
async fn the_openapi_document_is_generated_and_served() {
    let app = spawn_app().await;
    let (status, _, doc) = call(&app, reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], app.issuer.trim_end_matches('/'));
    for path in [
        "/admin/api/v1/identities",
        "/admin/api/v1/identities/{id}",
        "/admin/api/v1/identities/{id}/suspend",
        "/admin/api/v1/identities/{id}/enrolment-codes",
        "/admin/api/v1/audit",
        "/admin/api/v1/clients",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn callers_without_a_valid_client_token_and_scope_get_problems() {
    let app = spawn_app().await;
    let id = app.create_user("cible", "Secret-1").await;
    let path = format!("/identities/{id}");
    let get = reqwest::Method::GET;
    // No token, a forged token.
    for token in [None, Some("not-a-token")] {
        let (status, headers, body) = call(&app, get.clone(), &path, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        is_problem(&headers, &body, "invalid_token");
        assert_eq!(
            headers["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
    // A client token without any admin scope.
    let plain = api_token(&app, "reporting", &["api.read"]).await;
    let (status, headers, body) = call(&app, get.clone(), &path, Some(&plain), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    is_problem(&headers, &body, "insufficient_scope");
    // A person's access token never reaches the admin API, whatever their roles.
    app.create_user("chef", "Secret-1").await;
    trousseau::admin::roles::add(
        &app.state,
        "chef",
        trousseau::identity::AdminRole::Admin,
        "t",
    )
    .await
    .unwrap();
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let tokens = login_tokens(&app, &mut b, &rp, "chef", "Secret-1").await;
    let person = tokens["access_token"].as_str().unwrap();
    let (status, headers, body) = call(&app, get.clone(), &path, Some(person), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    is_problem(&headers, &body, "insufficient_scope");
    // Unknown operations are problems too, not HTML.
    let helpdesk = api_token(&app, "desk", &["trousseau:helpdesk"]).await;
    let (status, headers, body) = call(&app, get, "/nothing", Some(&helpdesk), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    is_problem(&headers, &body, "not_found");
}

#[tokio::test]
async fn the_helpdesk_suspends_reactivates_and_issues_a_code_each_audited_as_the_client() {
    let app = spawn_app().await;
    let id = app.create_user("inf-bloc", "Secret-1").await;
    let desk = api_token(&app, "desk", &["trousseau:helpdesk"]).await;
    let post = reqwest::Method::POST;

    let (status, _, body) = call(
        &app,
        post.clone(),
        &format!("/identities/{id}/suspend"),
        Some(&desk),
        Some(json!({ "reason": "badge perdu" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "suspended");
    let disabled = app.audit("user_disabled").await;
    assert_eq!(disabled[0].actor.as_deref(), Some("api:desk"));

    let (status, _, body) = call(
        &app,
        post.clone(),
        "/identities/inf-bloc/reactivate",
        Some(&desk),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");

    // The code needs the identity check, typed: an unknown document is a 400 problem.
    let path = format!("/identities/{id}/enrolment-codes");
    let (status, headers, body) = call(
        &app,
        post.clone(),
        &path,
        Some(&desk),
        Some(json!({ "checked_by": "Accueil", "document": "library_card" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    is_problem(&headers, &body, "invalid_request");
    let (status, headers, body) = call(
        &app,
        post.clone(),
        &path,
        Some(&desk),
        Some(json!({ "checked_by": "Accueil DSI", "document": "id_card" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["code"].as_str().unwrap().len(), 14);
    let checked = app.audit("identity_checked").await;
    assert_eq!(checked[0].actor.as_deref(), Some("api:desk"));

    let (status, _, body) = call(
        &app,
        post,
        &format!("/identities/{id}/end-sessions"),
        Some(&desk),
        None,
    )
    .await;
    assert_eq!(
        (status, body["sessions_ended"].as_u64()),
        (StatusCode::OK, Some(0))
    );
}

#[tokio::test]
async fn each_scope_does_only_what_its_role_may() {
    let app = spawn_app().await;
    let id = app.create_user("inf-pool", "Secret-1").await;
    let auditor = api_token(&app, "audit", &["trousseau:audit"]).await;
    let desk = api_token(&app, "desk", &["trousseau:helpdesk"]).await;
    let admin = api_token(&app, "root", &["trousseau:admin"]).await;
    let (get, post, put) = (
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::PUT,
    );

    // The auditor reads a person and the trail, changes nothing.
    let (status, _, _) = call(
        &app,
        get.clone(),
        &format!("/identities/{id}"),
        Some(&auditor),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = call(
        &app,
        post,
        &format!("/identities/{id}/suspend"),
        Some(&auditor),
        Some(json!({ "reason": "test" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    is_problem(&headers, &body, "insufficient_scope");
    let still = trousseau::storage::identities::by_id(app.state.db.pool(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(still.status.is_active());
    let (status, _, _) = call(&app, get.clone(), "/audit", Some(&auditor), None).await;
    assert_eq!(status, StatusCode::OK);

    // The helpdesk: no clients, no roles, no audit export.
    for (method, path) in [
        (get.clone(), "/clients".to_owned()),
        (put.clone(), format!("/identities/{id}/roles/helpdesk")),
        (get.clone(), "/audit".to_owned()),
    ] {
        let (status, _, body) = call(&app, method, &path, Some(&desk), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }

    // The admin does all of it.
    let (status, _, body) = call(&app, get.clone(), "/clients", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "desk" || c["id"] == "desk"),
        "{body}"
    );
    let (status, _, body) = call(
        &app,
        put.clone(),
        &format!("/identities/{id}/roles/helpdesk"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (status, body["changed"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, _, body) = call(
        &app,
        put,
        &format!("/identities/{id}/roles/superuser"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let granted = app.audit("admin_role_granted").await;
    assert_eq!(granted[0].actor.as_deref(), Some("api:root"));
    // The admin role never shows in the admin's own tokens' claims beyond the API scope.
    let (status, _, body) = call(&app, get, &format!("/identities/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["admin_roles"], json!(["helpdesk"]));
}

#[tokio::test]
async fn the_audit_trail_pages_by_cursor_without_repeats() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create_user(&format!("p{i}"), "Secret-1").await;
    }
    let auditor = api_token(&app, "audit", &["trousseau:audit"]).await;
    app.state.audit.flush().await;
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/audit?kind=user_created&limit=3&cursor={c}"),
            None => "/audit?kind=user_created&limit=3".to_owned(),
        };
        let (status, _, body) = call(&app, reqwest::Method::GET, &path, Some(&auditor), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        for e in body["items"].as_array().unwrap() {
            assert_eq!(e["kind"], "user_created");
            assert!(
                seen.insert(e["id"].as_str().unwrap().to_owned()),
                "repeated {e}"
            );
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (7, 3));
    for bad in [
        "/audit?cursor=%21%21",
        "/audit?limit=0",
        "/audit?limit=abc",
        "/audit?colour=red",
    ] {
        let (status, headers, body) =
            call(&app, reqwest::Method::GET, bad, Some(&auditor), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        is_problem(&headers, &body, "invalid_request");
    }
}

#[tokio::test]
async fn the_search_finds_people_by_accentless_prefix_and_pages_by_cursor() {
    let app = spawn_app().await;
    for (i, (given, family)) in [
        ("Hervé", "Martin"),
        ("Hélène", "Marchand"),
        ("Paul", "Roux"),
    ]
    .iter()
    .enumerate()
    {
        let user = trousseau::admin::users::NewUser {
            username: format!("person{i}"),
            given_name: (*given).into(),
            family_name: (*family).into(),
            email: None,
            password: None,
        };
        trousseau::admin::users::create(&app.state, user, "test")
            .await
            .unwrap();
    }
    let auditor = api_token(&app, "audit-app", &["trousseau:audit"]).await;
    let get = reqwest::Method::GET;

    let (status, _, body) = call(
        &app,
        get.clone(),
        "/identities?q=HELENE",
        Some(&auditor),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["items"][0]["family_name"], "Marchand");
    assert!(body["next_cursor"].is_null());

    // "mar" finds two people: one a page, the cursor gives the second, then the end.
    let (_, _, first) = call(
        &app,
        get.clone(),
        "/identities?q=mar&limit=1",
        Some(&auditor),
        None,
    )
    .await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let path = format!("/identities?q=mar&limit=1&cursor={cursor}");
    let (_, _, second) = call(&app, get.clone(), &path, Some(&auditor), None).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert!(second["next_cursor"].is_null(), "{second}");

    // Bad queries are problems; no token is refused.
    let long = format!("/identities?q={}", "a".repeat(101));
    for path in [
        "/identities?limit=0",
        "/identities?limit=9999",
        "/identities?colour=blue",
        long.as_str(),
    ] {
        let (status, headers, body) = call(&app, get.clone(), path, Some(&auditor), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
    }
    let (status, _, _) = call(&app, get, "/identities?q=mar", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
