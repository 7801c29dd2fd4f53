//! Several nodes on one database behave as one server, and a clean shutdown loses no audit
//! event of the batched writer.

use reqwest::StatusCode;
use std::net::TcpListener;
use trousseau::app::Application;
use trousseau::oidc::client::GrantType;
use trousseau::storage::audit::{AuditFilter, AuditRecord, insert_batch, list};

use crate::helpers::{TestApp, authorize_url, claims, query_param, spawn_app};

/// A second node: same database, master key, clock and public URL; its own port.
async fn second_node(app: &TestApp) -> (String, Application) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = (*app.state.settings).clone();
    settings.http.bind = listener.local_addr().unwrap().to_string();
    let node = Application::build_with_listener(settings, listener, app.clock.clone(), None)
        .await
        .unwrap();
    (base, node)
}

#[tokio::test]
async fn two_nodes_share_flows_sessions_codes_and_tokens() {
    let a = spawn_app().await;
    let (b_base, b_node) = second_node(&a).await;
    tokio::spawn(b_node.run_until_stopped());
    let rp = a.rp("dpi").await;
    a.create_user("alice", "correct horse battery").await;

    // The authorization request reaches node A, the login form is posted to node B.
    let mut browser = a.browser();
    let (url, verifier) = authorize_url(&a, &rp, &[]);
    let resp = browser.get(&url).await;
    let (_, login) = browser.follow(resp).await;
    let flow = query_param(&login, "flow").unwrap();
    browser.get(&login).await;
    let csrf = browser.cookies["__Host-trousseau_csrf"].clone();
    let resp = browser
        .post(
            &format!("{b_base}/login"),
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // Node A resumes the flow and issues the code; node B redeems it.
    let (_, back) = browser.follow(resp).await;
    let code = query_param(&back, "code").expect("a code");
    let tokens: serde_json::Value = a
        .http
        .post(format!("{b_base}/token"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &rp.redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["iss"],
        a.issuer
    );
    // A verifies what B signed; B rotates what A will then refuse as reused.
    let info = a
        .http
        .get(a.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);
    let r1 = a
        .post_form(
            "/token",
            Some(&rp),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(r1.status(), StatusCode::OK);
    let reuse = a
        .http
        .post(format!("{b_base}/token"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        reuse.status(),
        StatusCode::BAD_REQUEST,
        "reuse is detected whichever node sees it"
    );
    // The SSO session opened through B gives node A's next request a code without login.
    let (url2, _) = authorize_url(&a, &rp, &[]);
    let resp = browser.get(&url2).await;
    let (_, back2) = browser.follow(resp).await;
    assert!(query_param(&back2, "code").is_some(), "{back2}");
}

#[tokio::test]
async fn clean_shutdown_writes_every_batched_audit_event() {
    let a = spawn_app().await;
    let mut spec = a.spec("batch");
    spec.grants = vec![GrantType::ClientCredentials];
    spec.redirect_uris.clear();
    spec.scopes = vec!["api".into()];
    let rp = a.register(spec).await;
    let (b_base, b_node) = second_node(&a).await;
    let handle = b_node.handle();
    let running = tokio::spawn(b_node.run_until_stopped());
    let requests = 300;
    let mut tasks = Vec::new();
    for _ in 0..requests {
        let (http, url, rp) = (a.http.clone(), format!("{b_base}/token"), rp.clone());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .basic_auth(&rp.id, rp.secret.as_deref())
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    handle.stop(true).await;
    running.await.unwrap().unwrap();
    let filter = AuditFilter {
        kind: Some("token_issued".into()),
        client_id: Some("batch".into()),
        limit: 10_000,
        ..Default::default()
    };
    let events = list(a.state.db.pool(), &filter).await.unwrap();
    assert_eq!(
        events.len(),
        requests,
        "every grant of the stopped node is in the audit trail"
    );
}

/// A batch is written many rows per statement (64, 16, 4, 1): 85 events take one statement of
/// each size, and every column comes back as written, absent values included.
#[tokio::test]
async fn a_batch_is_written_whole_with_every_column() {
    let a = spawn_app().await;
    let records: Vec<AuditRecord> = (0..85)
        .map(|n| AuditRecord {
            id: format!("batch-{n:03}"),
            at: 1_000 + n,
            kind: "batch_test".into(),
            outcome: if n % 2 == 0 { "success" } else { "failure" }.into(),
            reason: (n % 3 == 0).then(|| format!("reason {n}")),
            actor: Some(format!("actor {n}")),
            subject: (n % 5 != 0).then(|| format!("subject {n}")),
            client_id: Some("batch-client".into()),
            source_ip: (n % 7 == 0).then(|| "127.0.0.1".into()),
            request_id: Some(format!("req-{n}")),
            details: (n % 2 == 1).then(|| format!("{{\"n\":{n}}}")),
        })
        .collect();
    insert_batch(a.state.db.pool(), &records).await.unwrap();
    let filter = AuditFilter {
        kind: Some("batch_test".into()),
        limit: 1_000,
        ..Default::default()
    };
    let mut stored = list(a.state.db.pool(), &filter).await.unwrap();
    stored.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(stored.len(), records.len());
    for (got, want) in stored.iter().zip(&records) {
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
    }
}

#[tokio::test]
async fn the_purge_of_expired_rows_runs_on_the_node_that_holds_its_lease() {
    use trousseau::clock::Clock;
    use trousseau::storage::leases;
    use trousseau::workers::{HOUSEKEEPING_JOB, purge_once};

    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let mut browser = app.browser();
    let (url, _) = authorize_url(&app, &rp, &[]);
    browser.get(&url).await;
    let flows = || async {
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM auth_flows")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap()
            .0
    };
    assert_eq!(flows().await, 1);
    // Abandoned: a flow nobody touched for over 10 minutes is purged.
    app.clock.advance(3600);
    let pool = app.state.db.pool();
    let now = app.clock.now();

    // Another node holds the lease: this one purges nothing.
    assert!(
        leases::acquire(pool, HOUSEKEEPING_JOB, "node-b", now, 60)
            .await
            .unwrap()
    );
    assert_eq!(purge_once(&app.state, "node-a").await.unwrap(), 0);
    assert_eq!(flows().await, 1);

    // The lease is free: this node purges, then gives the lease back.
    leases::release(pool, HOUSEKEEPING_JOB, "node-b")
        .await
        .unwrap();
    assert!(purge_once(&app.state, "node-a").await.unwrap() >= 1);
    assert_eq!(flows().await, 0);
    assert!(
        leases::acquire(pool, HOUSEKEEPING_JOB, "node-b", now, 60)
            .await
            .unwrap()
    );
}
