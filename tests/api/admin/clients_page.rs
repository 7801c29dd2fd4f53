//! The console's clients pages and the admin API's client operations: who may see and change
//! clients, the form's refusals field by field, the secret shown once, rotation and disabling
//! honoured at /token and /authorize, and the audit of every change (before and after, never a
//! secret).

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use serde_json::{Value, json};

use super::api::api_token;
use crate::helpers::*;
use trousseau::admin::clients;
use trousseau::authn::Method;
use trousseau::identity::AdminRole;
use trousseau::oidc::client::GrantType;

const CSRF: &str = "__Host-trousseau_csrf";

/// A browser signed in with a card (loa3) as `user`, created with `role` if any.
async fn signed_in(app: &TestApp, user: &str, role: Option<AdminRole>) -> Browser {
    super::console::signed_in(app, user, role, Method::Card).await
}

/// Opens a page (which sets the CSRF cookie) and answers the token.
async fn csrf_of(b: &mut Browser, path: &str) -> String {
    let resp = b.get(path).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    b.cookies.get(CSRF).cloned().expect("a CSRF cookie")
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn details(r: &trousseau::storage::audit::AuditRecord) -> Value {
    serde_json::from_str(r.details.as_deref().unwrap_or("null")).unwrap()
}

/// A confidential client allowed `client_credentials`, and its secret.
async fn machine(app: &TestApp, id: &str) -> Rp {
    let mut spec = app.spec(id);
    spec.grants.push(GrantType::ClientCredentials);
    spec.scopes.push("api.read".into());
    app.register(spec).await
}

/// What the token endpoint answers to `client_credentials` with these credentials.
pub(super) async fn token_with(app: &TestApp, id: &str, secret: &str) -> (StatusCode, String) {
    let rp = Rp {
        id: id.into(),
        secret: Some(secret.into()),
        redirect_uri: String::new(),
    };
    let form = [("grant_type", "client_credentials"), ("scope", "api.read")];
    error_code(app.post_form("/token", Some(&rp), &form).await).await
}

/// The secret shown on a secret page.
fn secret_in(page: &str) -> String {
    page.split("id=\"client-secret\"")
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a secret on the page")
        .to_owned()
}

/// The form of a new client, as a browser sends it, with `extra` replacing or adding fields.
fn new_form<'a>(csrf: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("client_id", "dpi"),
        ("name", "Dossier patient"),
        ("kind", "confidential"),
        (
            "redirect_uris",
            "https://dpi.chu.example/cb\r\nhttps://dpi.chu.example/cb2",
        ),
        ("post_logout_redirect_uris", "https://dpi.chu.example/bye"),
        ("grant_authorization_code", "1"),
        ("grant_refresh_token", "1"),
        ("scopes", "openid profile email"),
        ("min_acr", "loa2"),
        ("max_auth_age", "3600"),
        ("require_pkce", "1"),
        ("signing_alg", "ES256"),
    ];
    for (k, v) in extra {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    form
}

#[tokio::test]
async fn admins_and_auditors_see_the_clients_helpdesk_and_people_without_a_role_do_not() {
    let app = spawn_app().await;
    app.rp("dpi").await;
    let mut admin = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let body = admin.get("/admin/clients").await.text().await.unwrap();
    assert!(body.contains("href=\"/admin/clients/dpi\""), "{body}");
    assert!(body.contains("href=\"/admin/clients/new\""));
    assert!(body.contains("<caption>") && body.contains("scope=\"col\""));

    let mut auditor = signed_in(&app, "audit", Some(AdminRole::Auditor)).await;
    let resp = auditor.get("/admin/clients").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("href=\"/admin/clients/dpi\""));
    assert!(
        !body.contains("/admin/clients/new"),
        "no creation for an auditor"
    );
    let resp = auditor.get("/admin/clients/dpi").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("https://dpi.example/cb"));
    assert!(!body.contains("<form method=\"post\""), "read only: {body}");

    let mut desk = signed_in(&app, "agent", Some(AdminRole::Helpdesk)).await;
    for path in ["/admin/clients", "/admin/clients/dpi", "/admin/clients/new"] {
        let resp = desk.get(path).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|r| r.reason.as_deref() == Some("role")
                && r.actor.as_deref() == Some("admin:agent"))
    );

    let mut nobody = signed_in(&app, "nurse", None).await;
    let resp = nobody.get("/admin/clients").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.audit("admin_access_refused").await.len(), 1);
}

