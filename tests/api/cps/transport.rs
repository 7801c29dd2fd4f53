//! CPS card login over real transports: Trousseau's own TLS listener with a real client
//! certificate, a real nginx forwarding the certificate, and real Chromium (ignored test).

use reqwest::StatusCode;
use std::path::Path;

use crate::cps::{
    HEADER, Options, assert_card_claims, card_server, escaped, finish, linked_user, reasons, start,
};
use crate::cps_pki::{Card, Pki, Shape};

#[tokio::test]
async fn trousseau_terminates_tls_and_reads_the_client_certificate() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
    let s = card_server(
        pki,
        &[&revoked],
        Options {
            tls: true,
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    let (port, server_pem) = s.tls.clone().expect("a card listener");
    let id = linked_user(app, "idupont", "810002813839").await;
    linked_user(app, "pdurand", "810002813847").await;
    let client = |card: Option<&Card>| {
        let mut c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(server_pem.as_bytes()).unwrap());
        if let Some(card) = card {
            c = c.identity(reqwest::Identity::from_pem(card.identity_pem().as_bytes()).unwrap());
        }
        c.build().unwrap()
    };
    let card_url = |flow: &str| format!("https://127.0.0.1:{port}/login/card?flow={flow}");
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = b.send(client(Some(&card)).get(card_url(&flow))).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
    // The other pages are served on the same listener without a certificate.
    let plain = client(None);
    let resp = plain
        .get(format!(
            "https://127.0.0.1:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Without a certificate, and with a revoked card: refused with the message.
    let mut b = app.browser();
    let (flow, _) = start(app, &mut b, &rp).await;
    let resp = b.send(plain.get(card_url(&flow))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = b.send(client(Some(&revoked)).get(card_url(&flow))).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("révoquée"));
    // On the TLS listener a header is never believed in place of the handshake.
    let resp = b
        .send(
            plain
                .get(card_url(&flow))
                .header(HEADER, escaped(&card.pem)),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "the header is not a handshake"
    );
}

#[tokio::test]
async fn behind_a_real_nginx_the_forwarded_card_signs_in() {
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
    let foreign = pki.personal_with(
        "810002813839",
        "DUPONT",
        "ISABELLE",
        "Médecin",
        Shape {
            foreign: true,
            ..Shape::default()
        },
    );
    let s = card_server(pki, &[&revoked], Options::default()).await;
    let app = &s.app;
    let upstream = app.issuer.trim_start_matches("http://").to_owned();
    let cas = format!("{}{}", pki.anchors_pem(), pki.intermediates_pem());
    let Some(nginx) = crate::helpers::peers::nginx::Nginx::start(&upstream, &cas, HEADER) else {
        return;
    };
    let id = linked_user(app, "idupont", "810002813839").await;
    linked_user(app, "pdurand", "810002813847").await;
    let client = |card: Option<&Card>| {
        let mut c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(
                reqwest::Certificate::from_pem(nginx.server_pem.as_bytes()).unwrap(),
            );
        if let Some(card) = card {
            c = c.identity(reqwest::Identity::from_pem(card.identity_pem().as_bytes()).unwrap());
        }
        c.build().unwrap()
    };
    let card_url = |flow: &str| format!("https://127.0.0.1:{}/login/card?flow={flow}", nginx.port);
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, verifier) = start(app, &mut b, &rp).await;
    let resp = b.send(client(Some(&card)).get(card_url(&flow))).await;
    assert_card_claims(&finish(app, &mut b, &rp, resp, &verifier).await, &id);
    // nginx passes a revoked card on (it has no CRL): Trousseau refuses it.
    let mut b = app.browser();
    let (flow, _) = start(app, &mut b, &rp).await;
    let resp = b.send(client(Some(&revoked)).get(card_url(&flow))).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("révoquée"));
    // Without a card nginx forwards an empty header: no card.
    let resp = b.send(client(None).get(card_url(&flow))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A card from an unknown CA: nginx ("optional") answers 400 itself; nothing reaches
    // Trousseau as a login.
    let resp = b.send(client(Some(&foreign)).get(card_url(&flow))).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The same header sent straight to Trousseau from a non-proxy address would be refused:
    // see the_header_from_an_untrusted_address_is_ignored_and_audited.
    let logins = app.audit("login").await;
    assert_eq!(
        logins.iter().filter(|e| e.outcome == "success").count(),
        1,
        "one card login"
    );
}

/// Real Chromium presenting the card from its NSS database, the certificate chosen by the
/// `AutoSelectCertificateForUrls` policy. Ignored by default: the policy is a system file
/// (`/etc/chromium/policies/managed/`), written and removed by the test.
/// `cargo test --test api cps::transport::chromium -- --ignored`
#[tokio::test]
#[ignore]
async fn chromium_presents_the_card_selected_by_policy() {
    let tools = [
        "/usr/bin/chromium",
        "/usr/bin/pk12util",
        "/usr/bin/certutil",
    ];
    if let Some(missing) = tools.iter().find(|t| !Path::new(t).exists()) {
        crate::helpers::skip::skip(&format!(
            "{missing} is missing (apt-get install chromium libnss3-tools)"
        ));
        return;
    }
    let pki = Pki::shared();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let s = card_server(
        pki,
        &[],
        Options {
            tls: true,
            ..Options::default()
        },
    )
    .await;
    let app = &s.app;
    let (port, _) = s.tls.clone().unwrap();
    let id = linked_user(app, "idupont", "810002813839").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    let (flow, _) = start(app, &mut b, &rp).await;

    // The card in an NSS database under a fresh HOME.
    let home = tempfile::tempdir().unwrap();
    let nss = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nss).unwrap();
    let db = format!("sql:{}", nss.display());
    let run = |cmd: &str, args: &[&str]| {
        let out = std::process::Command::new(cmd)
            .args(args)
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("/usr/bin/certutil", &["-N", "-d", &db, "--empty-password"]);
    let key = openssl::pkey::PKey::private_key_from_pem(card.key_pem.as_bytes()).unwrap();
    let cert = openssl::x509::X509::from_der(&card.der).unwrap();
    let p12 = openssl::pkcs12::Pkcs12::builder()
        .name("CPS")
        .pkey(&key)
        .cert(&cert)
        .build2("p")
        .unwrap();
    let p12_file = home.path().join("card.p12");
    std::fs::write(&p12_file, p12.to_der().unwrap()).unwrap();
    run(
        "/usr/bin/pk12util",
        &["-i", &p12_file.display().to_string(), "-d", &db, "-W", "p"],
    );
    // Chromium picks it without asking when the policy names the site.
    let policy_dir = Path::new("/etc/chromium/policies/managed");
    std::fs::create_dir_all(policy_dir).unwrap();
    let policy = policy_dir.join(format!("trousseau-test-{port}.json"));
    let pattern = format!("{{\"pattern\":\"https://127.0.0.1:{port}\",\"filter\":{{}}}}");
    std::fs::write(
        &policy,
        serde_json::json!({ "AutoSelectCertificateForUrls": [pattern] }).to_string(),
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{port}/login/card?flow={flow}");
    let out = tokio::process::Command::new("/usr/bin/chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--ignore-certificate-errors",
            &format!("--user-data-dir={}", home.path().join("profile").display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            &url,
        ])
        .env("HOME", home.path())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), out).await;
    let _ = std::fs::remove_file(&policy);
    let out = out.expect("chromium finished within a minute").unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let logins: Vec<_> = app
        .audit("login")
        .await
        .into_iter()
        .filter(|e| e.outcome == "success" && e.subject.as_deref() == Some(id.as_str()))
        .collect();
    let refusals = reasons(app).await;
    assert_eq!(
        logins.len(),
        1,
        "refusals {refusals:?}; DOM: {}; stderr: {}",
        &dom.chars().take(2000).collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
            .chars()
            .take(3000)
            .collect::<String>()
    );
}
