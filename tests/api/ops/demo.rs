//! The demo relying party: mounted only by `trousseau demo`, never in a production server.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use std::net::TcpListener;
use trousseau::app::Application;
use trousseau::clock::FixedClock;
use trousseau::config::Settings;
use trousseau::demo::{DemoApps, DemoRp};

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
         [secrets]\nmaster_key_file = \"{key}\"\n",
        url = test_database(dir.path()).await,
        key = dir.path().join("master.key").display()
    );
    let settings = Settings::from_overrides(&toml).unwrap();
    let rp = DemoApps {
        dpi: DemoRp {
            client_id: "demo-dpi".into(),
            client_secret: "not-a-secret".into(),
            base: base.clone(),
        },
        dmp: None,
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
}