#[tokio::test]
async fn an_admin_registers_a_confidential_client_and_sees_its_secret_once() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/new").await;
    let extra = [
        ("grant_client_credentials", "1"),
        ("scopes", "openid api.read"),
    ];
    let resp = b.post("/admin/clients/new", &new_form(&csrf, &extra)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let secret = secret_in(&resp.text().await.unwrap());
    assert_eq!(token_with(&app, "dpi", &secret).await.0, StatusCode::OK);

    let stored = clients::get(&app.state, "dpi").await.unwrap();
    let d = clients::describe(&stored);
    assert_eq!(
        d["redirect_uris"],
        json!(["https://dpi.chu.example/cb", "https://dpi.chu.example/cb2"])
    );
    assert_eq!(d["min_acr"], "loa2");
    assert_eq!(d["max_auth_age"], 3600);
    assert_eq!(d["signing_alg"], "ES256");
    assert_eq!(d["public"], false);
    assert!(stored.secret_rotated_at.is_some());
    // The page of the client never shows the secret again.
    let page = b.get("/admin/clients/dpi").await.text().await.unwrap();
    assert!(!page.contains(&secret));

    let actions = app.audit("admin_console_action").await;
    assert_eq!(actions.len(), 1);
    let d = details(&actions[0]);
    assert_eq!(actions[0].outcome, "success");
    assert_eq!(actions[0].client_id.as_deref(), Some("dpi"));
    assert_eq!(d["action"], "create_client");
    assert_eq!(d["before"], Value::Null);
    assert_eq!(d["after"]["client_id"], "dpi");
    assert!(!actions[0].details.as_deref().unwrap().contains(&secret));
    assert!(
        !actions[0]
            .details
            .as_deref()
            .unwrap()
            .contains("secret_hash")
    );
    assert_eq!(app.audit("client_created").await.len(), 1);
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_its_page_says_it_was_created() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/new").await;
    let extra = [
        ("client_id", "mobile"),
        ("kind", "public"),
        ("redirect_uris", "http://localhost:8080/cb"),
    ];
    let resp = b.post("/admin/clients/new", &new_form(&csrf, &extra)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/clients/mobile?done=created");
    let stored = clients::get(&app.state, "mobile").await.unwrap();
    assert_eq!(stored.public, 1);
    assert!(stored.secret_hash.is_none() && stored.secret_rotated_at.is_none());
    let page = b
        .get("/admin/clients/mobile?done=created")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("role=\"status\""));
    assert!(
        !page.contains("/rotate-secret"),
        "a public client has no secret to rotate"
    );
}

