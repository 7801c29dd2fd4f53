//! Directory login and sync against a real Active Directory (the Samba AD domain controller
//! started by `scripts/peers/samba-ad`): every AD refusal sub-code, password change over
//! LDAPS, throttling below AD's lockout, StartTLS, and sync with uSNChanged and tombstones.

use reqwest::StatusCode;

use crate::helpers::peers::ad::Ad;
use crate::helpers::*;
use trousseau::directory::ldap::{SyncOptions, sync};
use trousseau::storage::directory as store;

/// `[ldap]` for the test domain; users limited to those whose employeeID starts with `tag`.
fn ad_toml(ad: &Ad, url: &str, tag: &str, extra: &str) -> String {
    format!(
        "[ldap]\nservers = [\"{url}\"]\nkind = \"ad\"\nca_file = \"{ca}\"\nservice_dn = \"{admin}\"\n\
         service_password = \"{pw}\"\nuser_base = \"{ou}\"\n\
         user_filter = \"(&(objectClass=user)(objectCategory=person)(employeeID={tag}*))\"\n\
         group_base = \"{ou}\"\ngroup_filter = \"(&(objectClass=group)(cn={tag}*))\"\n\
         max_failures = 3\ndirectory_lockout_threshold = {threshold}\n{extra}\n\
         [ldap.roles]\n\"{tag}-medecins\" = \"medecin\"\n[sync.ldap]\nenabled = false\n",
        ca = ad.ca_file.display(),
        admin = ad.admin_dn,
        pw = ad.admin_password,
        ou = ad.test_ou,
        threshold = ad.lockout_threshold,
    )
}

fn tag() -> String {
    Ad::unique_name("T").to_uppercase()
}

async fn new_rp(app: &TestApp) -> Rp {
    let mut spec = app.spec(&format!("dpi-{}", uuid::Uuid::new_v4().simple()));
    spec.scopes.push("roles".into());
    app.register(spec).await
}

/// Submits one login; returns the response.
async fn try_login(
    app: &TestApp,
    b: &mut Browser,
    rp: &Rp,
    user: &str,
    pw: &str,
) -> reqwest::Response {
    let (url, _) = authorize_url(app, rp, &[]);
    let resp = b.get(&url).await;
    let (_, login) = b.follow(resp).await;
    b.submit_login(&login, user, pw).await
}

async fn refused(app: &TestApp, rp: &Rp, user: &str, pw: &str) -> (StatusCode, String) {
    let mut b = app.browser();
    let resp = try_login(app, &mut b, rp, user, pw).await;
    (resp.status(), resp.text().await.unwrap())
}

