//! Two real `trousseau serve` processes on one database (PostgreSQL under TEST_DB=postgres, a
//! shared SQLite file otherwise) behind a real nginx round-robin, as a hospital runs them: a
//! login and its code, tokens, refreshes, throttling counters, key rotations and jobs cross
//! from one process to the other; a process killed (SIGKILL) in the middle of a login leaves it
//! to the other; the same refresh token sent to both at the same instant is accepted once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

use crate::helpers::peers::nginx::Nginx;
use crate::helpers::{Browser, claims, pkce, query_param, test_database};

const BIN: &str = env!("CARGO_BIN_EXE_trousseau");
const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://dpi.chu.example/cb";

/// One `trousseau serve` process.
struct Node {
    child: Option<tokio::process::Child>,
    base: String,
    log: PathBuf,
}

impl Node {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: no shutdown, no flush, nothing handed over.
            child.start_kill().expect("kill");
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes, nginx in front, the shared configuration and the command line.
struct Cluster {
    dir: tempfile::TempDir,
    config: PathBuf,
    public: String,
    database_url: String,
    a: Node,
    b: Node,
    _nginx: Nginx,
    client_id: String,
    client_secret: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn command(config: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config").arg(config);
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    cmd.kill_on_drop(true);
    cmd
}

/// Runs a command line that must succeed, with `input` on its standard input; its output.
async fn cli(config: &Path, args: &[&str], input: &str) -> String {
    let mut child = command(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "trousseau {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn start_node(dir: &Path, config: &Path, name: &str, port: u16) -> Node {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = command(config)
        .arg("serve")
        .env("TROUSSEAU__HTTP__BIND", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let mut node = Node {
        child: Some(child),
        base,
        log,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http
            .get(format!("{}/readyz", node.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            return node;
        }
        let exited = node
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if exited.is_some() || Instant::now() > deadline {
            panic!(
                "node {name} did not become ready: {}",
                std::fs::read_to_string(&node.log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Cluster {
    /// `None` when nginx is missing (after a SKIP line).
    async fn start(extra: &str) -> Option<Cluster> {
        let dir = tempfile::tempdir().unwrap();
        let (port_a, port_b) = (free_port(), free_port());
        let nginx =
            Nginx::round_robin(&[format!("127.0.0.1:{port_a}"), format!("127.0.0.1:{port_b}")])?;
        let public = format!("http://127.0.0.1:{}", nginx.port);
        let database_url = test_database(dir.path()).await;
        let config = dir.path().join("trousseau.toml");
        std::fs::write(
            &config,
            format!(
                "[http]\npublic_url = \"{public}\"\nworkers = 2\n\
                 [database]\nurl = \"{database_url}\"\nmax_connections = 8\n\
                 [secrets]\nmaster_key_file = \"{key}\"\n\
                 [password]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n\
                 [logging]\nfilter = \"warn\"\n\
                 [audit]\nseal_interval_secs = 1\n{extra}\n",
                key = dir.path().join("master.key").display()
            ),
        )
        .unwrap();
        cli(&config, &["migrate"], "").await;
        let created: Value = serde_json::from_str(
            &cli(
                &config,
                &[
                    "client",
                    "create",
                    "--id",
                    "dpi",
                    "--name",
                    "DPI",
                    "--redirect-uri",
                    REDIRECT,
                    "--first-party",
                ],
                "",
            )
            .await,
        )
        .unwrap();
        cli(
            &config,
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--given-name",
                "Alice",
                "--family-name",
                "Martin",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;
        let a = start_node(dir.path(), &config, "a", port_a).await;
        let b = start_node(dir.path(), &config, "b", port_b).await;
        Some(Cluster {
            config,
            public,
            database_url,
            a,
            b,
            _nginx: nginx,
            client_id: created["client_id"].as_str().unwrap().to_owned(),
            client_secret: created["client_secret"].as_str().unwrap().to_owned(),
            dir,
        })
    }

    fn authorize_url(&self) -> (String, String) {
        let (verifier, challenge) = pkce();
        let mut url = url::Url::parse(&format!("{}/authorize", self.public)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "openid profile email")
            .append_pair("state", "st4te")
            .append_pair("nonce", "n0nce")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        (url.to_string(), verifier)
    }

    /// `url` (on the public address) sent to one node.
    fn on(&self, node: &Node, url: &str) -> String {
        let path = url.strip_prefix(&self.public).unwrap_or(url);
        format!("{}{}", node.base, path)
    }

    async fn token(&self, at: &str, form: &[(&str, &str)]) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{at}/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn redeem(&self, at: &str, code: &str, verifier: &str) -> Value {
        let resp = self
            .token(
                at,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "code redeemed at {at}");
        resp.json().await.unwrap()
    }

    async fn refresh(&self, at: &str, token: &str) -> reqwest::Response {
        self.token(
            at,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    /// Logs alice in step by step: the authorization request and the login page on `first`,
    /// the login form posted to `second`, the flow resumed on `first`; the code and verifier.
    async fn login_across(&self, first: &Node, second: &Node) -> (String, String) {
        let mut browser = Browser::at(&self.public);
        let (url, verifier) = self.authorize_url();
        let resp = browser.get(&self.on(first, &url)).await;
        let login = location_at(&self.public, &resp);
        assert!(login.contains("/login?"), "{login}");
        let page = browser.get(&self.on(first, &login)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let resp = self
            .post_login(&mut browser, second, &login, PASSWORD)
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "logged in");
        (self.code(&mut browser, first, resp).await, verifier)
    }

    /// Follows the server's redirects on `node` (the public address when `None`) until the
    /// one to the client; its code.
    async fn code(
        &self,
        browser: &mut Browser,
        node: impl Into<Option<&Node>>,
        mut resp: reqwest::Response,
    ) -> String {
        let node = node.into();
        for _ in 0..5 {
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            let to = location_at(&self.public, &resp);
            if to.starts_with(REDIRECT) {
                return query_param(&to, "code").expect("a code");
            }
            let url = match node {
                Some(n) => self.on(n, &to),
                None => to,
            };
            resp = browser.get(&url).await;
        }
        panic!("no redirect to the client");
    }

    async fn post_login(
        &self,
        browser: &mut Browser,
        node: &Node,
        login: &str,
        password: &str,
    ) -> reqwest::Response {
        let flow = query_param(login, "flow").expect("a flow");
        let csrf = browser.cookies["__Host-trousseau_csrf"].clone();
        browser
            .post(
                &format!("{}/login", node.base),
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", password),
                ],
            )
            .await
    }

    async fn db(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.database_url).await.unwrap()
    }
}

/// The redirect's target; a path is taken on the public address (`public`).
fn location_at(public: &str, resp: &reqwest::Response) -> String {
    let to = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if to.starts_with('/') {
        format!("{public}{to}")
    } else {
        to.to_owned()
    }
}

#[tokio::test]
async fn two_processes_behind_nginx_are_one_server() {
    let hr = tempfile::tempdir().unwrap();
    let Some(c) = Cluster::start(&format!(
        "[throttle]\naccount_max_failures = 3\n\
         [sync.hr]\nfolder = \"{}\"\ninterval_secs = 1\n",
        hr.path().display()
    ))
    .await
    else {
        return;
    };
    let (a, b) = (c.a.base.clone(), c.b.base.clone());

    // Through nginx, round-robin: the requests of a whole login land on either node.
    let mut browser = Browser::at(&c.public);
    let (url, verifier) = c.authorize_url();
    let mut served = BTreeSet::new();
    let resp = browser.get(&url).await;
    served.insert(upstream(&resp));
    let login = location_at(&c.public, &resp);
    let resp = browser.get(&login).await;
    served.insert(upstream(&resp));
    let resp = browser.submit_login(&login, "alice", PASSWORD).await;
    served.insert(upstream(&resp));
    let code = c.code(&mut browser, None, resp).await;
    let tokens = c.redeem(&c.public, &code, &verifier).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["iss"],
        c.public
    );
    assert_eq!(served.len(), 2, "both nodes served the login: {served:?}");

    // Log in on A, redeem the code and refresh on B, read userinfo on A.
    let (code, verifier) = c.login_across(&c.a, &c.a).await;
    let tokens = c.redeem(&b, &code, &verifier).await;
    let refreshed = c
        .refresh(&b, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let info = reqwest::Client::new()
        .get(format!("{a}/userinfo"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK, "A accepts what B issued");

    // A login form shown by A and posted to B; the code redeemed on A.
    let (code, verifier) = c.login_across(&c.a, &c.b).await;
    let mut refresh_token = c.redeem(&a, &code, &verifier).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same refresh token sent to A and B at the same instant: accepted exactly once, and
    // the reuse revokes the family (the winner's new token stops working too).
    for round in 0..5 {
        let (ra, rb) = tokio::join!(c.refresh(&a, &refresh_token), c.refresh(&b, &refresh_token));
        let (sa, sb) = (ra.status(), rb.status());
        let (winner, loser) = match (sa, sb) {
            (StatusCode::OK, StatusCode::BAD_REQUEST) => (ra, rb),
            (StatusCode::BAD_REQUEST, StatusCode::OK) => (rb, ra),
            other => panic!("round {round}: one acceptance and one refusal, got {other:?}"),
        };
        let refused: Value = loser.json().await.unwrap();
        assert_eq!(refused["error"], "invalid_grant", "{refused}");
        let won: Value = winner.json().await.unwrap();
        let next = won["refresh_token"].as_str().unwrap();
        let after = c.refresh(&a, next).await;
        assert_eq!(
            after.status(),
            StatusCode::BAD_REQUEST,
            "round {round}: the family is revoked on both nodes"
        );
        let (code, verifier) = c.login_across(&c.b, &c.a).await;
        refresh_token = c.redeem(&b, &code, &verifier).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }

    // Key rotation by the command line while both run: B publishes the new next key within
    // its one-second cache, and A's tokens signed with the new current key pass at B.
    let jwks_kids = |base: String| async move {
        let jwks: Value = reqwest::get(format!("{base}/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<BTreeSet<String>>()
    };
    let before = jwks_kids(b.clone()).await;
    let rotated: Value =
        serde_json::from_str(&cli(&c.config, &["keys", "rotate", "--alg", "RS256"], "").await)
            .unwrap();
    let rotated_at = Instant::now();
    let new_current = rotated["current_kid"].as_str().unwrap().to_owned();
    let seen = loop {
        let now = jwks_kids(b.clone()).await;
        if now != before && now.contains(&new_current) {
            break rotated_at.elapsed();
        }
        assert!(
            rotated_at.elapsed() < Duration::from_secs(5),
            "B serves the rotated key set within its cache time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(seen < Duration::from_millis(2500), "{seen:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, verifier) = c.login_across(&c.a, &c.a).await;
    let tokens = c.redeem(&a, &code, &verifier).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["kid"],
        new_current.as_str(),
        "A signs with the new key"
    );
    let info = reqwest::Client::new()
        .get(format!("{b}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK, "B accepts A's new signature");

    // Throttling counters are shared: wrong passwords on A, B, A lock the account for both.
    for node in [&c.a, &c.b, &c.a] {
        let mut browser = Browser::at(&c.public);
        let (url, _) = c.authorize_url();
        let resp = browser.get(&c.on(node, &url)).await;
        let login = location_at(&c.public, &resp);
        browser.get(&c.on(node, &login)).await;
        let resp = c.post_login(&mut browser, node, &login, "wrong").await;
        assert_ne!(resp.status(), StatusCode::SEE_OTHER);
    }
    let mut browser = Browser::at(&c.public);
    let (url, _) = c.authorize_url();
    let resp = browser.get(&c.on(&c.b, &url)).await;
    let login = location_at(&c.public, &resp);
    browser.get(&c.on(&c.b, &login)).await;
    let resp = c.post_login(&mut browser, &c.b, &login, PASSWORD).await;
    assert_ne!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the account locked by failures on both nodes stays locked on B"
    );

    // The HR drop folder is watched by both nodes every second: a file is imported once.
    let lines: String = (0..20)
        .map(|i| format!("M{i:03};Durand;Nom{i};;;;;;\n"))
        .collect();
    std::fs::write(
        hr.path().join("rh.csv"),
        format!(
            "matricule;nom;prenom;date_naissance;email;service;date_arrivee;date_depart;idnat\n\
             {lines}"
        ),
    )
    .unwrap();
    let done = hr.path().join("done/rh.csv");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the HR file was imported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both nodes tick a few more times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pool = c.db().await;
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hr_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 1, "one run, by one node");
    let people: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE given_name LIKE 'Nom%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(people, 20, "each person once");
    assert!(!hr.path().join("failed").join("rh.csv").exists());
    pool.close().await;

    // Both nodes sealed the audit trail, one at a time: the chain is whole.
    let verified = cli(&c.config, &["audit", "verify"], "").await;
    assert!(verified.contains("the audit trail is intact"), "{verified}");
    drop(c.dir);
}

fn upstream(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-upstream")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_node_killed_in_the_middle_of_a_login_leaves_it_to_the_other() {
    let Some(mut c) = Cluster::start("").await else {
        return;
    };
    // The authorization request and the login page on A…
    let mut browser = Browser::at(&c.public);
    let (url, verifier) = c.authorize_url();
    let resp = browser.get(&c.on(&c.a, &url)).await;
    let login = location_at(&c.public, &resp);
    browser.get(&c.on(&c.a, &login)).await;
    // …A dies without a word…
    c.a.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        reqwest::get(format!("{}/healthz", c.a.base)).await.is_err(),
        "A is gone"
    );
    // …and the person finishes on B: the form posted, the flow resumed, the code redeemed.
    let resp = c.post_login(&mut browser, &c.b, &login, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "logged in on B");
    let code = c.code(&mut browser, &c.b, resp).await;
    // Through nginx, which now skips the dead node, POSTs included.
    let tokens = c.redeem(&c.public, &code, &verifier).await;
    let refreshed = c
        .refresh(&c.public, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    for _ in 0..4 {
        let resp = reqwest::get(format!("{}/readyz", c.public)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "nginx answers from B alone");
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_after_a_wipe_and_people_log_in_again() {
    let Some(mut c) = Cluster::start("").await else {
        return;
    };
    let (code, verifier) = c.login_across(&c.a, &c.b).await;
    let tokens = c.redeem(&c.b.base, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Online, while both nodes serve.
    let file = c.dir.path().join("trousseau.backup");
    let made: Value = serde_json::from_str(
        &cli(
            &c.config,
            &["backup", "--output", file.to_str().unwrap()],
            "",
        )
        .await,
    )
    .unwrap();
    assert!(made["bytes"].as_u64().unwrap() > 10_000, "{made}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup is the owner's alone");
    }
    let again = command(&c.config)
        .args(["backup", "--output", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!again.status.success(), "a backup never overwrites a file");

    // Every node stopped, the database wiped.
    c.a.kill();
    c.b.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    wipe(&c.database_url).await;

    let restored: Value = serde_json::from_str(
        &cli(
            &c.config,
            &["restore", "--input", file.to_str().unwrap()],
            "",
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        restored["signing_keys"],
        "opened with the configured master key"
    );
    // A database that holds data is replaced only when asked.
    let refused = command(&c.config)
        .args(["restore", "--input", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Not a backup at all.
    let junk = c.dir.path().join("junk.backup");
    std::fs::write(&junk, b"not a database").unwrap();
    let refused = command(&c.config)
        .args(["restore", "--force", "--input", junk.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success(), "a junk file is refused");

    // A node on the restored database: the session's refresh token still works, people log in.
    let port = c.a.base.rsplit(':').next().unwrap().parse().unwrap();
    c.a = start_node(c.dir.path(), &c.config, "a-restored", port).await;
    let resp = c.refresh(&c.a.base, &refresh).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the refresh family came back"
    );
    let (code, verifier) = c.login_across(&c.a, &c.a).await;
    c.redeem(&c.a.base, &code, &verifier).await;
    let verified = cli(&c.config, &["audit", "verify"], "").await;
    assert!(verified.contains("the audit trail is intact"), "{verified}");
}

/// Deletes the test's database: the SQLite file, or the PostgreSQL database (created again,
/// empty).
async fn wipe(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        assert!(!Path::new(path).exists());
        return;
    }
    let (base, name) = url.rsplit_once('/').unwrap();
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    for sql in [
        format!("DROP DATABASE {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
}
