//! Directory login and sync against a real OpenLDAP `slapd` (one per test): the full OIDC
//! flow, refusals, throttling, failover, TLS, StartTLS, `ldap test`, password change through
//! the password-policy control, and full/incremental sync with nested groups and roles.

use reqwest::StatusCode;

use crate::helpers::peers::slapd::Slapd;
use crate::helpers::*;
use trousseau::directory::ldap::{SyncOptions, sync};
use trousseau::identity::Status;
use trousseau::ldap::check;
use trousseau::storage::directory as store;

/// `[ldap]` settings for `s`, with `servers` and extra lines.
pub(crate) fn ldap_toml(s: &Slapd, servers: &[&str], extra: &str) -> String {
    let servers: Vec<String> = servers.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[ldap]\nservers = [{}]\nkind = \"openldap\"\nca_file = \"{}\"\nservice_dn = \"{}\"\n\
         service_password = \"{}\"\nuser_base = \"{}\"\nuser_filter = \"(objectClass=inetOrgPerson)\"\n\
         group_base = \"{}\"\ngroup_filter = \"(objectClass=groupOfNames)\"\nconnect_timeout_ms = 1000\n\
         timeout_ms = 3000\n{extra}\n[ldap.attributes]\nunique_id = \"entryUUID\"\n\
         [ldap.roles]\n\"soignants\" = \"soignant\"\n[sync.ldap]\nenabled = false\n",
        servers.join(", "),
        s.ca_file.display(),
        s.admin_dn,
        s.admin_password,
        s.people_dn,
        s.groups_dn
    )
}

/// A port nobody listens on.
/// A directory URL where nothing listens. Port 1 (tcpmux) is privileged and unused: a port
/// picked free and released could be taken by another test's server in the meantime.
fn dead_url() -> String {
    "ldaps://127.0.0.1:1".to_owned()
}

async fn app_for(s: &Slapd, extra: &str) -> TestApp {
    spawn_app_with(&ldap_toml(s, &[&s.ldaps_url], extra)).await
}

/// A relying party that may ask for `roles`.
async fn dpi(app: &TestApp) -> Rp {
    let mut spec = app.spec(&format!("dpi-{}", uuid::Uuid::new_v4().simple()));
    spec.scopes.push("roles".into());
    app.register(spec).await
}

/// An authorization URL with `scope` instead of the default one.
fn url_with_scope(app: &TestApp, rp: &Rp, scope: &str) -> (String, String) {
    let (url, verifier) = authorize_url(app, rp, &[]);
    let url = url.replace(
        "scope=openid+profile+email",
        &format!("scope={}", scope.replace(' ', "+")),
    );
    (url, verifier)
}

async fn login_page(app: &TestApp, b: &mut Browser, rp: &Rp) -> (String, String) {
    let (url, verifier) = url_with_scope(app, rp, "openid profile roles");
    let resp = b.get(&url).await;
    let (_, login) = b.follow(resp).await;
    assert!(login.contains("/login?"), "{login}");
    (login, verifier)
}

async fn failed_login(app: &TestApp, user: &str, pw: &str) -> (StatusCode, String) {
    let rp = dpi(app).await;
    let mut b = app.browser();
    let (login, _) = login_page(app, &mut b, &rp).await;
    let resp = b.submit_login(&login, user, pw).await;
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

fn reasons(events: &[trousseau::storage::audit::AuditRecord]) -> Vec<String> {
    events.iter().filter_map(|e| e.reason.clone()).collect()
}

#[tokio::test]
async fn directory_login_through_the_code_flow_gives_a_password_level_token() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let group_member = s
        .add_user("jdupont", "Secret-1", "Jean", "Dupont", Some("E1001"))
        .await;
    let inner = s.add_group("urgences", &[&group_member]).await;
    s.add_group("soignants", &[&inner]).await;
    let app = app_for(&s, "").await;
    let rp = dpi(&app).await;
    let mut b = app.browser();
    let (url, verifier) = url_with_scope(&app, &rp, "openid profile roles");
    // The UPN works as a login too.
    let back = authorize(&mut b, &url, Some(("jdupont@chu.local", "Secret-1"))).await;
    let code = query_param(&back, "code").expect("a code");
    let tokens: serde_json::Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["acr"], "loa1");
    // Provisioned at first login, with the directory's names.
    let identity =
        trousseau::storage::identities::by_id(app.state.db.pool(), id["sub"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (identity.username.as_str(), identity.family_name.as_str()),
        ("jdupont", "Dupont")
    );
    let logins = app.audit("login").await;
    let ok = logins.iter().find(|e| e.outcome == "success").unwrap();
    let details = ok.details.clone().unwrap_or_default();
    assert!(details.contains("directory_password"), "{details}");
    // The sync resolves the nested group into the role; the next token carries it.
    let run = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!((run.mode.as_str(), run.created, run.linked), ("full", 0, 0));
    assert_eq!(run.updated, 1, "{run:?}");
    let mut b2 = app.browser();
    let (url, verifier) = url_with_scope(&app, &rp, "openid profile roles");
    let back = authorize(&mut b2, &url, Some(("jdupont", "Secret-1"))).await;
    let code = query_param(&back, "code").unwrap();
    let tokens: serde_json::Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["roles"], serde_json::json!(["soignant"]));
}

