//! The console's synchronisation page: what each role sees, a run started from the console
//! (under the job's lease, audited), a run's progress page, the reconciliation report with its
//! filters, pages and CSV export, and the dashboard's summary.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::Value;

use super::api::api_token;
use crate::directory::ldap::ldap_toml;
use crate::helpers::peers::slapd::Slapd;
use crate::helpers::*;
use trousseau::authn::Method;
use trousseau::clock::Clock;
use trousseau::directory::sync::HR_JOB;
use trousseau::identity::AdminRole;
use trousseau::storage::directory as directory_store;
use trousseau::storage::findings::{self, FindingRecord};
use trousseau::storage::hr::{self as hr_store, HrRunRecord};
use trousseau::storage::leases;

const CSRF: &str = "__Host-trousseau_csrf";
const HEADER: &str =
    "matricule;nom;prenom;date_naissance;email;service;date_arrivee;date_depart;idnat";

/// An app watching an HR drop folder, once its start-up run of the HR job is over.
async fn app_with_hr_folder() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&format!(
        "[sync.hr]\nfolder = \"{}\"\ninterval_secs = 3600\n",
        dir.path().display()
    ))
    .await;
    let (pool, now) = (app.state.db.pool().clone(), app.clock.now());
    wait::until("the start-up HR job to give its lease back", || async {
        leases::holder(&pool, HR_JOB, now).await.unwrap().is_none()
            && !hr_store::runs(&pool, 1)
                .await
                .unwrap()
                .iter()
                .any(|r| r.status == "running")
    })
    .await;
    // The start-up run may still be about to take the lease (its database connection can be
    // slow to come): hold the lease a moment, so that it finds the job busy and skips.
    wait::until("the HR lease", || async {
        leases::acquire(&pool, HR_JOB, "test", now, 60)
            .await
            .unwrap()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    leases::release(&pool, HR_JOB, "test").await.unwrap();
    (app, dir)
}

/// Waits until no run holds the HR job's lease (a run's row ends before its job does).
async fn hr_lease_free(app: &TestApp) {
    let (pool, now) = (app.state.db.pool().clone(), app.clock.now());
    wait::until("the HR job to give its lease back", || async {
        leases::holder(&pool, HR_JOB, now).await.unwrap().is_none()
    })
    .await;
}

/// Starts the HR job from the console and answers where the browser goes: tried again while
/// a run holds the lease (the start-up run of `serve`, on a slow machine).
async fn start_hr(b: &mut Browser, csrf: &str) -> String {
    let deadline = std::time::Instant::now() + wait::LIMIT;
    loop {
        let resp = b.post("/admin/sync/hr/run", &[("csrf", csrf)]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let to = location(&resp);
        if to != "/admin/sync?notice=busy" || std::time::Instant::now() > deadline {
            return to;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A browser signed in with a card (loa3) as `user`, with `role` if any.
async fn signed_in(app: &TestApp, user: &str, role: Option<AdminRole>) -> Browser {
    super::console::signed_in(app, user, role, Method::Card).await
}

/// Opens the synchronisation page; its body and the CSRF token.
async fn sync_page(b: &mut Browser) -> (String, String) {
    let resp = b.get("/admin/sync").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    (body, b.cookies.get(CSRF).cloned().expect("a CSRF cookie"))
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

/// The console actions audited with `action`.
async fn actions(app: &TestApp, action: &str) -> Vec<trousseau::storage::audit::AuditRecord> {
    app.audit("admin_console_action")
        .await
        .into_iter()
        .filter(|r| details(r)["action"] == action)
        .collect()
}

#[tokio::test]
async fn every_role_sees_the_runs_and_only_admin_may_start_one() {
    let (app, _dir) = app_with_hr_folder().await;
    let cases = [
        ("dsi", Some(AdminRole::Admin), true),
        ("agent", Some(AdminRole::Helpdesk), false),
        ("controle", Some(AdminRole::Auditor), false),
    ];
    for (user, role, buttons) in cases {
        let mut b = signed_in(&app, user, role).await;
        let (body, csrf) = sync_page(&mut b).await;
        assert!(
            body.contains("Exports RH") && body.contains("Annuaire"),
            "{user}"
        );
        assert!(!body.contains("<script"), "{user}");
        assert_eq!(
            body.contains("Lancer maintenant"),
            buttons,
            "{user}: {body}"
        );
        assert!(
            body.contains("Non configurée"),
            "RPPS has no source: {user}"
        );
        if buttons {
            continue;
        }
        // A forged form: refused by role, audited, nothing started.
        let resp = b.post("/admin/sync/hr/run", &[("csrf", &csrf)]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{user}");
    }
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 2);
    assert!(
        refused
            .iter()
            .all(|r| details(r)["action"] == "sync_run" && r.subject.as_deref() == Some("sync:hr"))
    );
    assert!(
        hr_store::runs(app.state.db.pool(), 1)
            .await
            .unwrap()
            .is_empty()
    );

    // A loa3 session without a role: no page at all.
    let mut b = signed_in(&app, "nurse", None).await;
    assert_eq!(b.get("/admin/sync").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/admin/sync/findings").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_run_started_from_the_console_imports_the_drop_folder_and_shows_its_result() {
    let (app, dir) = app_with_hr_folder().await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Admin)).await;
    let lines = format!("{HEADER}\nE1;Dupont;Jean;;;;;;\nE2;Durand;Anne;;;;;;\nE3;;;;;;;;\n");
    std::fs::write(dir.path().join("rh-1.csv"), lines).unwrap();
    let (_, csrf) = sync_page(&mut b).await;
    let to = start_hr(&mut b, &csrf).await;
    let id = to
        .strip_prefix("/admin/sync/runs/hr/")
        .unwrap_or_else(|| panic!("the run's page: {to}"))
        .to_owned();

    let pool = app.state.db.pool().clone();
    let run = wait::value("the run to end", || async {
        hr_store::run(&pool, &id)
            .await
            .unwrap()
            .filter(|r| r.status != "running")
    })
    .await;
    assert_eq!(run.status, "succeeded");
    assert_eq!((run.lines, run.created, run.rejected), (3, 2, 1));
    assert!(dir.path().join("done/rh-1.csv").exists());

    let body = b.get(&to).await.text().await.unwrap();
    assert!(
        body.contains("réussie") && body.contains("créées"),
        "{body}"
    );
    assert!(
        !body.contains("http-equiv=\"refresh\""),
        "an ended run stops reloading"
    );
    let (page, _) = sync_page(&mut b).await;
    assert!(page.contains(&to), "the run is listed: {page}");

    let audited: Vec<_> = actions(&app, "sync_run")
        .await
        .into_iter()
        .filter(|r| r.outcome == "success")
        .collect();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].subject.as_deref(), Some("sync:hr"));
    assert_eq!(details(&audited[0])["after"]["run"], id.as_str());
    assert!(details(&audited[0])["before"]["last_run"].is_null());

    // Nothing left in the folder: the run ends without a new import, and says so.
    hr_lease_free(&app).await;
    assert_eq!(start_hr(&mut b, &csrf).await, "/admin/sync?notice=nothing");
    let body = b
        .get("/admin/sync?notice=nothing")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("sans nouvelle importation"), "{body}");
}

#[tokio::test]
async fn a_start_while_a_run_holds_the_lease_is_refused_with_a_message() {
    let (app, dir) = app_with_hr_folder().await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Admin)).await;
    let pool = app.state.db.pool();
    wait::until("the lease for node-b", || async {
        leases::acquire(pool, HR_JOB, "node-b", app.clock.now(), 600)
            .await
            .unwrap()
    })
    .await;
    std::fs::write(
        dir.path().join("rh-1.csv"),
        format!("{HEADER}\nE1;Dupont;Jean;;;;;;\n"),
    )
    .unwrap();
    let (_, csrf) = sync_page(&mut b).await;
    let resp = b.post("/admin/sync/hr/run", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/admin/sync?notice=busy");
    let body = b.get("/admin/sync?notice=busy").await.text().await.unwrap();
    assert!(
        body.contains("role=\"alert\"") && body.contains("détient déjà le verrou"),
        "{body}"
    );
    assert!(dir.path().join("rh-1.csv").exists(), "nothing imported");
    assert!(hr_store::runs(pool, 1).await.unwrap().is_empty());
    let audited = actions(&app, "sync_run").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(
        (audited[0].outcome.as_str(), audited[0].reason.as_deref()),
        ("failure", Some("busy"))
    );
    // The other node's lease is untouched.
    assert_eq!(
        leases::holder(pool, HR_JOB, app.clock.now()).await.unwrap(),
        Some("node-b".to_owned())
    );
}

#[tokio::test]
async fn starts_are_refused_without_csrf_without_configuration_and_without_recent_login() {
    let (app, _dir) = app_with_hr_folder().await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Admin)).await;
    let (_, csrf) = sync_page(&mut b).await;

    let resp = b.post("/admin/sync/hr/run", &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let csrf_refused = app.audit("admin_console_action").await;
    assert_eq!(csrf_refused.len(), 1);
    assert_eq!(csrf_refused[0].reason.as_deref(), Some("csrf"));

    let cases = [
        ("/admin/sync/rpps/run", "/admin/sync?notice=not_configured"),
        (
            "/admin/sync/directory/run",
            "/admin/sync?notice=not_configured",
        ),
    ];
    for (url, expected) in cases {
        let resp = b.post(url, &[("csrf", &csrf), ("mode", "full")]).await;
        assert_eq!(location(&resp), expected, "{url}");
    }
    let body = b
        .get("/admin/sync?notice=not_configured")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("Non configurée : rien ne peut"), "{body}");
    let refused = actions(&app, "sync_run").await;
    assert_eq!(refused.len(), 2);
    assert!(
        refused
            .iter()
            .all(|r| r.reason.as_deref() == Some("not_configured"))
    );
    let resp = b.post("/admin/sync/nothing/run", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    app.clock
        .advance(app.state.settings.admin.reauth_idle_secs + 1);
    let resp = b.post("/admin/sync/hr/run", &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).contains("reason=reauth"),
        "{}",
        location(&resp)
    );
    assert!(
        hr_store::runs(app.state.db.pool(), 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_running_run_shows_its_progress_and_reloads_itself() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "controle", Some(AdminRole::Auditor)).await;
    let now = app.clock.now();
    let run = HrRunRecord {
        id: "0190d5a4-0000-7000-8000-000000000001".into(),
        source: "/srv/rh/export.csv".into(),
        started_at: now - 75,
        lines: 1200,
        created: 30,
        updated: 900,
        unchanged: 260,
        rejected: 10,
        status: "running".into(),
        ..HrRunRecord::default()
    };
    hr_store::insert_run(app.state.db.pool(), &run)
        .await
        .unwrap();
    let url = format!("/admin/sync/runs/hr/{}", run.id);
    let body = b.get(&url).await.text().await.unwrap();
    assert!(
        body.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
        "{body}"
    );
    assert!(body.contains("aria-live=\"polite\""));
    assert!(
        body.contains("en cours") && body.contains("1 min 15 s"),
        "{body}"
    );
    assert!(
        body.contains("<dd>1200</dd>") && body.contains("<dd>900</dd>"),
        "{body}"
    );
    assert!(body.contains(&format!("href=\"{url}\"")), "a reload link");

    let done = HrRunRecord {
        finished_at: now,
        status: "failed".into(),
        error: Some("cannot apply the departures".into()),
        ..run.clone()
    };
    hr_store::update_run(app.state.db.pool(), &done)
        .await
        .unwrap();
    let body = b.get(&url).await.text().await.unwrap();
    assert!(!body.contains("http-equiv=\"refresh\""));
    assert!(body.contains("échouée") && body.contains("cannot apply the departures"));
    let body = b.get("/admin/sync/runs/hr/unknown?lang=en").await;
    assert_eq!(body.status(), StatusCode::NOT_FOUND);
}

