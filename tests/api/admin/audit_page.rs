//! The console's audit page and the CSV export: the filters, the pages by cursor, the
//! messages for bad filters, who may read and who may export, the CSV itself (headers,
//! content, neutralised formulas, every row of the database) and the API's export.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde_json::Value;

use super::api::api_token;
use super::console::signed_in;
use crate::helpers::*;
use trousseau::authn::Method;
use trousseau::identity::AdminRole;
use trousseau::storage::audit::{AuditRecord, insert_batch};

/// A stored event: `marker` is its reason (unique, to find it on the page) and the end of its
/// id; `at` in Unix seconds.
fn event(marker: &str, at: i64, kind: &str) -> AuditRecord {
    AuditRecord {
        id: format!("0000-{at:012}-{marker}"),
        at,
        kind: kind.into(),
        outcome: "success".into(),
        reason: Some(marker.into()),
        actor: None,
        subject: None,
        client_id: None,
        source_ip: Some("10.1.2.3".into()),
        request_id: None,
        details: Some(format!("{{\"marker\":\"{marker}\"}}")),
    }
}

async fn store(app: &TestApp, events: &[AuditRecord]) {
    for chunk in events.chunks(500) {
        insert_batch(app.state.db.pool(), chunk).await.unwrap();
    }
}

/// The markers (reasons) shown on a page, in order.
fn markers(body: &str) -> Vec<String> {
    body.split("<tr class=\"event\">")
        .skip(1)
        .filter_map(|row| row.split("<td>").nth(4)?.split("</td>").next())
        .map(str::to_owned)
        .collect()
}

async fn page(b: &mut Browser, query: &str) -> (StatusCode, String) {
    let resp = b.get(&format!("/admin/audit?{query}")).await;
    (resp.status(), resp.text().await.unwrap())
}

/// 2026-12-07T00:00:00Z.
const DAY: i64 = 1_796_601_600;

#[tokio::test]
async fn every_role_reads_the_page_only_admin_and_auditor_see_the_export() {
    let app = spawn_app().await;
    for (user, role, export) in [
        ("chef", Some(AdminRole::Admin), true),
        ("agent", Some(AdminRole::Helpdesk), false),
        ("audit", Some(AdminRole::Auditor), true),
    ] {
        let mut b = signed_in(&app, user, role, Method::Card).await;
        let (status, body) = page(&mut b, "").await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert!(
            body.contains("<h1>Journal d&#39;audit</h1>")
                || body.contains("<h1>Journal d'audit</h1>"),
            "{body}"
        );
        assert!(body.contains("UTC") && !body.contains("<script"), "{user}");
        assert_eq!(body.contains("href=\"/admin/audit.csv?"), export, "{user}");
    }
    let mut nobody = signed_in(&app, "nurse", None, Method::Card).await;
    let (status, _) = page(&mut nobody, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = app.audit("admin_access_refused").await;
    assert_eq!(refused.len(), 1);
    let resp = nobody.get("/admin/audit.csv").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_filter_keeps_only_its_events() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "audit", Some(AdminRole::Auditor), Method::Card).await;
    let jdoe = app.create_user("jdoe", "Secret-1").await;
    let mut es = vec![
        event("m-login", DAY + 10, "login"),
        event("m-fail", DAY + 20, "login"),
        event("m-about", DAY + 30, "user_disabled"),
        event("m-by-console", DAY + 40, "admin_console_action"),
        event("m-by-id", DAY + 50, "token_issued"),
        event("m-client", DAY + 60, "token_issued"),
        event("m-later", DAY + 86_400 + 5, "login"),
    ];
    es[1].outcome = "failure".into();
    es[2].subject = Some(jdoe.clone());
    es[3].actor = Some("admin:jdoe".into());
    es[4].actor = Some(jdoe.clone());
    es[5].client_id = Some("dpi".into());
    es[6].client_id = Some("dpi".into());
    store(&app, &es).await;
    let all = [
        "m-later",
        "m-client",
        "m-by-id",
        "m-by-console",
        "m-about",
        "m-fail",
        "m-login",
    ];
    let cases: &[(&str, &[&str])] = &[
        ("", &all),
        ("kind=login", &["m-later", "m-fail", "m-login"]),
        ("outcome=failure", &["m-fail"]),
        ("outcome=success&kind=login", &["m-later", "m-login"]),
        ("person=jdoe", &["m-by-id", "m-by-console", "m-about"]),
        (
            &format!("person={jdoe}"),
            &["m-by-id", "m-by-console", "m-about"],
        ),
        ("person=admin%3Ajdoe", &["m-by-console"]),
        ("client_id=dpi", &["m-later", "m-client"]),
        ("from=2026-12-08", &["m-later"]),
        ("to=2026-12-07", &all[1..]),
        (
            "from=2026-12-07T00%3A00%3A30&to=2026-12-07T00%3A00%3A50",
            &["m-by-id", "m-by-console", "m-about"],
        ),
        ("kind=nothing_like_this", &[]),
    ];
    for (query, expected) in cases {
        let (status, body) = page(&mut b, query).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let shown: Vec<String> = markers(&body)
            .into_iter()
            .filter(|m| m.starts_with("m-"))
            .collect();
        assert_eq!(shown, *expected, "{query}");
    }
    // A subject that is an identity links to the person's page; the details are escaped.
    let (_, body) = page(&mut b, "kind=user_disabled").await;
    assert!(body.contains(&format!("<a href=\"/admin/identities/{jdoe}\">jdoe</a>")));
    assert!(
        body.contains("&quot;marker&quot;") || body.contains("&#34;marker&#34;"),
        "{body}"
    );
    // The known kinds are offered.
    assert!(body.contains("<option value=\"token_issued\">"));
}

