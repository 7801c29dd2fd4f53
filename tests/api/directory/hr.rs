//! HR import: create, update, no duplicates, departures, bad lines; the HR drop folder and the
//! job lease.

use reqwest::StatusCode;
use secrecy::SecretString;
use trousseau::clock::Clock;
use trousseau::directory::hr::{self, iso_date};
use trousseau::directory::sync::{self, JobOutcome};
use trousseau::identity::Status;
use trousseau::storage::{identities, leases};

use crate::helpers::{TestApp, error_code, login_tokens, spawn_app, spawn_app_with, wait};

const HEADER: &str =
    "matricule;nom;prenom;date_naissance;email;service;date_arrivee;date_depart;idnat";
const PW: &str = "correct horse battery staple";

fn csv(lines: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s.into_bytes()
}

async fn import(app: &TestApp, lines: &[&str]) -> hr::HrReport {
    hr::import_bytes(&app.state.repository(), "test.csv", &csv(lines), "test")
        .await
        .expect("HR import runs")
}

#[tokio::test]
async fn import_creates_updates_and_never_duplicates() {
    let app = spawn_app().await;
    let first = import(
        &app,
        &[
            "E001;Dupont;Jean;1980-02-01;jean.dupont@chu.example;Cardiologie;2020-01-01;;",
            "E002;Dupont;Julie;;;Urgences;01/03/2021;;",
            "E003;;Nobody;;;;;;",
            "E004;Faure;Luc;1990-13-01;;;;;",
            "E001;Dupont;Jean;;;;;;",
        ],
    )
    .await;
    assert_eq!((first.run.created, first.run.rejected), (2, 3), "{first:?}");
    let lines: Vec<u64> = first.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![4, 5, 6], "{:?}", first.issues);
    assert!(first.issues[0].reason.contains("family name"));
    assert!(first.issues[1].reason.contains("birth date"));
    assert!(first.issues[2].reason.contains("already seen"));

    let jean = identities::by_employee_number(app.state.db.pool(), "E001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jean.username, "jdupont");
    assert_eq!(jean.department.as_deref(), Some("Cardiologie"));
    let julie = identities::by_employee_number(app.state.db.pool(), "E002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        julie.username, "jdupont2",
        "homonyms get a numbered username"
    );
    assert_eq!(julie.hr_arrival.as_deref(), Some("2021-03-01"));

    let second = import(
        &app,
        &[
            "E001;Dupont;Jean;1980-02-01;jean.dupont@chu.example;Réanimation;2020-01-01;;",
            "E002;Dupont;Julie;;;Urgences;01/03/2021;;",
        ],
    )
    .await;
    assert_eq!(
        (second.run.created, second.run.updated, second.run.unchanged),
        (0, 1, 1)
    );
    let all = identities::list(app.state.db.pool()).await.unwrap();
    assert_eq!(all.len(), 2, "no duplicates");
    let jean = identities::by_id(app.state.db.pool(), &jean.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jean.department.as_deref(), Some("Réanimation"));
    assert_eq!(app.audit("hr_identity_created").await.len(), 2);
    let updated = app.audit("hr_identity_updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(app.audit("hr_import").await.len(), 2);
    let runs = trousseau::storage::hr::runs(app.state.db.pool(), 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
}

#[tokio::test]
async fn a_file_missing_a_mapped_column_is_refused_naming_it() {
    let app = spawn_app().await;
    let err = hr::import_bytes(
        &app.state.repository(),
        "x.csv",
        b"matricule;prenom\nE1;Jean\n",
        "test",
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("nom") && text.contains("hr.columns.family_name"),
        "{text}"
    );
    assert!(
        identities::list(app.state.db.pool())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn column_mapping_and_delimiter_come_from_configuration() {
    let app = spawn_app_with(
        "[hr]\ndelimiter = \",\"\n[hr.columns]\nemployee_number = \"Matricule RH\"\n\
         given_name = \"First\"\nfamily_name = \"Last\"\nbirth_date = \"\"\nemail = \"\"\n\
         department = \"\"\narrival = \"\"\ndeparture = \"Out\"\nidnat = \"\"\n",
    )
    .await;
    let body = "\u{feff}Matricule RH,Last,First,Out\r\nX9,Léger,Émile,\r\n";
    let r = hr::import_bytes(&app.state.repository(), "x.csv", body.as_bytes(), "test")
        .await
        .unwrap();
    assert_eq!(r.run.created, 1, "{r:?}");
    let i = identities::by_employee_number(app.state.db.pool(), "X9")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (i.username.as_str(), i.given_name.as_str()),
        ("eleger", "Émile")
    );
}

#[tokio::test]
async fn a_past_departure_marks_left_and_revokes_a_live_refresh_token() {
    let app = spawn_app().await;
    let dpi = app.rp("dpi").await;
    import(
        &app,
        &["E100;Martin;Alice;;alice@chu.example;;2020-01-01;;"],
    )
    .await;
    trousseau::admin::users::set_password(&app.state, "amartin", SecretString::from(PW), "test")
        .await
        .unwrap();
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "amartin", PW).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let yesterday = iso_date(app.clock.now() - 86_400);
    let line = format!("E100;Martin;Alice;;alice@chu.example;;2020-01-01;{yesterday};");
    let r = import(&app, &[line.as_str()]).await;
    assert_eq!((r.run.updated, r.run.departed), (1, 1), "{r:?}");
    let alice = identities::by_username(app.state.db.pool(), "amartin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.status, Status::Left);
    assert_eq!(alice.status_reason.as_deref(), Some("hr_departure"));

    let resp = app
        .post_form(
            "/token",
            Some(&dpi),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
    let left = app.audit("user_left").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].reason.as_deref(), Some("hr_departure"));
    assert!(
        app.audit("logout")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("identity_left"))
    );

    // A future departure does nothing until the clock reaches it.
    let soon = iso_date(app.clock.now() + 2 * 86_400);
    import(&app, &[&format!("E200;Petit;Marc;;;;;{soon};")]).await;
    let marc = identities::by_employee_number(app.state.db.pool(), "E200")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marc.status, Status::Active);
    app.clock.advance(3 * 86_400);
    let today = iso_date(app.clock.now());
    assert_eq!(
        hr::apply_departures(&app.state.repository(), &today, "test")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn an_idnat_from_hr_links_the_identity() {
    let app = spawn_app().await;
    let r = import(
        &app,
        &[
            "E1;Dupont;Jean;;;;;;810001045367",
            "E2;Durand;Paul;;;;;;810001045367",
        ],
    )
    .await;
    assert_eq!(r.run.created, 2);
    assert_eq!(r.warnings.len(), 1, "the second link is refused: {r:?}");
    let jean = identities::by_employee_number(app.state.db.pool(), "E1")
        .await
        .unwrap()
        .unwrap();
    let link = trousseau::storage::links::of_identity(app.state.db.pool(), &jean.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.idnat, "810001045367");
}

#[tokio::test]
async fn the_drop_folder_is_imported_and_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&format!(
        "[sync.hr]\nfolder = \"{}\"\ninterval_secs = 3600\n",
        dir.path().display()
    ))
    .await;
    std::fs::write(dir.path().join("rh-1.csv"), csv(&["E1;Dupont;Jean;;;;;;"])).unwrap();
    std::fs::write(dir.path().join("rh-2.csv"), b"nothing useful\n").unwrap();
    // `serve` runs the job at start-up too: whichever node wins, the files are handled once.
    let out = wait::value("the HR job lease", || async {
        let out = sync::run_hr_once(&app.state.repository(), "node-a")
            .await
            .unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    assert_ne!(out, JobOutcome::Busy);
    assert!(dir.path().join("done/rh-1.csv").exists());
    assert!(dir.path().join("failed/rh-2.csv").exists());
    assert!(!dir.path().join("rh-1.csv").exists());
    assert_eq!(
        sync::run_hr_once(&app.state.repository(), "node-a")
            .await
            .unwrap(),
        JobOutcome::Unchanged
    );
}

#[tokio::test]
async fn one_node_at_a_time_holds_a_job_lease() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&format!(
        "[sync]\nlease_secs = 60\n[sync.hr]\nfolder = \"{}\"\ninterval_secs = 3600\n",
        dir.path().display()
    ))
    .await;
    let pool = app.state.db.pool();
    let now = app.clock.now();
    // `serve` runs the job at start-up: wait until its lease is given back.
    let got = wait::value("the HR job lease given back", || async {
        leases::acquire(pool, sync::HR_JOB, "node-a", now, 60)
            .await
            .unwrap()
            .then_some(true)
    })
    .await;
    assert!(got);
    assert!(
        !leases::acquire(pool, sync::HR_JOB, "node-b", now, 60)
            .await
            .unwrap()
    );
    assert!(
        leases::acquire(pool, sync::HR_JOB, "node-a", now + 1, 60)
            .await
            .unwrap(),
        "renewal"
    );
    assert_eq!(
        sync::run_hr_once(&app.state.repository(), "node-b")
            .await
            .unwrap(),
        JobOutcome::Busy
    );
    app.clock.advance(120);
    assert!(
        leases::acquire(pool, sync::HR_JOB, "node-b", app.clock.now(), 60)
            .await
            .unwrap(),
        "an expired lease is taken over"
    );
    leases::release(pool, sync::HR_JOB, "node-b").await.unwrap();
    assert_ne!(
        sync::run_hr_once(&app.state.repository(), "node-a")
            .await
            .unwrap(),
        JobOutcome::Busy
    );
}