#[tokio::test]
async fn an_admin_edits_a_client_audited_with_before_and_after() {
    let app = spawn_app().await;
    let rp = machine(&app, "dpi").await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/dpi").await;
    let form = new_form(
        &csrf,
        &[
            ("client_id", "other"),
            ("name", "DPI v2"),
            ("grant_client_credentials", "1"),
            ("scopes", "openid api.read"),
            ("psc_broker", "1"),
            ("backchannel_logout_uri", "https://dpi.chu.example/logout"),
        ],
    );
    let resp = b.post("/admin/clients/dpi", &form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/clients/dpi?done=updated");
    let d = clients::describe(&clients::get(&app.state, "dpi").await.unwrap());
    assert_eq!(d["name"], "DPI v2");
    assert_eq!(d["psc_broker"], true);
    assert_eq!(
        d["backchannel_logout_uri"],
        "https://dpi.chu.example/logout"
    );
    assert!(
        clients::get(&app.state, "other").await.is_err(),
        "the id never changes"
    );
    // The secret is kept.
    let secret = rp.secret.unwrap();
    assert_eq!(token_with(&app, "dpi", &secret).await.0, StatusCode::OK);

    let actions = app.audit("admin_console_action").await;
    let d = details(&actions[0]);
    assert_eq!(d["action"], "update_client");
    assert_eq!(d["before"]["name"], "Application dpi");
    assert_eq!(d["after"]["name"], "DPI v2");
    assert_eq!(d["before"]["psc_broker"], false);
    assert_eq!(d["after"]["psc_broker"], true);
    assert!(!actions[0].details.as_deref().unwrap().contains(&secret));
}

#[tokio::test]
async fn bad_redirect_uris_come_back_with_the_values_typed_a_message_and_nothing_stored() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/new").await;
    let cases = [
        ("http://dpi.chu.example/cb", "uri_http", "https obligatoire"),
        (
            "https://dpi.chu.example/cb#frag",
            "uri_fragment",
            "pas de fragment",
        ),
        ("https://*.chu.example/cb", "uri_wildcard", "pas de joker"),
        ("/cb", "uri_not_absolute", "pas une URL absolue"),
        ("javascript:alert(1)", "uri_scheme", "seul le schéma https"),
        (
            "ftp://dpi.chu.example/cb",
            "uri_scheme",
            "seul le schéma https",
        ),
    ];
    for (n, (uri, code, message)) in cases.iter().enumerate() {
        let lines = format!("https://dpi.chu.example/ok\n{uri}");
        let form = new_form(&csrf, &[("redirect_uris", &lines), ("name", "Typed name")]);
        let resp = b.post("/admin/clients/new", &form).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(message), "{uri}: {body}");
        assert!(body.contains("id=\"redirect_uris-errors\""), "{uri}");
        assert!(body.contains("aria-invalid=\"true\""), "{uri}");
        assert!(
            body.contains("value=\"Typed name\""),
            "the values typed stay"
        );
        assert!(
            body.contains("https://dpi.chu.example/ok"),
            "the values typed stay"
        );
        assert!(
            clients::get(&app.state, "dpi").await.is_err(),
            "{uri}: nothing stored"
        );
        let refused = app.audit("admin_console_action").await;
        assert_eq!(refused.len(), n + 1);
        let last = refused
            .iter()
            .find(|r| details(r)["refused"][0]["code"] == *code);
        let last = last.unwrap_or_else(|| panic!("{uri}: no refusal audited with {code}"));
        assert_eq!(last.outcome, "failure");
        assert_eq!(last.reason.as_deref(), Some("invalid"));
        assert_eq!(details(last)["refused"][0]["field"], "redirect_uris");
    }
    // In English too; and several fields at once.
    let form = new_form(
        &csrf,
        &[
            ("redirect_uris", "http://dpi.chu.example/cb"),
            ("name", " "),
            ("max_auth_age", "soon"),
        ],
    );
    let resp = b.post("/admin/clients/new?lang=en", &form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = resp.text().await.unwrap();
    assert!(body.contains("https is required"), "{body}");
    assert!(body.contains("The name is required."));
    assert!(body.contains("id=\"max_auth_age-errors\""));
    assert_eq!(app.audit("client_created").await.len(), 0);
}

