//! `/metrics`: label values a client cannot multiply, and who may read them (`[metrics]`:
//! direct peers in `allow`, never judged by `X-Forwarded-For`; a listener of its own); the
//! series of every capability (sync jobs, Pro Santé Connect, the directory, revocation lists,
//! pairings, sessions, the audit trail), each label from its fixed list.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use trousseau::clock::Clock;
use trousseau::directory::ldap::{SyncOptions, sync as ldap_sync};
use trousseau::directory::sync::{self, JobOutcome};
use trousseau::psc::PscClient;
use trousseau::psc::protocol;
use trousseau::storage::pairings::{self, PairingRecord};

use crate::cps::{Options, card_server};
use crate::cps_pki::Pki;
use crate::directory::ldap::ldap_toml;
use crate::helpers::peers::slapd::Slapd;
use crate::helpers::{
    HttpPeer, Reply, TestApp, authorize_url, login_tokens, spawn_app, spawn_app_with, wait,
};

async fn scrape(app: &TestApp, base: &str) -> reqwest::Response {
    app.http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
}

/// The request series (`trousseau_http_requests_total{…}` lines) of a scrape.
async fn request_series(app: &TestApp) -> Vec<String> {
    let resp = scrape(app, &app.issuer).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("trousseau_http_requests_total{"))
        .map(str::to_owned)
        .collect()
}