async fn page(b: &mut Browser, q: &str) -> String {
    let url = format!("/admin/sync/findings?{q}");
    b.get(&url).await.text().await.unwrap()
}

async fn finding(app: &TestApp, n: usize, category: &str, identity: Option<&str>, idnat: &str) {
    let f = FindingRecord {
        id: format!("0190d5a4-0000-7000-8000-{n:012}"),
        category: category.into(),
        identity_id: identity.map(str::to_owned),
        idnat: Some(idnat.into()),
        detail: "{\"rpps\":{\"last_name\":\"DUPONT\"}}".into(),
        first_seen: app.clock.now(),
        seen_at: app.clock.now(),
    };
    let mut tx = app.state.db.begin().await.unwrap();
    findings::insert(&mut tx, &f).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_reconciliation_report_filters_pages_and_exports_safe_csv() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "controle", Some(AdminRole::Auditor)).await;
    let jean = app.create_user("jdupont", "Secret-1").await;
    finding(&app, 1, "linked_idnat_unknown", Some(&jean), "810001045367").await;
    finding(&app, 2, "changed", None, "=HYPERLINK(\"x\")").await;
    for n in 0..55 {
        finding(
            &app,
            100 + n,
            "onboarding_candidate",
            None,
            &format!("8100{n:08}"),
        )
        .await;
    }

    let body = page(&mut b, "category=linked_idnat_unknown").await;
    assert!(
        body.contains("jdupont") && body.contains("810001045367"),
        "{body}"
    );
    assert!(!body.contains("81000000000"), "{body}");
    let body = page(&mut b, "person=JDUP").await;
    assert!(
        body.contains("810001045367") && !body.contains("HYPERLINK"),
        "{body}"
    );
    let body = page(&mut b, "person=8100010").await;
    assert!(body.contains("810001045367"));

    let first = page(&mut b, "category=onboarding_candidate").await;
    assert_eq!(first.matches("<td>81000").count(), 50, "{first}");
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = b.get(&next).await.text().await.unwrap();
    assert_eq!(second.matches("<td>81000").count(), 5);
    assert!(!second.contains("rel=\"next\""));

    let resp = b.get("/admin/sync/findings.csv").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "category,user,idnat,first_seen,detail");
    assert_eq!(lines.len(), 1 + 57, "every finding, over several chunks");
    assert!(
        csv.contains("changed,,\"'=HYPERLINK(\"\"x\"\")\""),
        "a formula is neutralised: {csv}"
    );
    assert!(csv.contains("linked_idnat_unknown,jdupont,810001045367,"));
    let only = b
        .get("/admin/sync/findings.csv?category=changed")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(only.lines().count(), 2, "{only}");
    let exports = actions(&app, "findings_export").await;
    assert_eq!(exports.len(), 2);

    // The dashboard counts what is left to handle, by category.
    let dash = b.get("/admin").await.text().await.unwrap();
    assert!(
        dash.contains("Constats de rapprochement à traiter"),
        "{dash}"
    );
    assert!(
        dash.contains("professionnel à accueillir</td><td class=\"num\">55"),
        "{dash}"
    );
    assert!(dash.contains("href=\"/admin/sync/findings\""));
}

