//! The console's pairings page: the list, its filters (the injected clock makes a pairing
//! expire) and its pages, revoking from the list (refusals, CSRF, roles), the CSV export, the
//! dashboard's figures, and the admin API's pairings.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

use super::api::api_token;
use crate::helpers::*;
use trousseau::admin::roles;
use trousseau::admin::users::{self, NewUser};
use trousseau::audit::RequestContext;
use trousseau::authn::Method;
use trousseau::identity::AdminRole;
use trousseau::storage::pairings::{self, PairingRecord};

const CSRF: &str = "__Host-trousseau_csrf";
const DAY: i64 = 86_400;

/// A browser with a card session (loa3) of a new person holding `role`, if any.
async fn admin(app: &TestApp, user: &str, role: Option<AdminRole>) -> Browser {
    let id = person(app, user, "Claire", "Agent").await;
    if let Some(role) = role {
        roles::add(&app.state, user, role, "test").await.unwrap();
    }
    super::console::browser_of(app, &id, Method::Card).await
}

async fn person(app: &TestApp, username: &str, given: &str, family: &str) -> String {
    let new = NewUser {
        username: username.into(),
        given_name: given.into(),
        family_name: family.into(),
        email: None,
        password: None,
    };
    users::create(&app.state, new, "test").await.unwrap().id
}

/// A pairing of a new person `username` with `idnat`, validated `age` seconds ago and
/// expiring in `left` seconds (at the server's clock), revoked when `revoked`.
pub(super) async fn paired(
    app: &TestApp,
    username: &str,
    idnat: &str,
    age: i64,
    left: i64,
) -> PairingRecord {
    let id = person(app, username, "Jean", &format!("Nom-{username}")).await;
    let now = app.state.clock.now();
    let p = PairingRecord {
        id: format!("pairing-{username}"),
        identity_id: id,
        idnat: idnat.into(),
        means: "ciba".into(),
        validated_at: now - age,
        expires_at: now + left,
        status: "active".into(),
        created_link: 0,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
        acr: Some("eidas1".into()),
    };
    let mut tx = app.state.db.begin().await.unwrap();
    pairings::insert(&mut tx, &p).await.unwrap();
    tx.commit().await.unwrap();
    p
}

async fn revoked(app: &TestApp, username: &str, idnat: &str, reason: &str) -> PairingRecord {
    let p = paired(app, username, idnat, 3 * DAY, 300 * DAY).await;
    let ctx = RequestContext::default();
    trousseau::admin::pairings::revoke(&app.state, &p.id, "cli", reason, &ctx)
        .await
        .unwrap();
    p
}