fn last_reason(events: &[trousseau::storage::audit::AuditRecord]) -> String {
    events
        .iter()
        .find(|e| e.outcome == "failure")
        .and_then(|e| e.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn ad_login_and_every_refusal_sub_code() {
    let Some(ad) = Ad::from_env() else { return };
    let _serial = Ad::lock().await;
    let tag = tag();
    let sam = Ad::unique_name("u");
    let dn = ad
        .create_user(
            &sam,
            "Passw0rd-1",
            "Alice",
            "Bernard",
            Some(&format!("{tag}-1")),
        )
        .await;
    let app = spawn_app_with(&ad_toml(&ad, &ad.url, &tag, "")).await;
    let rp = new_rp(&app).await;

    // sAMAccountName, then UPN and DOMAIN\name: one identity, a password-level token.
    let mut b = app.browser();
    let tokens = login_tokens(&app, &mut b, &rp, &sam, "Passw0rd-1").await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    for login in [format!("{sam}@{}", ad.realm), format!("CHU\\{sam}")] {
        let mut b = app.browser();
        let t = login_tokens(&app, &mut b, &rp, &login, "Passw0rd-1").await;
        assert_eq!(claims(t["id_token"].as_str().unwrap())["sub"], id["sub"]);
    }

    let (status, body) = refused(&app, &rp, &sam, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Identifiant ou mot de passe incorrect"));
    assert_eq!(
        last_reason(&app.audit("login").await),
        "directory_wrong_password"
    );

    ad.disable(&dn).await;
    let (status, body) = refused(&app, &rp, &sam, "Passw0rd-1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("désactivé dans l"), "{body}");
    assert_eq!(
        last_reason(&app.audit("login").await),
        "directory_account_disabled"
    );
    ad.enable(&dn).await;

    ad.lock_out(&sam).await;
    let (status, body) = refused(&app, &rp, &sam, "Passw0rd-1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("verrouillé dans l"), "{body}");
    assert_eq!(
        last_reason(&app.audit("login").await),
        "directory_account_locked"
    );
    ad.unlock(&dn).await;
    ad.delete(&dn).await;
}

#[tokio::test]
async fn ad_expired_and_must_change_passwords_are_changed_in_the_flow() {
    let Some(ad) = Ad::from_env() else { return };
    let _serial = Ad::lock().await;
    let tag = tag();
    let app = spawn_app_with(&ad_toml(&ad, &ad.url, &tag, "")).await;
    let rp = new_rp(&app).await;

    let sam = Ad::unique_name("m");
    let dn = ad
        .create_user(
            &sam,
            "Passw0rd-2",
            "Bob",
            "Colin",
            Some(&format!("{tag}-2")),
        )
        .await;
    ad.must_change_password(&dn).await;
    change_directory_password_in_flow(&app, &rp, &sam, "Passw0rd-2", "Nouveau-2b").await;
    ad.delete(&dn).await;

    let sam = Ad::unique_name("x");
    let dn = ad
        .create_user(
            &sam,
            "Passw0rd-3",
            "Carl",
            "Dumas",
            Some(&format!("{tag}-3")),
        )
        .await;
    ad.expire_password(&dn).await;
    assert!(
        ad.try_bind(&dn, "Passw0rd-3")
            .await
            .unwrap_err()
            .contains("data 532")
    );
    change_directory_password_in_flow(&app, &rp, &sam, "Passw0rd-3", "Nouveau-3b").await;
    let reasons: Vec<String> = app
        .audit("login")
        .await
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"directory_must_change_password".to_owned()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"directory_password_expired".to_owned()),
        "{reasons:?}"
    );
    ad.delete(&dn).await;
}

#[tokio::test]
async fn hammering_trousseau_never_locks_the_ad_account() {
    let Some(ad) = Ad::from_env() else { return };
    let _serial = Ad::lock().await;
    let tag = tag();
    let sam = Ad::unique_name("h");
    let dn = ad
        .create_user(
            &sam,
            "Passw0rd-4",
            "Dora",
            "Ebert",
            Some(&format!("{tag}-4")),
        )
        .await;
    let app = spawn_app_with(&ad_toml(&ad, &ad.url, &tag, "")).await;
    let rp = new_rp(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..(ad.lockout_threshold * 2) {
        statuses.push(refused(&app, &rp, &sam, "guess").await.0);
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert!(
        statuses[3..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // AD saw three bad passwords, below its threshold of five: the nurse can still log on.
    ad.try_bind(&dn, "Passw0rd-4")
        .await
        .expect("AD account not locked");
    ad.delete(&dn).await;
}

#[tokio::test]
async fn ad_over_starttls_failover_and_tls_failures() {
    let Some(ad) = Ad::from_env() else { return };
    let _serial = Ad::lock().await;
    let tag = tag();
    let sam = Ad::unique_name("s");
    let dn = ad
        .create_user(
            &sam,
            "Passw0rd-5",
            "Eve",
            "Fabre",
            Some(&format!("{tag}-5")),
        )
        .await;
    let app = spawn_app_with(&ad_toml(&ad, &ad.starttls_url, &tag, "starttls = true")).await;
    let rp = new_rp(&app).await;
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, &sam, "Passw0rd-5").await;
    // Plain LDAP without StartTLS: AD refuses simple binds, Trousseau says the directory is
    // unavailable and audits why.
    let app = spawn_app_with(&ad_toml(&ad, &ad.starttls_url, &tag, "")).await;
    let rp = new_rp(&app).await;
    let (status, body) = refused(&app, &rp, &sam, "Passw0rd-5").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("Annuaire indisponible"));

    // The first domain controller is down: the next one answers.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ldaps://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let toml = ad_toml(&ad, &ad.url, &tag, "").replace(
        &format!("servers = [\"{}\"]", ad.url),
        &format!("servers = [\"{dead}\", \"{}\"]", ad.url),
    );
    let app = spawn_app_with(&toml).await;
    let rp = new_rp(&app).await;
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, &sam, "Passw0rd-5").await;

    // A CA that did not sign the DC's certificate: a TLS failure, said and audited.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), params.self_signed(&key).unwrap().pem()).unwrap();
    let toml = ad_toml(&ad, &ad.url, &tag, "").replace(
        &ad.ca_file.display().to_string(),
        &wrong.path().display().to_string(),
    );
    let app = spawn_app_with(&toml).await;
    let rp = new_rp(&app).await;
    let (status, body) = refused(&app, &rp, &sam, "Passw0rd-5").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        last_reason(&app.audit("login").await),
        "directory_tls_failure"
    );
    ad.delete(&dn).await;
}

#[tokio::test]
async fn ad_sync_full_then_incremental_with_nesting_disable_and_tombstones() {
    let Some(ad) = Ad::from_env() else { return };
    let _serial = Ad::lock().await;
    let tag = tag();
    let sa = Ad::unique_name("a");
    let sb = Ad::unique_name("b");
    let a = ad
        .create_user(
            &sa,
            "Passw0rd-6",
            "Fanny",
            "Giraud",
            Some(&format!("{tag}-6")),
        )
        .await;
    let b_dn = ad
        .create_user(&sb, "Passw0rd-7", "Gus", "Henry", Some(&format!("{tag}-7")))
        .await;
    let g1 = ad.create_group(&format!("{tag}-urgences"), &[&a]).await;
    let g2 = ad.create_group(&format!("{tag}-medecins"), &[&g1]).await;
    let app = spawn_app_with(&ad_toml(&ad, &ad.url, &tag, "")).await;
    let pool = app.state.db.pool();

    let run = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (run.mode.as_str(), run.seen, run.created),
        ("full", 2, 2),
        "{run:?}"
    );
    assert_eq!(run.group_count, 2);
    let acc_a = store::by_login(pool, &sa).await.unwrap().unwrap();
    assert_eq!(acc_a.roles(), ["medecin"], "nested group resolved");
    assert!(
        store::by_login(pool, &sb)
            .await
            .unwrap()
            .unwrap()
            .roles()
            .is_empty()
    );

    // Fanny signs in and gets a refresh token.
    let rp = new_rp(&app).await;
    let mut browser = app.browser();
    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let url = url.replace(
        "scope=openid+profile+email",
        "scope=openid+roles+offline_access",
    );
    let back = authorize(&mut browser, &url, Some((&sa, "Passw0rd-6"))).await;
    let code = query_param(&back, "code").unwrap();
    let tokens: serde_json::Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["roles"],
        serde_json::json!(["medecin"])
    );

    // Disabled in AD; Gus joins a group (only the group's uSNChanged moves).
    ad.disable(&a).await;
    ad.add_member(&g1, &b_dn).await;
    let inc = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(inc.mode, "incremental");
    assert_eq!(inc.disabled, 1, "{inc:?}");
    assert!(inc.seen <= 2, "{inc:?}");
    assert_eq!(
        store::by_login(pool, &sb).await.unwrap().unwrap().roles(),
        ["medecin"]
    );
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
    let disabled = app.audit("user_disabled").await;
    assert_eq!(disabled[0].reason.as_deref(), Some("directory_disabled"));
    // Her SSO session ended too: the next authorization request asks for a login.
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = browser.get(&url).await;
    let (_, at) = browser.follow(resp).await;
    assert!(at.contains("/login?"), "{at}");

    // Gus is deleted: the next incremental run finds his tombstone.
    ad.delete(&b_dn).await;
    let inc = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(inc.deleted, 1, "{inc:?}");
    let gus = store::by_login(pool, &sb).await.unwrap();
    assert!(gus.is_none(), "a deleted account no longer answers a login");
    // Nothing changed since: an empty incremental run.
    let idle = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (idle.seen, idle.created, idle.updated, idle.deleted),
        (0, 0, 0, 0),
        "{idle:?}"
    );
    ad.delete(&a).await;
    ad.delete(&g2).await;
    ad.delete(&g1).await;
}