#[tokio::test]
async fn the_dashboard_shows_the_last_run_of_each_synchronisation() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk)).await;
    let run = HrRunRecord {
        id: "0190d5a4-0000-7000-8000-000000000009".into(),
        source: "rh.csv".into(),
        started_at: app.clock.now(),
        finished_at: app.clock.now(),
        lines: 3,
        created: 3,
        status: "succeeded".into(),
        ..HrRunRecord::default()
    };
    hr_store::insert_run(app.state.db.pool(), &run)
        .await
        .unwrap();
    let dash = b.get("/admin?lang=en").await.text().await.unwrap();
    assert!(dash.contains("Last synchronisations"), "{dash}");
    assert!(
        dash.contains(&format!("/admin/sync/runs/hr/{}", run.id))
            && dash.contains("succeeded")
            && dash.contains("3 created"),
        "{dash}"
    );
    assert!(dash.contains("No run yet."), "RPPS and directory never ran");
}

#[tokio::test]
async fn a_full_directory_sync_started_from_the_console_runs_as_the_cli_does() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("ehugo", "Secret-8", "Emma", "Hugo", Some("E2001"))
        .await;
    s.add_user("fgide", "Secret-9", "Felix", "Gide", Some("E2002"))
        .await;
    let app = spawn_app_with(&ldap_toml(&s, &[&s.ldaps_url], "")).await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Admin)).await;
    let (body, csrf) = sync_page(&mut b).await;
    assert!(
        body.contains("Lancer une synchronisation complète")
            && body.contains("Lancer une synchronisation incrémentale"),
        "{body}"
    );
    let resp = b
        .post(
            "/admin/sync/directory/run",
            &[("csrf", &csrf), ("mode", "full")],
        )
        .await;
    let to = location(&resp);
    let id = to
        .strip_prefix("/admin/sync/runs/directory/")
        .unwrap_or_else(|| panic!("the run's page: {to}"))
        .to_owned();
    let pool = app.state.db.pool().clone();
    let run = wait::value("the directory run to end", || async {
        directory_store::run(&pool, &id)
            .await
            .unwrap()
            .filter(|r| r.finished_at.is_some())
    })
    .await;
    assert_eq!(run.mode, "full");
    assert_eq!(
        (run.seen, run.created, run.error.as_deref()),
        (2, 2, None),
        "{run:?}"
    );
    let body = b.get(&to).await.text().await.unwrap();
    assert!(
        body.contains("réussie") && body.contains("complète") && body.contains("comptes lus"),
        "{body}"
    );
    let audited = actions(&app, "sync_run").await;
    assert_eq!(details(&audited[0])["after"]["mode"], "full");
}