#[tokio::test]
async fn wrong_password_unknown_user_and_injection_are_refused_and_audited() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("mmartin", "Secret-2", "Marie", "Martin", None)
        .await;
    let app = app_for(&s, "").await;
    let (status, body) = failed_login(&app, "mmartin", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("Identifiant ou mot de passe incorrect"),
        "{body}"
    );
    let (status, _) = failed_login(&app, "nobody", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A filter injection finds nobody instead of everybody.
    let (status, _) = failed_login(&app, "*)(uid=*", "Secret-2").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = reasons(&app.audit("login").await);
    assert!(r.contains(&"directory_wrong_password".to_owned()), "{r:?}");
    assert_eq!(
        r.iter().filter(|x| *x == "directory_unknown_user").count(),
        2,
        "{r:?}"
    );
}

#[tokio::test]
async fn trousseau_locks_a_directory_account_before_the_directory_would() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("pleroy", "Secret-3", "Paul", "Leroy", None)
        .await;
    let app = app_for(&s, "max_failures = 3\ndirectory_lockout_threshold = 5\n").await;
    for _ in 0..3 {
        let (status, _) = failed_login(&app, "pleroy", "bad").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The fourth attempt is refused without asking the directory, even with the right password.
    let (status, body) = failed_login(&app, "pleroy", "Secret-3").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("verrouillé"), "{body}");
    assert_eq!(app.audit("account_locked").await.len(), 1);
    // Configuring Trousseau to go as far as the directory's own lockout is refused.
    let err = trousseau::config::Settings::from_overrides(&ldap_toml(
        &s,
        &[&s.ldaps_url],
        "max_failures = 5\ndirectory_lockout_threshold = 5\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("ldap.max_failures"), "{err}");
}

#[tokio::test]
async fn a_dead_directory_says_so_and_leaves_local_logins_working() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let dead = dead_url();
    let app = spawn_app_with(&ldap_toml(&s, &[&dead], "")).await;
    app.create_user("local", "local-password").await;
    let (status, body) = failed_login(&app, "someone", "x").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("Annuaire indisponible"), "{body}");
    assert!(reasons(&app.audit("login").await).contains(&"directory_unavailable".to_owned()));
    let rp = dpi(&app).await;
    let mut b = app.browser();
    let tokens = login_tokens(&app, &mut b, &rp, "local", "local-password").await;
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn failover_to_the_next_server_when_the_first_is_down() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("afaure", "Secret-4", "Anne", "Faure", None)
        .await;
    let dead = dead_url();
    let app = spawn_app_with(&ldap_toml(&s, &[&dead, &s.ldaps_url], "")).await;
    let rp = dpi(&app).await;
    for _ in 0..2 {
        let mut b = app.browser();
        let tokens = login_tokens(&app, &mut b, &rp, "afaure", "Secret-4").await;
        assert!(tokens["access_token"].is_string());
    }
}

#[tokio::test]
async fn starttls_works_and_a_wrong_ca_is_a_tls_failure() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("bnoel", "Secret-5", "Bruno", "Noel", None).await;
    let app = spawn_app_with(&ldap_toml(&s, &[&s.ldap_url], "starttls = true\n")).await;
    let rp = dpi(&app).await;
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, "bnoel", "Secret-5").await;

    // Another CA than the one that signed the server's certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&other).unwrap();
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), ca.pem()).unwrap();
    let toml = ldap_toml(&s, &[&s.ldaps_url], "").replace(
        &s.ca_file.display().to_string(),
        &wrong.path().display().to_string(),
    );
    let app = spawn_app_with(&toml).await;
    let (status, body) = failed_login(&app, "bnoel", "Secret-5").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("Annuaire indisponible"), "{body}");
    assert!(reasons(&app.audit("login").await).contains(&"directory_tls_failure".to_owned()));
    let checks = check::run(app.state.directory.as_ref().unwrap(), None).await;
    assert!(
        !checks[0].ok && checks[0].detail.contains("TLS failure"),
        "{checks:?}"
    );
}