pub(super) async fn status_of(app: &TestApp, id: &str) -> String {
    let p = pairings::by_id(app.state.db.pool(), id).await.unwrap();
    p.unwrap().status
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

/// Opens the list (setting the CSRF cookie) and answers the token.
async fn open_list(b: &mut Browser) -> String {
    let resp = b.get("/admin/pairings").await;
    assert_eq!(resp.status(), StatusCode::OK);
    b.cookies.get(CSRF).cloned().expect("a CSRF cookie")
}

const IDNATS: [&str; 4] = [
    "810000000011",
    "810000000022",
    "810000000033",
    "810000000044",
];

#[tokio::test]
async fn the_list_filters_by_status_and_expiry_at_the_injected_clock() {
    let app = spawn_app().await;
    paired(&app, "alain", IDNATS[0], 10 * DAY, 200 * DAY).await;
    paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    revoked(&app, "cesar", IDNATS[2], "lost phone").await;
    paired(&app, "denise", IDNATS[3], 8 * DAY, 3600).await;
    // Two hours later, Denise's pairing has expired.
    app.clock.advance(2 * 3600);
    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;

    let cases: [(&str, &[usize]); 7] = [
        ("", &[0, 1, 2, 3]),
        ("status=all", &[0, 1, 2, 3]),
        ("status=active", &[0, 1]),
        ("status=expired", &[3]),
        ("status=revoked", &[2]),
        ("expiring_within_days=30", &[1]),
        ("status=active&expiring_within_days=7", &[]),
    ];
    for (query, expected) in cases {
        let resp = b.get(&format!("/admin/pairings?{query}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{query}");
        let body = resp.text().await.unwrap();
        for (n, idnat) in IDNATS.iter().enumerate() {
            assert_eq!(
                body.contains(idnat),
                expected.contains(&n),
                "{query}: {idnat}"
            );
        }
        if expected.is_empty() {
            assert!(body.contains("Aucun appairage ne correspond."), "{query}");
        }
    }
    let body = b.get("/admin/pairings").await.text().await.unwrap();
    // The person links to their page; the expiry says how far off it is; an auditor sees
    // no form.
    assert!(body.contains("href=\"/admin/identities/"), "{body}");
    assert!(body.contains("NOM-BERTHE Jean") && body.contains("berthe"));
    assert!(body.contains("dans 10 jours"), "{body}");
    assert!(body.contains("expiré") && body.contains("révoqué") && body.contains("eidas1"));
    assert!(body.contains("href=\"/admin/pairings?expiring_within_days=30\""));
    assert!(!body.contains("/revoke\""), "no form for an auditor");
    assert!(!body.contains("<script") && !body.contains("style="));

    for bad in [
        "status=bogus",
        "expiring_within_days=12",
        "expiring_within_days=x",
    ] {
        let resp = b.get(&format!("/admin/pairings?{bad}&lang=en")).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("invalid filters"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn the_list_shows_50_pairings_a_page_by_cursor() {
    let app = spawn_app().await;
    for n in 0..55 {
        let idnat = format!("8100000{n:05}");
        paired(&app, &format!("pro{n:02}"), &idnat, 1000 - n, 100 * DAY).await;
    }
    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;
    let first = b
        .get("/admin/pairings?status=active")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(first.matches("<td>pro").count(), 50);
    // Newest first: the last created is validated the latest.
    assert!(first.find("<td>pro54</td>").unwrap() < first.find("<td>pro53</td>").unwrap());
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        next.contains("status=active") && next.contains("cursor="),
        "{next}"
    );
    let second = b.get(&next).await.text().await.unwrap();
    assert_eq!(second.matches("<td>pro").count(), 5);
    assert!(second.contains("<td>pro00</td>") && !second.contains("<td>pro05</td>"));
    assert!(!second.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_helpdesk_revokes_from_the_list_audited_with_before_and_after() {
    let app = spawn_app().await;
    let p = paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    let mut b = admin(&app, "agent", Some(AdminRole::Helpdesk)).await;
    let csrf = open_list(&mut b).await;
    let page = b.get("/admin/pairings").await.text().await.unwrap();
    assert!(page.contains(&format!("/admin/pairings/{}/revoke", p.id)));
    assert!(page.contains(&format!("<label for=\"reason-{}\">", p.id)));

    let url = format!("/admin/pairings/{}/revoke", p.id);
    let form = [
        ("csrf", csrf.as_str()),
        ("reason", "téléphone perdu"),
        ("status", "active"),
    ];
    let resp = b.post(&url, &form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert_eq!(to, "/admin/pairings?status=active&done=revoke_pairing");
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains("Appairage révoqué."), "{page}");

    let after = pairings::by_id(app.state.db.pool(), &p.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, "revoked");
    assert_eq!(after.revoked_by.as_deref(), Some("admin:agent"));
    assert_eq!(after.revoked_reason.as_deref(), Some("téléphone perdu"));
    let actions = app.audit("admin_console_action").await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].outcome, "success");
    assert_eq!(actions[0].actor.as_deref(), Some("admin:agent"));
    assert_eq!(actions[0].subject.as_deref(), Some(p.identity_id.as_str()));
    let d = details(&actions[0]);
    assert_eq!(d["action"], "revoke_pairing");
    assert_eq!(d["before"]["status"], "active");
    assert_eq!(d["after"]["status"], "revoked");
    assert_eq!(d["after"]["sessions_ended"], 0);
    assert_eq!(app.audit("pairing_revoked").await.len(), 1);
}

#[tokio::test]
async fn refused_revocations_say_why_are_audited_and_change_nothing() {
    let app = spawn_app().await;
    let live = paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    let gone = revoked(&app, "cesar", IDNATS[2], "lost phone").await;
    let mut b = admin(&app, "chief", Some(AdminRole::Admin)).await;
    let csrf = open_list(&mut b).await;
    let long = "x".repeat(201);
    // An overlong id names no pairing.
    let long_id = format!("{}{}", live.id, "x".repeat(70));
    let cases = [
        (live.id.as_str(), "", "reason_missing", "indiquez un motif"),
        (
            live.id.as_str(),
            "   ",
            "reason_missing",
            "indiquez un motif",
        ),
        (
            live.id.as_str(),
            long.as_str(),
            "reason_missing",
            "indiquez un motif",
        ),
        (
            "no-such-pairing",
            "erreur",
            "pairing_unknown",
            "cet appairage n&#39;existe pas",
        ),
        (
            long_id.as_str(),
            "erreur",
            "pairing_unknown",
            "cet appairage n&#39;existe pas",
        ),
        (
            gone.id.as_str(),
            "encore",
            "already_revoked",
            "déjà révoqué",
        ),
    ];
    for (id, reason, code, message) in cases {
        let url = format!("/admin/pairings/{id}/revoke");
        let resp = b.post(&url, &[("csrf", &csrf), ("reason", reason)]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{code}");
        let to = location(&resp);
        assert_eq!(to, format!("/admin/pairings?error={code}"));
        let page = b.get(&to).await.text().await.unwrap();
        let page = page.replace("&#x27;", "&#39;").replace('\'', "&#39;");
        assert!(page.contains(message), "{code}: {page}");
        assert!(page.contains("role=\"alert\""));
    }
    assert_eq!(status_of(&app, &live.id).await, "active");
    let gone_now = pairings::by_id(app.state.db.pool(), &gone.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone_now.revoked_reason.as_deref(), Some("lost phone"));
    let refused = app.audit("admin_console_action").await;
    assert_eq!(refused.len(), cases.len());
    let mut reasons: Vec<&str> = refused
        .iter()
        .map(|r| {
            assert_eq!(r.outcome, "failure");
            r.reason.as_deref().unwrap()
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "already_revoked",
            "pairing_unknown",
            "pairing_unknown",
            "reason_missing",
            "reason_missing",
            "reason_missing"
        ]
    );
    // The earlier revocation only.
    assert_eq!(app.audit("pairing_revoked").await.len(), 1);
}

#[tokio::test]
async fn a_revocation_without_its_csrf_token_is_refused() {
    let app = spawn_app().await;
    let p = paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    let mut b = admin(&app, "agent", Some(AdminRole::Helpdesk)).await;
    open_list(&mut b).await;
    let url = format!("/admin/pairings/{}/revoke", p.id);
    let resp = b.post(&url, &[("reason", "test")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = b
        .post(
            &url,
            &[
                ("csrf", "forged-token-of-forty-characters-xxxxxxx"),
                ("reason", "test"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &p.id).await, "active");
    let refused = app.audit("admin_console_action").await;
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|r| r.reason.as_deref() == Some("csrf")));
}

#[tokio::test]
async fn an_auditor_sees_the_list_but_a_forged_revocation_gets_403() {
    let app = spawn_app().await;
    let p = paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;
    let csrf = open_list(&mut b).await;
    let url = format!("/admin/pairings/{}/revoke", p.id);
    let resp = b.post(&url, &[("csrf", &csrf), ("reason", "test")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &p.id).await, "active");
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("role"));
    assert_eq!(details(&refused[0])["action"], "revoke_pairing");
    assert!(app.audit("admin_console_action").await.is_empty());

    // Admins see the forms; a loa3 session without a role sees nothing.
    let mut chief = admin(&app, "chief", Some(AdminRole::Admin)).await;
    let page = chief.get("/admin/pairings").await.text().await.unwrap();
    assert!(page.contains(&format!("/admin/pairings/{}/revoke", p.id)));
    let mut nurse = admin(&app, "nurse", None).await;
    for path in ["/admin/pairings", "/admin/pairings.csv"] {
        assert_eq!(
            nurse.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let resp = nurse.post(&url, &[("csrf", &csrf), ("reason", "x")]).await;
    assert_ne!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&app, &p.id).await, "active");
}

#[tokio::test]
async fn the_csv_export_streams_the_filtered_rows_with_formulas_neutralised() {
    let app = spawn_app().await;
    paired(&app, "alain", IDNATS[0], 10 * DAY, 200 * DAY).await;
    let evil = person(&app, "evil", "@SUM(A1)", "=HYPERLINK(\"http://x\")").await;
    let now = app.state.clock.now();
    let p = PairingRecord {
        id: "pairing-evil".into(),
        identity_id: evil,
        idnat: IDNATS[1].into(),
        means: "redirect".into(),
        validated_at: now - DAY,
        expires_at: now + DAY,
        status: "active".into(),
        created_link: 0,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
        acr: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    pairings::insert(&mut tx, &p).await.unwrap();
    tx.commit().await.unwrap();
    revoked(&app, "cesar", IDNATS[2], "-1+1").await;

    for role in [AdminRole::Auditor, AdminRole::Helpdesk, AdminRole::Admin] {
        let mut b = admin(&app, &format!("x{}", role.as_str()), Some(role)).await;
        let resp = b.get("/admin/pairings.csv").await;
        assert_eq!(resp.status(), StatusCode::OK, "{role:?}");
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            resp.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"trousseau-pairings.csv\""
        );
        let csv = resp.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(lines[0].starts_with("id,username,family_name,given_name,idnat,status"));
        let evil_line = lines.iter().find(|l| l.contains("pairing-evil")).unwrap();
        assert!(
            evil_line.contains(",\"'=HYPERLINK(\"\"http://x\"\")\",'@SUM(A1),"),
            "{evil_line}"
        );
        assert!(csv.contains(",'-1+1"), "{csv}");
        assert!(!csv.contains(",=") && !csv.contains(",@") && !csv.contains(",-"));
    }

    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;
    let csv = b
        .get("/admin/pairings.csv?status=revoked")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(IDNATS[2]) && csv.contains(",revoked,"));
    let resp = b.get("/admin/pairings.csv?status=bogus").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let exports = app.audit("admin_console_export").await;
    assert_eq!(exports.len(), 4);
    let revoked_export = exports
        .iter()
        .map(details)
        .find(|d| d["filters"]["status"] == "revoked")
        .expect("the filtered export");
    assert_eq!(revoked_export["export"], "pairings");
    assert_eq!(revoked_export["rows"], 1);
    assert_eq!(
        revoked_export["filters"]["expiring_within_days"],
        Value::Null
    );
    assert!(exports.iter().any(|e| details(e)["rows"] == 3));
    assert!(
        exports
            .iter()
            .any(|e| e.actor.as_deref() == Some("admin:audit"))
    );
}

#[tokio::test]
async fn the_dashboard_counts_pairings_and_links_to_those_expiring() {
    let app = spawn_app().await;
    paired(&app, "alain", IDNATS[0], 10 * DAY, 200 * DAY).await;
    paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    revoked(&app, "cesar", IDNATS[2], "lost phone").await;
    paired(&app, "denise", IDNATS[3], 8 * DAY, 3600).await;
    app.clock.advance(2 * 3600);
    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;
    let body = b.get("/admin").await.text().await.unwrap();
    for (id, n) in [
        ("pairings-expiring", 1),
        ("pairings-active", 2),
        ("pairings-expired", 1),
        ("pairings-revoked", 1),
    ] {
        assert!(
            body.contains(&format!("<dd id=\"{id}\">{n}</dd>")),
            "{id}: {body}"
        );
    }
    assert!(body.contains("href=\"/admin/pairings?expiring_within_days=30\""));
}

pub(super) async fn call(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = app.url(&format!("/admin/api/v1{path}"));
    let req = match body {
        Some(b) => app.http.post(url).json(&b),
        None => app.http.get(url),
    };
    let resp = req.bearer_auth(token).send().await.unwrap();
    let status = resp.status();
    if !status.is_success() {
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/problem+json");
    }
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_api_lists_pairings_by_cursor_and_the_helpdesk_revokes_one() {
    let app = spawn_app().await;
    paired(&app, "alain", IDNATS[0], 10 * DAY, 200 * DAY).await;
    let b = paired(&app, "berthe", IDNATS[1], 9 * DAY, 10 * DAY).await;
    let c = revoked(&app, "cesar", IDNATS[2], "lost phone").await;
    paired(&app, "denise", IDNATS[3], 8 * DAY, 3600).await;
    app.clock.advance(2 * 3600);
    let audit = api_token(&app, "siem", &["trousseau:audit"]).await;
    let helpdesk = api_token(&app, "desk", &["trousseau:helpdesk"]).await;

    let (status, page) = call(&app, &audit, "/pairings?limit=3", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = call(
        &app,
        &audit,
        &format!("/pairings?limit=3&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let mut seen: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|p| p["idnat"].as_str().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, IDNATS);

    let cases = [
        ("/pairings?status=expired", vec![IDNATS[3]]),
        ("/pairings?status=revoked", vec![IDNATS[2]]),
        ("/pairings?expiring_within_days=30", vec![IDNATS[1]]),
    ];
    for (path, expected) in cases {
        let (status, page) = call(&app, &helpdesk, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let got: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["idnat"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "{path}");
    }
    let (_, page) = call(&app, &audit, "/pairings?status=expired", None).await;
    assert_eq!(page["items"][0]["status"], "expired");
    assert_eq!(page["items"][0]["username"], "denise");
    for bad in [
        "status=bogus",
        "limit=0",
        "limit=501",
        "cursor=!!",
        "expiring_within_days=0",
        "colour=red",
    ] {
        let (status, problem) = call(&app, &audit, &format!("/pairings?{bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(problem["code"], "invalid_request");
    }

    // Revoking: the audit scope may not; the helpdesk may, once.
    let path = format!("/pairings/{}/revoke", b.id);
    let reason = json!({ "reason": "wrong person" });
    let (status, problem) = call(&app, &audit, &path, Some(reason.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "insufficient_scope");
    assert_eq!(status_of(&app, &b.id).await, "active");
    let refusals = [
        (
            path.clone(),
            json!({ "reason": " " }),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            path.clone(),
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/pairings/nope/revoke".into(),
            reason.clone(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/pairings/{}/revoke", c.id),
            reason.clone(),
            StatusCode::CONFLICT,
            "conflict",
        ),
    ];
    for (path, body, expected, code) in refusals {
        let (status, problem) = call(&app, &helpdesk, &path, Some(body)).await;
        assert_eq!(
            (status, problem["code"].as_str().unwrap()),
            (expected, code),
            "{path}"
        );
    }
    assert_eq!(status_of(&app, &b.id).await, "active");
    let (status, done) = call(&app, &helpdesk, &path, Some(reason.clone())).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["pairing"]["status"], "revoked");
    assert_eq!(done["pairing"]["revoked_by"], "api:desk");
    assert_eq!(done["pairing"]["username"], "berthe");
    assert_eq!(done["sessions_ended"], 0);
    let (status, _) = call(&app, &helpdesk, &path, Some(reason)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let events = app.audit("pairing_revoked").await;
    assert!(
        events
            .iter()
            .any(|e| e.actor.as_deref() == Some("api:desk"))
    );

    let (_, doc) = call(&app, &audit, "/openapi.json", None).await;
    assert!(doc["paths"]["/admin/api/v1/pairings"]["get"].is_object());
    assert!(doc["paths"]["/admin/api/v1/pairings/{id}/revoke"]["post"].is_object());
}

#[tokio::test]
async fn the_csv_export_reads_past_its_first_chunk_without_repeats() {
    let app = spawn_app().await;
    for n in 0..510 {
        let idnat = format!("8100000{n:05}");
        paired(&app, &format!("pro{n:03}"), &idnat, 1000 - n, 100 * DAY).await;
    }
    let mut b = admin(&app, "audit", Some(AdminRole::Auditor)).await;
    let csv = b.get("/admin/pairings.csv").await.text().await.unwrap();
    let mut ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 510);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 510);
    let exports = app.audit("admin_console_export").await;
    assert_eq!(details(&exports[0])["rows"], 510);
}