#[tokio::test]
async fn rotating_a_secret_shows_the_new_one_once_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let rp = machine(&app, "batch").await;
    let old = rp.secret.clone().unwrap();
    assert_eq!(token_with(&app, "batch", &old).await.0, StatusCode::OK);
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/batch").await;
    let resp = b
        .post("/admin/clients/batch/rotate-secret", &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let new = secret_in(&resp.text().await.unwrap());
    assert_ne!(new, old);
    assert_eq!(
        token_with(&app, "batch", &old).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    assert_eq!(token_with(&app, "batch", &new).await.0, StatusCode::OK);
    let actions = app.audit("admin_console_action").await;
    let d = details(&actions[0]);
    assert_eq!(d["action"], "rotate_client_secret");
    assert!(d["after"]["secret_rotated_at"].is_i64());
    let text = actions[0].details.as_deref().unwrap();
    assert!(!text.contains(&new) && !text.contains(&old));
    assert_eq!(app.audit("client_secret_rotated").await.len(), 1);
}

#[tokio::test]
async fn a_disabled_client_gets_no_token_nor_login_until_enabled_again() {
    let app = spawn_app().await;
    let rp = machine(&app, "dpi").await;
    let secret = rp.secret.clone().unwrap();
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/dpi").await;
    let resp = b
        .post("/admin/clients/dpi/disable", &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/clients/dpi?done=disable_client");
    assert_eq!(
        token_with(&app, "dpi", &secret).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let refused = app.audit("token_refused").await;
    assert_eq!(refused[0].reason.as_deref(), Some("client_disabled"));
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = app.browser().get(&url).await;
    let to = location(&resp);
    assert!(to.starts_with(&rp.redirect_uri), "{to}");
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("unauthorized_client")
    );
    let page = b.get("/admin/clients/dpi").await.text().await.unwrap();
    assert!(page.contains("/admin/clients/dpi/enable"));

    let resp = b
        .post("/admin/clients/dpi/enable", &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_with(&app, "dpi", &secret).await.0, StatusCode::OK);
    let actions = app.audit("admin_console_action").await;
    let mut seen: Vec<(String, Value, Value)> = actions
        .iter()
        .map(|r| {
            let d = details(r);
            (
                d["action"].as_str().unwrap().to_owned(),
                d["before"]["disabled"].clone(),
                d["after"]["disabled"].clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen[0],
        ("disable_client".into(), json!(false), json!(true))
    );
    assert_eq!(seen[1], ("enable_client".into(), json!(true), json!(false)));
}

#[tokio::test]
async fn an_auditor_forging_a_post_and_a_form_without_csrf_change_nothing() {
    let app = spawn_app().await;
    machine(&app, "dpi").await;
    let mut auditor = signed_in(&app, "audit", Some(AdminRole::Auditor)).await;
    let csrf = csrf_of(&mut auditor, "/admin/clients/dpi").await;
    for path in [
        "/admin/clients/dpi/disable",
        "/admin/clients/dpi/rotate-secret",
        "/admin/clients/dpi",
    ] {
        let resp = auditor
            .post(path, &new_form(&csrf, &[("name", "forged")]))
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let resp = auditor
        .post("/admin/clients/new", &new_form(&csrf, &[]))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 4);
    assert!(refused.iter().all(|r| r.reason.as_deref() == Some("role")));

    let mut admin = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    csrf_of(&mut admin, "/admin/clients/dpi").await;
    let resp = admin
        .post("/admin/clients/dpi/disable", &[("nothing", "x")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let stored = clients::get(&app.state, "dpi").await.unwrap();
    assert!(stored.disabled_at.is_none());
    assert_eq!(stored.name, "Application dpi");
    assert!(clients::get(&app.state, "new").await.is_err());
    let csrf_refused = app.audit("admin_console_action").await;
    assert_eq!(csrf_refused.len(), 1);
    assert_eq!(csrf_refused[0].reason.as_deref(), Some("csrf"));
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let url = app.url(&format!("/admin/api/v1{path}"));
    let mut req = app.http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_registers_changes_rotates_and_disables_clients() {
    let app = spawn_app().await;
    let admin = api_token(&app, "ops", &["trousseau:admin"]).await;
    let post = reqwest::Method::POST;
    let body = json!({
        "client_id": "batch", "name": "Batch", "grant_types": ["client_credentials"],
        "scopes": ["api.read"], "redirect_uris": [],
    });
    let (status, headers, created) = call(&app, post.clone(), "/clients", &admin, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(token_with(&app, "batch", &secret).await.0, StatusCode::OK);
    let (_, _, shown) = call(&app, reqwest::Method::GET, "/clients/batch", &admin, None).await;
    assert!(shown.get("client_secret").is_none());

    // Bad input: 422 naming the field; nothing stored.
    let bad =
        json!({ "client_id": "web", "name": "Web", "redirect_uris": ["http://web.example/cb"] });
    let (status, headers, problem) = call(&app, post.clone(), "/clients", &admin, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["field"], "redirect_uris");
    assert_eq!(problem["errors"][0]["code"], "uri_http");
    assert!(clients::get(&app.state, "web").await.is_err());

    let patch = json!({ "name": "Batch v2", "max_auth_age": 600 });
    let (status, _, patched) = call(
        &app,
        reqwest::Method::PATCH,
        "/clients/batch",
        &admin,
        Some(patch),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Batch v2");
    assert_eq!(patched["grant_types"], json!(["client_credentials"]));
    let put = json!({ "name": "Batch v3", "grant_types": ["client_credentials"], "scopes": ["api.read"] });
    let (status, _, replaced) = call(
        &app,
        reqwest::Method::PUT,
        "/clients/batch",
        &admin,
        Some(put),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["name"], "Batch v3");
    assert_eq!(replaced["max_auth_age"], Value::Null);
    assert_eq!(token_with(&app, "batch", &secret).await.0, StatusCode::OK);

    let (status, _, rotated) = call(
        &app,
        post.clone(),
        "/clients/batch/rotate-secret",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        token_with(&app, "batch", &secret).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(token_with(&app, "batch", &new).await.0, StatusCode::OK);

    let (status, _, disabled) =
        call(&app, post.clone(), "/clients/batch/disable", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(token_with(&app, "batch", &new).await.1, "invalid_client");
    let (_, _, enabled) = call(&app, post.clone(), "/clients/batch/enable", &admin, None).await;
    assert_eq!(enabled["disabled"], false);
    assert_eq!(token_with(&app, "batch", &new).await.0, StatusCode::OK);

    // The core functions audit each change with the API client as actor, never a secret.
    for kind in [
        "client_created",
        "client_updated",
        "client_secret_rotated",
        "client_disabled",
        "client_enabled",
    ] {
        let events = app.audit(kind).await;
        assert!(
            events.iter().any(|e| e.actor.as_deref() == Some("api:ops")),
            "{kind}"
        );
        for e in events {
            let text = e.details.unwrap_or_default();
            assert!(!text.contains(&secret) && !text.contains(&new), "{kind}");
        }
    }

    // Helpdesk and audit scopes may not change clients.
    let desk = api_token(&app, "desk", &["trousseau:helpdesk", "trousseau:audit"]).await;
    let (status, _, problem) = call(&app, post, "/clients/batch/disable", &desk, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "insufficient_scope");
}

#[tokio::test]
async fn a_change_after_a_stale_authentication_asks_to_sign_in_again_and_changes_nothing() {
    let app = spawn_app().await;
    let rp = machine(&app, "dpi").await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin)).await;
    let csrf = csrf_of(&mut b, "/admin/clients/dpi").await;
    app.clock
        .advance(app.state.settings.admin.reauth_idle_secs + 1);
    for path in [
        "/admin/clients/dpi/rotate-secret",
        "/admin/clients/dpi/disable",
    ] {
        let resp = b.post(path, &[("csrf", &csrf)]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&resp).contains("reason=reauth"),
            "{}",
            location(&resp)
        );
    }
    let secret = rp.secret.unwrap();
    assert_eq!(token_with(&app, "dpi", &secret).await.0, StatusCode::OK);
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 2);
    assert!(
        refused
            .iter()
            .all(|r| r.reason.as_deref() == Some("reauthentication_required"))
    );
    assert!(app.audit("admin_console_action").await.is_empty());
}

#[tokio::test]
async fn the_openapi_document_lists_the_client_operations() {
    let app = spawn_app().await;
    let url = app.url("/admin/api/v1/openapi.json");
    let doc: Value = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = &doc["paths"];
    assert!(paths["/admin/api/v1/clients"]["post"].is_object());
    assert!(paths["/admin/api/v1/clients/{id}"]["put"].is_object());
    assert!(paths["/admin/api/v1/clients/{id}"]["patch"].is_object());
    for action in ["rotate-secret", "disable", "enable"] {
        let path = format!("/admin/api/v1/clients/{{id}}/{action}");
        assert!(paths[path.as_str()]["post"].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["ClientBody"].is_object());
}