#[tokio::test]
async fn ldap_test_names_what_is_wrong() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let c = s
        .add_user("cblanc", "Secret-6", "Chloe", "Blanc", None)
        .await;
    s.add_group("cadres", &[&c]).await;
    let good = app_for(&s, "").await;
    let checks = check::run(good.state.directory.as_ref().unwrap(), Some("cblanc")).await;
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    assert!(checks.iter().any(|c| c.step == "user cblanc"));

    let base = ldap_toml(&s, &[&s.ldaps_url], "");
    let cases = [
        (
            base.replace(
                &format!("service_password = \"{}\"", s.admin_password),
                "service_password = \"nope\"",
            ),
            "service bind",
            "invalid credentials",
        ),
        (
            base.replace(
                &format!("user_base = \"{}\"", s.people_dn),
                "user_base = \"ou=nowhere,dc=chu,dc=local\"",
            ),
            "user base",
            "does not exist",
        ),
        (
            base.replace(
                "(objectClass=inetOrgPerson)",
                "(objectClass=nothingLikeThis)",
            ),
            "user filter",
            "matches nothing",
        ),
        (
            base.replace(&s.ldaps_url, &dead_url()),
            "connect",
            "cannot connect",
        ),
    ];
    for (toml, step, says) in cases {
        let app = spawn_app_with(&toml).await;
        let checks = check::run(app.state.directory.as_ref().unwrap(), None).await;
        let found = checks
            .iter()
            .find(|c| c.step.starts_with(step))
            .unwrap_or_else(|| panic!("no step {step} in {checks:?}"));
        assert!(!found.ok && found.detail.contains(says), "{found:?}");
    }
}

#[tokio::test]
async fn a_reset_password_must_be_changed_in_the_same_flow() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let dn = s
        .add_user("dmoreau", "Secret-7", "Denis", "Moreau", None)
        .await;
    if !s.force_password_change(&dn).await {
        crate::helpers::skip::skip(
            "slapd has no ppolicy overlay: the password change cannot be tested",
        );
        return;
    }
    let app = app_for(&s, "").await;
    let rp = dpi(&app).await;
    change_directory_password_in_flow(&app, &rp, "dmoreau", "Secret-7", "Nouveau-7").await;
    let changes = app.audit("password_change").await;
    assert!(changes.iter().any(|e| e.outcome == "success"));
}