async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    let resp = app
        .http
        .request(method, app.url(&format!("/admin/api/v1{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_lists_runs_starts_one_under_the_lease_and_pages_findings() {
    use reqwest::Method;
    let (app, dir) = app_with_hr_folder().await;
    let admin = api_token(&app, "ops", &["trousseau:admin"]).await;
    let audit = api_token(&app, "controle", &["trousseau:audit"]).await;
    std::fs::write(
        dir.path().join("rh-1.csv"),
        format!("{HEADER}\nE1;Dupont;Jean;;;;;;\n"),
    )
    .unwrap();

    let (status, body) = api(&app, Method::POST, "/sync/hr/run", &audit).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = wait::value("a start once the start-up run is over", || async {
        let (status, body) = api(&app, Method::POST, "/sync/hr/run", &admin).await;
        (status != StatusCode::CONFLICT).then_some((status, body))
    })
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "started");
    let id = body["run"].as_str().unwrap().to_owned();
    let pool = app.state.db.pool().clone();
    wait::until("the run to end", || async {
        hr_store::run(&pool, &id)
            .await
            .unwrap()
            .is_some_and(|r| r.status == "succeeded")
    })
    .await;
    let (status, body) = api(&app, Method::GET, "/sync/runs?kind=hr", &audit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["id"], id.as_str());
    assert_eq!(body["items"][0]["counts"]["created"], 1);
    let (status, _) = api(&app, Method::GET, "/sync/runs?limit=500", &audit).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Another node holds the lease: 409, nothing started.
    hr_lease_free(&app).await;
    wait::until("the lease for node-b", || async {
        leases::acquire(&pool, HR_JOB, "node-b", app.clock.now(), 600)
            .await
            .unwrap()
    })
    .await;
    let (status, body) = api(&app, Method::POST, "/sync/hr/run", &admin).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("busy"))
    );
    let (status, body) = api(&app, Method::POST, "/sync/rpps/run", &admin).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_configured"))
    );
    let requested = app.audit("sync_run_requested").await;
    for reason in [None, Some("busy"), Some("not_configured")] {
        assert!(
            requested.iter().any(|r| r.reason.as_deref() == reason),
            "{reason:?}"
        );
    }

    for n in 0..3 {
        finding(
            &app,
            n,
            "onboarding_candidate",
            None,
            &format!("8100{n:08}"),
        )
        .await;
    }
    let (status, first) = api(&app, Method::GET, "/findings?limit=2", &audit).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = api(
        &app,
        Method::GET,
        &format!("/findings?limit=2&cursor={cursor}"),
        &audit,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["items"][0]["idnat"], "810000000002");
    let (status, _) = api(&app, Method::GET, "/findings?cursor=forged", &audit).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, doc) = api(&app, Method::GET, "/openapi.json", &audit).await;
    for path in [
        "/admin/api/v1/sync/runs",
        "/admin/api/v1/sync/{kind}/run",
        "/admin/api/v1/findings",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

#[tokio::test]
async fn an_rpps_import_started_from_the_console_skips_an_unchanged_source() {
    use crate::directory::rpps::{line, write};
    use trousseau::storage::rpps as rpps_store;
    let dir = tempfile::tempdir().unwrap();
    let first = vec![line("810000000011", "DUPONT", "JEAN", "10", "750712184")];
    let path = write(dir.path(), "rpps.txt", &first);
    let app = spawn_app_with(&format!(
        "[sync.rpps]\nsource = \"{}\"\ninterval_secs = 86400\n",
        path.display()
    ))
    .await;
    // `serve` imports the source at start-up.
    let (pool, now) = (app.state.db.pool().clone(), app.clock.now());
    wait::until("the start-up RPPS import", || async {
        leases::holder(&pool, "rpps_sync", now)
            .await
            .unwrap()
            .is_none()
            && rpps_store::runs(&pool, 1)
                .await
                .unwrap()
                .iter()
                .any(|r| r.status == "succeeded")
    })
    .await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Admin)).await;
    let (_, csrf) = sync_page(&mut b).await;
    let runs_before = rpps_store::runs(&pool, 10).await.unwrap().len();
    let resp = b.post("/admin/sync/rpps/run", &[("csrf", &csrf)]).await;
    match location(&resp).as_str() {
        "/admin/sync?notice=nothing" => {}
        // The console waits 3 s for the job's verdict; on a loaded machine it may still be
        // reading the source: then it must end without recording a run all the same.
        "/admin/sync?notice=started" => {
            wait::until("the job to give its lease back", || async {
                leases::holder(&pool, "rpps_sync", now)
                    .await
                    .unwrap()
                    .is_none()
            })
            .await;
        }
        other => panic!("an unchanged source: {other}"),
    }
    assert_eq!(
        rpps_store::runs(&pool, 10).await.unwrap().len(),
        runs_before
    );

    let second = vec![
        first[0].clone(),
        line("810000000022", "MARTIN", "ANNE", "10", "750712184"),
    ];
    write(dir.path(), "rpps.txt", &second);
    let resp = b.post("/admin/sync/rpps/run", &[("csrf", &csrf)]).await;
    let to = location(&resp);
    let id = to
        .strip_prefix("/admin/sync/runs/rpps/")
        .unwrap_or_else(|| panic!("the run's page: {to}"))
        .to_owned();
    let run = wait::value("the RPPS run to end", || async {
        rpps_store::run(&pool, &id)
            .await
            .unwrap()
            .filter(|r| r.status != "running")
    })
    .await;
    assert_eq!(
        (run.status.as_str(), run.added),
        ("succeeded", 1),
        "{run:?}"
    );
    let body = b.get(&to).await.text().await.unwrap();
    assert!(
        body.contains("réussie") && body.contains("ajoutés"),
        "{body}"
    );
}