#[tokio::test]
async fn older_events_follow_by_cursor_fifty_per_page_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "audit", Some(AdminRole::Auditor), Method::Card).await;
    // 120 events over 40 seconds: three in each second, so the cursor must break ties.
    let es: Vec<AuditRecord> = (0..120)
        .map(|n| event(&format!("p{n:03}"), DAY + n / 3, "paging"))
        .collect();
    store(&app, &es).await;
    let mut seen = Vec::new();
    let mut url = "/admin/audit?kind=paging".to_owned();
    let mut sizes = Vec::new();
    loop {
        let resp = b.get(&url).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.text().await.unwrap();
        let shown = markers(&body);
        sizes.push(shown.len());
        seen.extend(shown);
        match body.split("rel=\"next\" href=\"").nth(1) {
            Some(rest) => {
                url = rest
                    .split('"')
                    .next()
                    .unwrap()
                    .replace("&amp;", "&")
                    .replace("&#38;", "&");
                assert!(url.contains("kind=paging"), "{url}");
            }
            None => break,
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    let mut expected: Vec<String> = es.iter().map(|e| e.reason.clone().unwrap()).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn bad_filters_give_a_clear_message_are_audited_and_show_nothing() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    store(&app, &[event("m-one", DAY, "login")]).await;
    let cases = [
        ("from=07%2F12%2F2026", "Date illisible", "invalid_date"),
        ("to=2026-02-30", "Date illisible", "invalid_date"),
        ("outcome=maybe", "Résultat inconnu", "invalid_outcome"),
        (
            "from=2026-12-08&to=2026-12-07",
            "postérieure",
            "invalid_range",
        ),
        (
            "before=not-a-cursor",
            "Lien de page invalide",
            "invalid_cursor",
        ),
    ];
    for (query, message, _) in cases {
        let (status, body) = page(&mut b, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body.contains("role=\"alert\""), "{query}");
        assert!(body.contains(message), "{query}: {body}");
        assert!(markers(&body).is_empty(), "{query}");
    }
    let (_, body) = page(&mut b, "outcome=maybe&lang=en").await;
    assert!(body.contains("Unknown outcome"), "{body}");
    let refused = app.audit("admin_console_action").await;
    let mut reasons: Vec<&str> = refused.iter().filter_map(|r| r.reason.as_deref()).collect();
    reasons.sort();
    let mut expected: Vec<&str> = cases.iter().map(|c| c.2).collect();
    expected.push("invalid_outcome");
    expected.sort();
    assert_eq!(reasons, expected);
    assert!(refused.iter().all(|r| r.outcome == "failure"));
}

#[tokio::test]
async fn helpdesk_may_not_export_and_an_auditor_gets_a_named_csv_file() {
    let app = spawn_app().await;
    store(&app, &[event("m-one", DAY, "badge_read")]).await;
    let mut desk = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let resp = desk.get("/admin/audit.csv").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("role"));
    assert!(app.audit("audit_exported").await.is_empty());

    let mut b = signed_in(&app, "audit", Some(AdminRole::Auditor), Method::Card).await;
    let resp = b.get("/admin/audit.csv?kind=badge_read").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = resp.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    let name = disposition
        .strip_prefix("attachment; filename=\"audit-")
        .and_then(|n| n.strip_suffix(".csv\""))
        .unwrap_or_else(|| panic!("{disposition}"));
    assert!(
        name.len() == 15
            && name.as_bytes()[8] == b'-'
            && name.replace('-', "").bytes().all(|c| c.is_ascii_digit()),
        "{disposition}"
    );
    let body = resp.text().await.unwrap();
    let mut lines = body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,time_utc,kind,outcome,reason,actor,subject,client_id,source_ip,request_id,details"
        )
    );
    let row = lines.next().unwrap();
    assert!(
        row.contains(",2026-12-07T00:00:00Z,badge_read,success,m-one,"),
        "{row}"
    );
    assert!(
        row.ends_with(",\"{\"\"marker\"\":\"\"m-one\"\"}\""),
        "{row}"
    );
    assert_eq!(lines.next(), None);

    // Bad filters: the page with its message, the refusal audited, no file.
    let resp = b.get("/admin/audit.csv?outcome=maybe").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Résultat inconnu"));
    let exported = app.audit("audit_exported").await;
    let mut outcomes: Vec<(&str, Option<&str>)> = exported
        .iter()
        .map(|r| (r.outcome.as_str(), r.reason.as_deref()))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [("failure", Some("invalid_outcome")), ("success", None)]
    );
    let ok = exported.iter().find(|r| r.outcome == "success").unwrap();
    assert_eq!(ok.actor.as_deref(), Some("admin:audit"));
    let d: Value = serde_json::from_str(ok.details.as_deref().unwrap()).unwrap();
    assert_eq!(d["filters"]["kind"], "badge_read");
    assert_eq!(d["rows"], 1);
}