/// Runs the binary on the database of `app`; (success, stdout, stderr).
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trousseau.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[secrets]\nmaster_key_file = \"{}\"\n\
             [password]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n",
            app.database_url,
            app.state.settings.secrets.master_key_file.display()
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.arg("--config")
        .arg(&config)
        .args(args)
        .current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().await.expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_imports_hr_links_and_reports() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec!["E1;Dupont;Jean;;;;;;".to_owned()];
    lines.extend((0..25).map(|n| format!("X{n};;Nobody;;;;;;")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let file = dir.path().join("rh.csv");
    std::fs::write(&file, csv(&refs)).unwrap();
    let (ok, out, err) = cli(&app, &["hr", "import", file.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("1 created") && out.contains("25 rejected"),
        "{out}"
    );
    assert!(err.contains("line 3: skipped: no family name"), "{err}");
    assert!(err.contains("and 5 more skipped lines"), "{err}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, csv(&["X;;Nobody;;;;;;"])).unwrap();
    let (ok, _, err) = cli(&app, &["hr", "import", bad.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(err.contains("nothing was imported"), "{err}");
    let (ok, _, err) = cli(&app, &["hr", "import", "/nonexistent/rh.csv"]).await;
    assert!(!ok && err.contains("cannot read the HR file"), "{err}");

    let (ok, out, err) = cli(&app, &["user", "link-rpps", "jdupont", "810001045367"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("\"method\":\"admin\""), "{out}");
    let (ok, out, _) = cli(&app, &["user", "show", "jdupont", "--json"]).await;
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["rpps_link"]["idnat"], "810001045367");
    assert_eq!(shown["employee_number"], "E1");
    let (ok, _, err) = cli(&app, &["user", "link-rpps", "jdupont", "8123"]).await;
    assert!(!ok && err.contains("not an IdNat"), "{err}");

    let (ok, out, err) = cli(&app, &["rpps", "report", "--refresh", "--format", "json"]).await;
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report[0]["category"], "linked_idnat_unknown", "{report}");
    assert_eq!(report[0]["user"], "jdupont");
    let (ok, out, _) = cli(&app, &["rpps", "report", "--format", "csv"]).await;
    assert!(
        ok && out.starts_with("category,user,idnat,first_seen,detail"),
        "{out}"
    );

    let (ok, out, err) = cli(&app, &["user", "unlink-rpps", "jdupont"]).await;
    assert!(ok && out.contains("810001045367"), "{err}");
}

/// The unix time of `hh:mm` on `date` in Paris.
fn paris(date: jiff::civil::Date, hour: i8, minute: i8) -> i64 {
    date.at(hour, minute, 0, 0)
        .in_tz("Europe/Paris")
        .unwrap()
        .timestamp()
        .as_second()
}

/// The status of the password login form submitted for `user` (303 when it passed).
async fn password_login(app: &TestApp, rp: &crate::helpers::Rp, user: &str) -> StatusCode {
    let mut b = app.browser();
    let (url, _) = crate::helpers::authorize_url(app, rp, &[]);
    let resp = b.get(&url).await;
    let (_, location) = b.follow(resp).await;
    b.submit_login(&location, user, PW).await.status()
}

#[tokio::test]
async fn a_future_arrival_is_pending_until_that_day_in_the_establishment_time_zone() {
    // HR sync off (no folder): the HR dates job runs on its own, every second here.
    let app = spawn_app_with("[sync.hr_dates]\ninterval_secs = 1\n").await;
    let dpi = app.rp("dpi").await;
    let today = jiff::Timestamp::from_second(app.clock.now())
        .unwrap()
        .in_tz("Europe/Paris")
        .unwrap()
        .date();
    let day = today.checked_add(jiff::Span::new().days(3)).unwrap();
    let eve = day.yesterday().unwrap();
    let r = import(
        &app,
        &[
            &format!("E300;Arrive;Anne;;;;{day};;"),
            &format!("E301;Part;Paul;;;;2020-01-01;{day};"),
        ],
    )
    .await;
    assert_eq!(r.run.created, 2, "{r:?}");
    for user in ["aarrive", "ppart"] {
        trousseau::admin::users::set_password(&app.state, user, SecretString::from(PW), "test")
            .await
            .unwrap();
    }

    // Pending, visible to administrators, and no login.
    let (ok, out, err) = cli(&app, &["user", "show", "aarrive", "--json"]).await;
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["status"], "pending", "{shown}");
    assert_eq!(shown["status_reason"], "hr_arrival");
    assert_eq!(shown["hr_arrival"], day.to_string());
    let (ok, out, _) = cli(&app, &["user", "list"]).await;
    assert!(ok && out.contains("pending"), "{out}");
    assert_eq!(
        password_login(&app, &dpi, "aarrive").await,
        StatusCode::FORBIDDEN
    );
    // The person is told why, and the refusal has its own reason.
    assert!(
        app.audit("login")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("account_pending"))
    );
    assert_eq!(
        password_login(&app, &dpi, "ppart").await,
        StatusCode::SEE_OTHER
    );

    // 23:30 in Paris on the eve: nothing changes.
    let status = |user: &'static str| {
        let pool = app.state.db.pool().clone();
        async move {
            identities::by_username(&pool, user)
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };
    app.clock.advance(paris(eve, 23, 30) - app.clock.now());
    // One run of the job at that time (once the node's own run gives its lease back).
    let out = wait::value("the HR dates job lease", || async {
        let out = sync::run_hr_dates_once(&app.state.repository(), "node-test")
            .await
            .unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    assert_eq!(out, JobOutcome::Unchanged);
    assert_eq!(status("aarrive").await, Status::Pending);
    assert_eq!(status("ppart").await, Status::Active);
    assert_ne!(
        password_login(&app, &dpi, "aarrive").await,
        StatusCode::SEE_OTHER
    );

    // 00:30 in Paris on the day (still the eve in UTC): the job alone applies both dates.
    app.clock.advance(3600);
    wait::until("the arrival applied by the job", || async {
        status("aarrive").await == Status::Active
    })
    .await;
    assert_eq!(status("aarrive").await, Status::Active);
    wait::until("the departure applied by the job", || async {
        status("ppart").await == Status::Left
    })
    .await;
    assert_eq!(status("ppart").await, Status::Left);
    let mut browser = app.browser();
    let tokens = login_tokens(&app, &mut browser, &dpi, "aarrive", PW).await;
    assert!(tokens["id_token"].is_string());
    assert_ne!(
        password_login(&app, &dpi, "ppart").await,
        StatusCode::SEE_OTHER
    );
    let enabled = app.audit("user_enabled").await;
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].reason.as_deref(), Some("hr_arrival"));
    assert_eq!(enabled[0].actor.as_deref(), Some("hr_dates"));
}