/// Sends `round` batches of odd requests: methods nobody uses and paths no route matches.
async fn odd_requests(app: &TestApp, round: usize) {
    for i in 0..10 {
        let method = Method::from_bytes(format!("BREW{round}X{i}").as_bytes()).unwrap();
        app.http
            .request(method, app.url("/token"))
            .send()
            .await
            .unwrap();
        app.http
            .get(app.url(&format!("/nothing-here-{round}-{i}")))
            .send()
            .await
            .unwrap();
        app.http
            .post(app.url(&format!("/a/{round}/{i}")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn odd_methods_and_unknown_paths_add_no_label_values() {
    let app = spawn_app().await;
    let huge = Method::from_bytes("X".repeat(8000).as_bytes()).unwrap();
    let resp = app
        .http
        .request(huge, app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    odd_requests(&app, 1).await;
    // The first scrape is counted after it answered: the second one sees it.
    request_series(&app).await;
    let before = request_series(&app).await;
    odd_requests(&app, 2).await;
    let after = request_series(&app).await;

    let labels_of = |lines: &[String]| {
        lines
            .iter()
            .map(|l| l.split('}').next().unwrap_or("").to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // Twenty new methods and forty new paths: not one new series.
    assert_eq!(labels_of(&before), labels_of(&after), "{after:#?}");
    for line in &after {
        assert!(!line.contains("XXXX") && !line.contains("BREW"), "{line}");
        assert!(
            !line.contains("nothing-here") && !line.contains("/a/"),
            "{line}"
        );
        assert!(line.len() < 200, "{line}");
    }
    assert!(
        after
            .iter()
            .any(|l| l.contains("method=\"OTHER\"") && l.contains("route=\"/token\"")),
        "{after:#?}"
    );
    assert!(
        after.iter().any(|l| l.contains("route=\"unmatched\"")),
        "{after:#?}"
    );
}

#[tokio::test]
async fn metrics_answer_only_the_allowed_direct_peers() {
    // A forwarded address is whatever the caller wrote: never believed for /metrics.
    let app = spawn_app_with("[metrics]\nallow = [\"10.9.8.0/24\"]\n").await;
    for forwarded in [None, Some("10.9.8.7"), Some("10.9.8.7, 127.0.0.1")] {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{forwarded:?}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = resp.text().await.unwrap();
        assert!(!body.contains("trousseau_http_requests"), "{body}");
        assert!(
            body.contains("pas accessible depuis votre adresse"),
            "{body}"
        );
    }
    let refused = app.audit("metrics_refused").await;
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|e| e.outcome == "failure" && e.reason.as_deref() == Some("address_not_allowed"))
    );

    // The default lets loopback read.
    let open = spawn_app().await;
    let resp = scrape(&open, &open.issuer).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("# TYPE trousseau_http_requests counter")
    );
}

#[tokio::test]
async fn metrics_on_their_own_listener_only() {
    let app = spawn_app_with("[metrics]\nbind = \"127.0.0.1:0\"\n").await;
    let port = app.metrics_port.expect("a metrics listener");
    let own = format!("http://127.0.0.1:{port}");

    let resp = scrape(&app, &own).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("# TYPE trousseau_http_requests counter")
    );
    for probe in ["/healthz", "/readyz"] {
        let resp = app.http.get(format!("{own}{probe}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{probe}");
    }
    // The public listener no longer serves /metrics, and the metrics listener serves nothing
    // else.
    assert_eq!(
        scrape(&app, &app.issuer).await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        "/",
        "/authorize",
        "/.well-known/openid-configuration",
        "/jwks",
    ] {
        let resp = app.http.get(format!("{own}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = app
        .http
        .post(format!("{own}/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // `allow` applies on that listener too.
    let closed =
        spawn_app_with("[metrics]\nbind = \"127.0.0.1:0\"\nallow = [\"10.9.8.0/24\"]\n").await;
    let port = closed.metrics_port.expect("a metrics listener");
    let resp = scrape(&closed, &format!("http://127.0.0.1:{port}")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// One sample of a scrape: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of an OpenMetrics text (comments left out).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let name_end = line.find(['{', ' ']).expect("a sample line");
            let name = line[..name_end].to_owned();
            let mut labels = BTreeMap::new();
            let mut rest = &line[name_end..];
            if let Some(inner) = rest.strip_prefix('{') {
                let mut chars = inner.char_indices();
                let (mut key, mut value, mut in_value, mut escaped) =
                    (String::new(), String::new(), false, false);
                let mut end = inner.len();
                while let Some((i, c)) = chars.next() {
                    match (in_value, escaped, c) {
                        (true, true, c) => {
                            value.push(c);
                            escaped = false;
                        }
                        (true, false, '\\') => escaped = true,
                        (true, false, '"') => {
                            labels.insert(std::mem::take(&mut key), std::mem::take(&mut value));
                            in_value = false;
                        }
                        (true, false, c) => value.push(c),
                        (false, _, '=') => {
                            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                            in_value = true;
                        }
                        (false, _, ',') => {}
                        (false, _, '}') => {
                            end = i + 1;
                            break;
                        }
                        (false, _, c) => key.push(c),
                    }
                }
                rest = &inner[end..];
            }
            let value = rest
                .split_whitespace()
                .next()
                .expect("a value")
                .parse()
                .unwrap_or_else(|_| panic!("a number in {line}"));
            Sample {
                name,
                labels,
                value,
            }
        })
        .collect()
}

async fn scrape_samples(app: &TestApp) -> Vec<Sample> {
    let resp = scrape(app, &app.issuer).await;
    assert_eq!(resp.status(), StatusCode::OK);
    samples(&resp.text().await.unwrap())
}

/// The value of the sample `name` carrying every label of `labels`.
fn value(all: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    all.iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

const SYNC_OUTCOMES: &[&str] = &["success", "unchanged", "busy", "failure"];
const PSC_OUTCOMES: &[&str] = &[
    "success",
    "refused",
    "server_error",
    "timeout",
    "tls",
    "unreachable",
    "invalid",
];

/// Every label of every `trousseau_` sample is one the metric declares, with a value from its
/// fixed list (`issuers`: the CAs of the configured revocation lists).
fn assert_bounded(all: &[Sample], issuers: &[String]) {
    let jobs: &[&str] = &["rpps", "hr", "hr_dates", "ldap"];
    let calls: &[&str] = &[
        "discovery",
        "jwks",
        "token",
        "ciba",
        "ciba_poll",
        "userinfo",
    ];
    let operations: &[&str] = &[
        "connect",
        "bind",
        "search",
        "paged_search",
        "password_change",
    ];
    let kinds: &[&str] = &["unavailable", "tls", "service_bind", "ambiguous", "result"];
    let issuers: Vec<&str> = issuers.iter().map(String::as_str).collect();
    for s in all {
        let family = s
            .name
            .trim_end_matches("_bucket")
            .trim_end_matches("_count")
            .trim_end_matches("_sum");
        let expected: Vec<(&str, Option<&[&str]>)> = match family {
            "trousseau_http_requests_total" => {
                vec![("method", None), ("route", None), ("status", None)]
            }
            "trousseau_logins_total" => vec![
                (
                    "method",
                    Some(&[
                        "password",
                        "directory_password",
                        "security_key",
                        "card",
                        "ecps",
                    ]),
                ),
                ("outcome", Some(&["success", "failure"])),
            ],
            "trousseau_tokens_total" => vec![
                (
                    "grant",
                    Some(&[
                        "authorization_code",
                        "refresh_token",
                        "client_credentials",
                        "unknown",
                    ]),
                ),
                ("outcome", Some(&["success", "failure"])),
            ],
            "trousseau_sync_runs_total" => {
                vec![("sync", Some(jobs)), ("outcome", Some(SYNC_OUTCOMES))]
            }
            "trousseau_sync_last_success_timestamp_seconds" => vec![("sync", Some(jobs))],
            "trousseau_psc_requests_total" => {
                vec![("call", Some(calls)), ("outcome", Some(PSC_OUTCOMES))]
            }
            "trousseau_psc_request_duration_seconds" => vec![("call", Some(calls))],
            "trousseau_ldap_operation_duration_seconds" => {
                vec![("operation", Some(operations))]
            }
            "trousseau_ldap_errors_total" => vec![("kind", Some(kinds))],
            "trousseau_crl_age_seconds" | "trousseau_crl_next_update_timestamp_seconds" => {
                vec![("issuer", Some(&issuers))]
            }
            "trousseau_pairings" => vec![("state", Some(&["active", "expired", "revoked"]))],
            "trousseau_pairings_expiring_7d"
            | "trousseau_audit_queue_depth"
            | "trousseau_audit_events_unsealed"
            | "trousseau_sessions_active" => vec![],
            other => panic!("an unexpected series {other}: {s:?}"),
        };
        let mut keys: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
        if s.name.ends_with("_bucket") {
            keys.push("le");
        }
        keys.sort_unstable();
        let got: Vec<&str> = s.labels.keys().map(String::as_str).collect();
        assert_eq!(got, keys, "{s:?}");
        for (key, values) in expected {
            if let Some(values) = values {
                assert!(values.contains(&s.labels[key].as_str()), "{s:?}");
            }
        }
    }
}

/// `name` value of `sample` as an integer.
fn int(v: Option<f64>) -> i64 {
    v.expect("the series is present") as i64
}

/// A pairing of `identity_id` in the state `status`, expiring at `expires_at`.
async fn pairing(app: &TestApp, identity_id: &str, status: &str, expires_at: i64) {
    let now = app.clock.now();
    let record = PairingRecord {
        id: uuid::Uuid::new_v4().to_string(),
        identity_id: identity_id.to_owned(),
        idnat: "810001045367".into(),
        means: "ciba".into(),
        validated_at: now - 86_400,
        expires_at,
        status: status.into(),
        created_link: 0,
        revoked_at: (status == "revoked").then_some(now),
        revoked_by: (status == "revoked").then(|| "test".to_owned()),
        revoked_reason: (status == "revoked").then(|| "test".to_owned()),
        acr: None,
    };
    let mut tx = app.state.db.pool().begin().await.unwrap();
    pairings::insert(&mut tx, &record).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn logins_tokens_syncs_pairings_sessions_and_the_audit_queue_have_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&format!(
        "[sync.hr]\nfolder = \"{}\"\ninterval_secs = 3600\n\
         [sync.rpps]\nsource = \"{}\"\ninterval_secs = 3600\n",
        dir.path().display(),
        dir.path().join("no-such-extraction.txt").display()
    ))
    .await;
    let now = app.clock.now();

    // A login and a token grant.
    let alice = app.create_user("alice", "correct horse battery").await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, "alice", "correct horse battery").await;

    // An HR file in the drop folder, imported by the HR job (`serve` runs it at start-up too:
    // whichever run takes it, one of them imports it).
    std::fs::write(
        dir.path().join("rh-1.csv"),
        "matricule;nom;prenom;date_naissance;email;service;date_arrivee;date_depart;idnat\n\
         E1;Dupont;Jean;;;;;;\n",
    )
    .unwrap();
    let repo = app.state.repository();
    wait::value("the HR job lease", || async {
        let out = sync::run_hr_once(&repo, "node-test").await.unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    wait::value("the HR job lease, again", || async {
        let out = sync::run_hr_once(&repo, "node-test").await.unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    assert!(dir.path().join("done/rh-1.csv").exists());
    wait::value("the HR dates job lease", || async {
        let out = sync::run_hr_dates_once(&repo, "node-test").await.unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    // The RPPS source does not exist: the run fails.
    let importer = sync::rpps_importer();
    wait::value("an RPPS run", || async {
        let out = sync::run_rpps_once(&repo, "node-test", &importer).await;
        (!matches!(out, Ok(JobOutcome::Busy))).then_some(())
    })
    .await;

    // Pairings: active (one within 7 days of its expiry), expired, revoked.
    let mut ids = Vec::new();
    for name in ["p1", "p2", "p3", "p4"] {
        ids.push(app.create_user(name, "correct horse battery").await);
    }
    pairing(&app, &ids[0], "active", now + 3 * 86_400).await;
    pairing(&app, &ids[1], "active", now + 300 * 86_400).await;
    pairing(&app, &ids[2], "active", now - 60).await;
    pairing(&app, &ids[3], "revoked", now + 300 * 86_400).await;
    pairing(&app, &alice, "revoked", now + 300 * 86_400).await;

    let all = scrape_samples(&app).await;
    assert_bounded(&all, &[]);
    let at = |name: &str, labels: &[(&str, &str)]| value(&all, name, labels);
    assert_eq!(
        int(at(
            "trousseau_logins_total",
            &[("method", "password"), ("outcome", "success")]
        )),
        1
    );
    assert_eq!(
        int(at(
            "trousseau_tokens_total",
            &[("grant", "authorization_code"), ("outcome", "success")]
        )),
        1
    );
    // Exactly one run imported the file; the others found nothing to do.
    assert_eq!(
        int(at(
            "trousseau_sync_runs_total",
            &[("sync", "hr"), ("outcome", "success")]
        )),
        1,
        "{all:#?}"
    );
    assert!(
        int(at(
            "trousseau_sync_runs_total",
            &[("sync", "hr"), ("outcome", "unchanged")]
        )) >= 1
    );
    assert!(
        int(at(
            "trousseau_sync_runs_total",
            &[("sync", "hr_dates"), ("outcome", "unchanged")]
        )) >= 1
    );
    assert!(
        int(at(
            "trousseau_sync_runs_total",
            &[("sync", "rpps"), ("outcome", "failure")]
        )) >= 1
    );
    for job in ["hr", "hr_dates"] {
        assert_eq!(
            int(at(
                "trousseau_sync_last_success_timestamp_seconds",
                &[("sync", job)]
            )),
            now,
            "{job}"
        );
    }
    // An RPPS source that never imported has no last success.
    assert_eq!(
        at(
            "trousseau_sync_last_success_timestamp_seconds",
            &[("sync", "rpps")]
        ),
        None
    );
    assert_eq!(int(at("trousseau_sessions_active", &[])), 1);
    for (state, n) in [("active", 2), ("expired", 1), ("revoked", 2)] {
        assert_eq!(
            int(at("trousseau_pairings", &[("state", state)])),
            n,
            "{state}"
        );
    }
    assert_eq!(int(at("trousseau_pairings_expiring_7d", &[])), 1);
    let depth = int(at("trousseau_audit_queue_depth", &[]));
    assert!((0..16_384).contains(&depth), "{depth}");
    assert!(int(at("trousseau_audit_events_unsealed", &[])) >= 0);

    // The database counts are kept a minute: a new session shows at the next reading.
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, "p1", "correct horse battery").await;
    let again = scrape_samples(&app).await;
    assert_eq!(int(value(&again, "trousseau_sessions_active", &[])), 1);
    assert_eq!(
        int(value(
            &again,
            "trousseau_logins_total",
            &[("method", "password"), ("outcome", "success")]
        )),
        2
    );
}

/// A scripted PSC: discovery and an empty key set answered, the CIBA endpoint refusing the
/// request, the token endpoint out of order.
async fn scripted_psc() -> (HttpPeer, String) {
    let peer = HttpPeer::start(|_| Reply::status(503)).await;
    let base = peer.url("");
    let issuer = format!("{base}{}", protocol::REALM_PATH);
    let e = protocol::Endpoints::of_issuer(&issuer, &format!("{base}/wallet/auth"));
    let discovery = serde_json::json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorization,
        "token_endpoint": e.token,
        "userinfo_endpoint": e.userinfo,
        "jwks_uri": e.jwks,
        "introspection_endpoint": e.introspection,
        "end_session_endpoint": e.end_session,
        "backchannel_authentication_endpoint": e.ciba,
        "backchannel_token_delivery_modes_supported": ["poll"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string();
    peer.answer(move |r| {
        let path = r.path.strip_prefix(protocol::REALM_PATH).unwrap_or("");
        match path {
            protocol::DISCOVERY_PATH => Reply::ok("application/json", discovery.clone()),
            protocol::JWKS_PATH => Reply::ok("application/json", r#"{"keys": []}"#),
            protocol::CIBA_PATH => Reply {
                status: 400,
                content_type: "application/json".into(),
                body: br#"{"error": "unknown_user_id"}"#.to_vec(),
            },
            _ => Reply::status(503),
        }
    });
    (peer, issuer)
}

fn psc_toml(issuer: &str, secret_file: &std::path::Path) -> String {
    format!(
        "[psc]\nenabled = true\nenvironment = \"local\"\nissuer = \"{issuer}\"\n\
         client_id = \"trousseau\"\nclient_secret_file = \"{}\"\n\
         connect_timeout_ms = 1000\ntimeout_ms = 3000\n",
        secret_file.display()
    )
}

#[tokio::test]
async fn calls_to_pro_sante_connect_are_counted_and_timed_by_call_and_outcome() {
    let (_psc, issuer) = scripted_psc().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("psc.secret");
    std::fs::write(&secret, "scripted-psc-client-secret-of-32-bytes-or-more\n").unwrap();
    let app = spawn_app_with(&psc_toml(&issuer, &secret)).await;
    let psc = app.state.psc.clone().expect("[psc] is enabled");
    psc.check_discovery().await.unwrap();
    // An empty key set: the call succeeded, its content is refused.
    assert!(psc.check_keys().await.is_err());
    // The CIBA endpoint answers `unknown_user_id`: the credentials were accepted.
    psc.check_credentials().await.unwrap();
    // The token endpoint answers 503.
    assert!(psc.ciba_poll("req-1").await.is_err());
    // A PSC nobody answers for (the discard port), counted in the same metrics.
    let mut settings = app.state.settings.psc.clone();
    settings.issuer = format!("http://127.0.0.1:9{}", protocol::REALM_PATH);
    let unreachable = PscClient::new(
        &settings,
        app.clock.clone(),
        app.state.db.clone(),
        Some(app.state.metrics.clone()),
    )
    .unwrap()
    .unwrap();
    assert!(unreachable.check_discovery().await.is_err());

    let all = scrape_samples(&app).await;
    assert_bounded(&all, &[]);
    let count = |call: &str, outcome: &str| {
        value(
            &all,
            "trousseau_psc_requests_total",
            &[("call", call), ("outcome", outcome)],
        )
    };
    assert_eq!(count("discovery", "success"), Some(1.0), "{all:#?}");
    assert_eq!(count("jwks", "success"), Some(1.0));
    assert_eq!(count("ciba", "refused"), Some(1.0));
    assert_eq!(count("ciba_poll", "server_error"), Some(1.0));
    assert_eq!(count("discovery", "unreachable"), Some(1.0));
    for (call, n) in [
        ("discovery", 2.0),
        ("jwks", 1.0),
        ("ciba", 1.0),
        ("ciba_poll", 1.0),
    ] {
        assert_eq!(
            value(
                &all,
                "trousseau_psc_request_duration_seconds_count",
                &[("call", call)]
            ),
            Some(n),
            "{call}"
        );
        assert_eq!(
            value(
                &all,
                "trousseau_psc_request_duration_seconds_bucket",
                &[("call", call), ("le", "+Inf")]
            ),
            Some(n),
            "{call}"
        );
    }
}

#[tokio::test]
async fn directory_operations_are_timed_and_its_faults_counted_by_kind() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    s.add_user("jdupont", "Secret-1", "Jean", "Dupont", Some("E1001"))
        .await;
    // The first server does not answer: each connection tries it, then the second.
    let app = spawn_app_with(&ldap_toml(&s, &["ldaps://127.0.0.1:1", &s.ldaps_url], "")).await;
    let rp = app.rp("dpi").await;
    let mut b = app.browser();
    login_tokens(&app, &mut b, &rp, "jdupont", "Secret-1").await;
    // A wrong password is the directory's answer about the person, not a fault.
    let mut b = app.browser();
    let (url, _) = authorize_url(&app, &rp, &[]);
    let resp = b.get(&url).await;
    let (_, login) = b.follow(resp).await;
    assert!(login.contains("/login?"), "{login}");
    b.submit_login(&login, "jdupont", "Wrong-1").await;
    let run = ldap_sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(run.seen, 1, "{run:?}");

    let all = scrape_samples(&app).await;
    assert_bounded(&all, &[]);
    for operation in ["connect", "bind", "search", "paged_search"] {
        let n = value(
            &all,
            "trousseau_ldap_operation_duration_seconds_count",
            &[("operation", operation)],
        );
        assert!(n.is_some_and(|n| n >= 1.0), "{operation}: {all:#?}");
    }
    assert!(
        value(
            &all,
            "trousseau_ldap_errors_total",
            &[("kind", "unavailable")]
        )
        .is_some_and(|n| n >= 1.0),
        "{all:#?}"
    );
    let faults: Vec<&Sample> = all
        .iter()
        .filter(|s| s.name == "trousseau_ldap_errors_total")
        .collect();
    assert_eq!(faults.len(), 1, "{faults:#?}");
    assert_eq!(
        value(
            &all,
            "trousseau_sync_runs_total",
            &[("sync", "ldap"), ("outcome", "success")]
        ),
        Some(1.0)
    );
    let failed: f64 = all
        .iter()
        .filter(|s| s.name == "trousseau_logins_total" && s.labels["outcome"] == "failure")
        .map(|s| s.value)
        .sum();
    assert_eq!(failed, 1.0);
}

#[tokio::test]
async fn revocation_lists_report_their_age_and_next_update_at_each_scrape() {
    let pki = Pki::shared();
    let server = card_server(pki, &[], Options::default()).await;
    let app = &server.app;
    let lists = app.state.cps.as_ref().expect("[cps]").verifier.crls.all();
    assert_eq!(lists.len(), 2);
    let issuers: Vec<String> = lists.iter().map(|l| l.issuer.clone()).collect();

    let all = scrape_samples(app).await;
    assert_bounded(&all, &issuers);
    for list in &lists {
        let issuer = [("issuer", list.issuer.as_str())];
        assert_eq!(
            int(value(&all, "trousseau_crl_age_seconds", &issuer)),
            app.clock.now() - list.this_update,
            "{}",
            list.issuer
        );
        assert_eq!(
            value(&all, "trousseau_crl_next_update_timestamp_seconds", &issuer).map(|v| v as i64),
            list.next_update
        );
    }
    // A day later, without a reload, each list is a day older.
    app.clock.advance(86_400);
    let later = scrape_samples(app).await;
    for list in &lists {
        let issuer = [("issuer", list.issuer.as_str())];
        assert_eq!(
            int(value(&later, "trousseau_crl_age_seconds", &issuer))
                - int(value(&all, "trousseau_crl_age_seconds", &issuer)),
            86_400
        );
    }
}