#[tokio::test]
async fn an_export_of_thousands_of_rows_is_every_row_of_the_database_with_formulas_neutralised() {
    let app = spawn_app().await;
    let mut es: Vec<AuditRecord> = (0..3_456)
        .map(|n| event(&format!("x{n:05}"), DAY + n / 7, "bulk"))
        .collect();
    let formulas = [
        "=HYPERLINK(\"http://x\")",
        "+33 1",
        "-1",
        "@SUM(A1)",
        "\tx",
        "\rx",
    ];
    for (n, f) in formulas.iter().enumerate() {
        es[n].actor = Some((*f).to_owned());
        es[n].client_id = Some(format!("{f}c"));
    }
    store(&app, &es).await;
    // An event of another kind stays out.
    store(&app, &[event("other", DAY, "login")]).await;
    let mut b = signed_in(&app, "chef", Some(AdminRole::Admin), Method::Card).await;
    let resp = b.get("/admin/audit.csv?kind=bulk").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), es.len());
    let mut expected = es.clone();
    expected.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
    for (row, e) in rows.iter().zip(&expected) {
        assert_eq!(&row[0], e.id);
        assert_eq!(&row[2], "bulk");
        assert_eq!(&row[4], e.reason.as_deref().unwrap());
        assert_eq!(&row[8], "10.1.2.3");
        assert_eq!(&row[10], e.details.as_deref().unwrap());
        if let Some(actor) = &e.actor {
            assert_eq!(row[5].to_owned(), format!("'{actor}"));
            assert_eq!(row[7].to_owned(), format!("'{actor}c"));
        }
    }
    let exported = app.audit("audit_exported").await;
    assert_eq!(exported.len(), 1);
    let d: Value = serde_json::from_str(exported[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(d["rows"], es.len());
}

#[tokio::test]
async fn the_api_exports_with_the_audit_or_admin_scope_only() {
    let app = spawn_app().await;
    store(
        &app,
        &[
            event("m-one", DAY, "login"),
            event("m-two", DAY + 1, "logout"),
        ],
    )
    .await;
    let auditor = api_token(&app, "audit", &["trousseau:audit"]).await;
    let desk = api_token(&app, "desk", &["trousseau:helpdesk"]).await;
    let get = |token: &str, query: &str| {
        app.http
            .get(app.url(&format!("/admin/api/v1/audit/export{query}")))
            .bearer_auth(token)
            .send()
    };
    let resp = get(&auditor, "?kind=logout").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        resp.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"audit-")
    );
    let body = resp.text().await.unwrap();
    assert_eq!(body.lines().count(), 2, "{body}");
    assert!(body.contains(",m-two,") && !body.contains(",m-one,"));

    let resp = get(&desk, "").await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = get(&auditor, "?outcome=maybe").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/problem+json");
    let resp = get(&auditor, "?since=20&until=10").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let exported = app.audit("audit_exported").await;
    let ok: Vec<_> = exported.iter().filter(|r| r.outcome == "success").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].actor.as_deref(), Some("api:audit"));
    assert_eq!(exported.len(), 3);

    let doc: Value = app
        .http
        .get(app.url("/admin/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/admin/api/v1/audit/export"]["get"].is_object());
}
