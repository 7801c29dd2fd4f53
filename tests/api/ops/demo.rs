//! The demo relying parties (the DPI, the DMP): mounted only by `trousseau demo`, never in a
//! production server.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::net::TcpListener;
use trousseau::app::Application;
use trousseau::clock::FixedClock;
use trousseau::config::Settings;
use trousseau::demo::{DemoApps, DemoDmp, DemoRp};
use trousseau::psc::client::PscClient;

use crate::helpers::{now, spawn_app, test_database};

#[tokio::test]
async fn a_normal_server_has_no_demo_route() {
    let app = spawn_app().await;
    for path in [
        "/demo",
        "/demo/login",
        "/demo/callback?code=x&state=y",
        "/demo/dmp",
        "/demo/dmp/login",
        "/demo/dmp/callback?code=x&state=y",
    ] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("Cette page n") && body.contains("existe pas."),
            "{path} answers the default not-found page: {body}"
        );
    }
    // A mounted callback would parse its query first and refuse a repeated parameter with 400;
    // with no route, nothing parses it.
    let resp = app
        .http
        .get(app.url("/demo/callback?code=a&code=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_demo_server_mounts_the_demo_relying_party() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let toml = format!(
        "[http]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\nworkers = 1\n\
         [database]\nurl = \"{url}\"\nmax_connections = 4\n\
         [secrets]\nmaster_key_file = \"{key}\"\n\
         [psc]\nenabled = true\nenvironment = \"local\"\nclient_id = \"dmp-demo\"\n\
         issuer = \"http://127.0.0.1:9/auth/realms/esante-wallet\"\n\
         client_secret_file = \"{secret}\"\nconnect_timeout_ms = 500\ntimeout_ms = 1000\n",
        url = test_database(dir.path()).await,
        key = dir.path().join("master.key").display(),
        secret = dir.path().join("psc.secret").display(),
    );
    std::fs::write(dir.path().join("psc.secret"), "not-a-secret").unwrap();
    let settings = Settings::from_overrides(&toml).unwrap();
    // The DMP's PSC answers nothing (port 9): its pages still answer, precisely.
    let (db, _) = trousseau::app::open(&settings).await.unwrap();
    let client = PscClient::new(&settings.psc, FixedClock::new(now()), db, None)
        .unwrap()
        .unwrap();
    let rp = DemoApps {
        dpi: DemoRp {
            client_id: "demo-dpi".into(),
            client_secret: "not-a-secret".into(),
            base: base.clone(),
        },
        dmp: Some(DemoDmp {
            client,
            base: base.clone(),
            alias: "trousseau".into(),
            end_session: "http://127.0.0.1:9/logout".into(),
        }),
    };
    let app =
        Application::build_with_listener(settings, listener, FixedClock::new(now()), Some(rp))
            .await
            .unwrap();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let resp = http.get(format!("{base}/demo")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("/demo/login"));

    let resp = http.get(format!("{base}/demo/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{base}/authorize?")),
        "{location}"
    );
    assert!(location.contains("client_id=demo-dpi"), "{location}");

    // Mounted, the callback parses its query (the premise of the 404 test above).
    let resp = http
        .get(format!("{base}/demo/callback?code=a&code=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The DMP: its home page; a code that answers no flow of this browser is refused (400),
    // never redeemed; PSC's error is shown; PSC unreachable is said, not a crash.
    let resp = http.get(format!("{base}/demo/dmp")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("DMP (démonstration)") && body.contains("/demo/dmp/login"));
    let resp = http
        .get(format!("{base}/demo/dmp/callback?code=a&state=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = http
        .get(format!("{base}/demo/dmp/callback?code=a&state=b"))
        .header("cookie", "__Host-demo_dmp=c.n.v")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "another flow's state"
    );
    let resp = http
        .get(format!(
            "{base}/demo/dmp/callback?error=access_denied&error_description=refused&state=b"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("access_denied (refused)")
    );
    let resp = http
        .get(format!("{base}/demo/dmp/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("psc_unreachable"));
}