#[tokio::test]
async fn sync_links_creates_resolves_nesting_and_withdraws_disabled_and_deleted_accounts() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let u1 = s
        .add_user("ehugo", "Secret-8", "Emma", "Hugo", Some("E2001"))
        .await;
    let u2 = s
        .add_user("fgide", "Secret-9", "Felix", "Gide", Some("E2002"))
        .await;
    let g1 = s.add_group("reanimation", &[&u1]).await;
    s.add_group("soignants", &[&g1]).await;
    let app = app_for(&s, "").await;
    // An identity from HR with u2's employee number: the account links to it.
    let hr = app.create_user("felix.gide", "unused-password").await;
    sqlx::query("UPDATE identities SET employee_number = 'E2002' WHERE id = $1")
        .bind(&hr)
        .execute(app.state.db.pool())
        .await
        .unwrap();

    let run = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(run.mode, "full");
    assert_eq!(
        (run.seen, run.created, run.linked, run.conflicts),
        (2, 1, 1, 0),
        "{run:?}"
    );
    let a2 = store::by_login(app.state.db.pool(), "fgide")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a2.identity_id, hr);
    let a1 = store::by_login(app.state.db.pool(), "ehugo")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a1.roles(), ["soignant"]);

    // Nothing changed: nothing written, nobody duplicated.
    let again = sync(
        &app.state.repository(),
        SyncOptions {
            full: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (again.created, again.linked, again.updated, again.unchanged),
        (0, 0, 0, 2),
        "{again:?}"
    );

    // Emma signs in, then is disabled in the directory: the incremental run suspends her
    // identity, ends her session and revokes her refresh tokens.
    let rp = dpi(&app).await;
    let mut b = app.browser();
    let (url, verifier) = url_with_scope(&app, &rp, "openid offline_access");
    let back = authorize(&mut b, &url, Some(("ehugo", "Secret-8"))).await;
    let code = query_param(&back, "code").unwrap();
    let tokens: serde_json::Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    s.replace(&u1, "userAccountControl", &["514"]).await;
    let inc = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(inc.mode, "incremental");
    assert_eq!(inc.disabled, 1, "{inc:?}");
    // Only Emma changed (others read again by the look-back are unchanged).
    assert_eq!((inc.updated, inc.created), (1, 0), "{inc:?}");
    let refresh = app
        .post_form(
            "/token",
            Some(&rp),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(error_code(refresh).await.1, "invalid_grant");
    let (status, _) = failed_login(&app, "ehugo", "Secret-8").await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    let home = b.get("/").await.text().await.unwrap();
    assert!(!home.contains("Emma"), "the session ended");

    // Enabled again in the directory: active again.
    s.replace(&u1, "userAccountControl", &["512"]).await;
    let inc = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(inc.enabled, 1, "{inc:?}");

    // Félix's entry is deleted: a full run sees it and suspends his identity.
    s.delete(&u2).await;
    let full = sync(
        &app.state.repository(),
        SyncOptions {
            full: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(full.deleted, 1, "{full:?}");
    let i = trousseau::storage::identities::by_id(app.state.db.pool(), &hr)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.status, Status::Suspended);
    assert_eq!(i.status_reason.as_deref(), Some("directory_deleted"));
    assert!(!app.audit("directory_sync").await.is_empty());
}

#[tokio::test]
async fn a_sync_that_reads_nobody_disables_nobody() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let dn = s.add_user("gsand", "Secret-10", "Gina", "Sand", None).await;
    let app = app_for(&s, "").await;
    sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    // An empty answer (a wrong base, a filter typo, a broken replica) is not "everyone left".
    s.delete(&dn).await;
    let full = SyncOptions {
        full: true,
        ..Default::default()
    };
    let err = sync(&app.state.repository(), full).await.unwrap_err();
    assert!(err.to_string().contains("nothing was disabled"), "{err}");
    let a = store::by_login(app.state.db.pool(), "gsand")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.deleted, a.enabled), (0, 1));
    let failed = store::runs(app.state.db.pool(), 1).await.unwrap();
    assert!(failed[0].error.is_some());
    // The admin confirms.
    let run = sync(
        &app.state.repository(),
        SyncOptions {
            full: true,
            allow_mass_delete: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(run.deleted, 1);
}

#[tokio::test]
async fn a_directory_password_is_one_factor_and_the_scheduled_job_goes_full_then_incremental() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("hcamus", "Secret-11", "Hugo", "Camus", None)
        .await;
    let app = app_for(&s, "").await;
    use trousseau::directory::sync::{JobOutcome, run_ldap_once};
    let JobOutcome::Done(first) = run_ldap_once(&app.state.repository(), "node-a")
        .await
        .unwrap()
    else {
        panic!("the first job run syncs")
    };
    assert!(first.contains("full sync"), "{first}");
    let JobOutcome::Done(second) = run_ldap_once(&app.state.repository(), "node-a")
        .await
        .unwrap()
    else {
        panic!("the second job run syncs")
    };
    assert!(second.contains("incremental sync"), "{second}");

    // A client that demands loa3: the password alone is refused, naming the missing factor.
    let rp = dpi(&app).await;
    let mut b = app.browser();
    let (url, _) = authorize_url(&app, &rp, &[("acr_values", "loa3")]);
    let resp = b.get(&url).await;
    let (_, login) = b.follow(resp).await;
    let resp = b.submit_login(&login, "hcamus", "Secret-11").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (page, at) = b.follow(resp).await;
    assert!(at.contains("reason=stepup"), "{at}");
    let html = page.text().await.unwrap();
    assert!(html.contains("clé de sécurité ou carte CPS"), "{html}");
    let logins = app.audit("login").await;
    let ok = logins.iter().find(|e| e.outcome == "success").unwrap();
    assert!(ok.details.clone().unwrap_or_default().contains("\"pwd\""));
}
