//! Test harness: each test gets its own Trousseau on port 0, its own database (a temporary
//! SQLite file, or a fresh PostgreSQL database when TEST_DB=postgres), and a fixed clock.

use actix_web::web;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use trousseau::admin::clients::{self, ClientSpec};
use trousseau::admin::users::{self, NewUser};
use trousseau::app::Application;
use trousseau::clock::FixedClock;
use trousseau::config::Settings;
use trousseau::crypto::{random_token, s256};
use trousseau::oidc::client::GrantType;
use trousseau::oidc::keys::SigningAlg;
use trousseau::state::AppState;

pub struct TestApp {
    pub issuer: String,
    pub state: web::Data<AppState>,
    pub clock: Arc<FixedClock>,
    /// A plain HTTP client: no redirects followed, no cookies kept.
    pub http: reqwest::Client,
    pub database_url: String,
    /// The card-login TLS listener's port, when `[cps.tls]` has one.
    pub card_port: Option<u16>,
    /// The metrics listener's port, when `metrics.bind` is set.
    pub metrics_port: Option<u16>,
    _dir: tempfile::TempDir,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Where this test's database lives.
pub async fn test_database(dir: &std::path::Path) -> String {
    if std::env::var("TEST_DB").as_deref() == Ok("postgres") {
        let base = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!("trousseau_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&format!("{base}/postgres"))
            .await
            .expect("PostgreSQL reachable at TEST_DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        format!("{base}/{name}")
    } else {
        format!("sqlite://{}", dir.join("trousseau.db").display())
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// Spawns with extra TOML settings layered on the test defaults.
pub async fn spawn_app_with(extra: &str) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let issuer = format!("http://127.0.0.1:{port}");
    let database_url = test_database(dir.path()).await;
    let toml = format!(
        "[http]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"{issuer}\"\nworkers = 1\n\
         [database]\nurl = \"{database_url}\"\nmax_connections = 8\n\
         [secrets]\nmaster_key_file = \"{key}\"\n\
         [password]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n\
         [logout]\nbackoff_secs = 1\ntimeout_secs = 2\n",
        key = dir.path().join("master.key").display()
    );
    let settings = Settings::from_overrides(&format!("{toml}\n{extra}")).expect("test settings");
    let clock = FixedClock::new(now());
    let app = Application::build_with_listener(settings, listener, clock.clone(), None)
        .await
        .expect("app builds");
    let state = app.state.clone();
    let card_port = app.card_port;
    let metrics_port = app.metrics_port;
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        issuer,
        state,
        clock,
        http,
        database_url,
        card_port,
        metrics_port,
        _dir: dir,
    }
}

/// A relying party registered for a test.
#[derive(Debug, Clone)]
pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl Drop for TestApp {
    /// Gives the test's database connections back when the test is done with its app: the
    /// server and the background loops live on until the test's runtime ends, and a table-driven
    /// test that starts one app per case would otherwise hold them all at once (PostgreSQL's
    /// `max_connections` is shared by every test running).
    fn drop(&mut self) {
        let pool = self.state.db.pool().clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { pool.close().await });
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub async fn create_user(&self, username: &str, password: &str) -> String {
        users::create(
            &self.state,
            NewUser {
                username: username.into(),
                given_name: "Alice".into(),
                family_name: "Martin".into(),
                email: Some(format!("{username}@chu.example")),
                password: Some(SecretString::from(password)),
            },
            "test",
        )
        .await
        .expect("user created")
        .id
    }

    pub fn spec(&self, id: &str) -> ClientSpec {
        ClientSpec {
            id: id.into(),
            name: format!("Application {id}"),
            redirect_uris: vec![format!("https://{id}.example/cb")],
            post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
            public: false,
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            signing_alg: SigningAlg::Rs256,
            backchannel_logout_uri: None,
            first_party: true,
            require_pkce: true,
            jwks: None,
            min_acr: None,
            max_auth_age: None,
            introspect: false,
            psc_broker: false,
        }
    }

    pub async fn register(&self, spec: ClientSpec) -> Rp {
        let secret = clients::create(&self.state, &spec, "test")
            .await
            .expect("client created");
        Rp {
            id: spec.id.clone(),
            secret,
            redirect_uri: spec.redirect_uris.first().cloned().unwrap_or_default(),
        }
    }

    pub async fn rp(&self, id: &str) -> Rp {
        self.register(self.spec(id)).await
    }

    pub async fn post_form(&self, path: &str, rp: Option<&Rp>, form: &[(&str, &str)]) -> Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(rp) = rp {
            req = req.basic_auth(&rp.id, rp.secret.as_deref());
        }
        req.send().await.expect("request sent")
    }

    /// Audit events of a kind, after flushing the batched writer.
    pub async fn audit(&self, kind: &str) -> Vec<trousseau::storage::audit::AuditRecord> {
        self.state.audit.flush().await;
        let filter = trousseau::storage::audit::AuditFilter {
            kind: Some(kind.into()),
            limit: 1000,
            ..Default::default()
        };
        trousseau::storage::audit::list(self.state.db.pool(), &filter)
            .await
            .expect("audit list")
    }

    pub fn browser(&self) -> Browser {
        Browser {
            http: self.http.clone(),
            base: self.issuer.clone(),
            cookies: HashMap::new(),
        }
    }
}

/// A browser: keeps cookies by hand (the `__Host-` cookies are Secure, and this client talks
/// plain HTTP on loopback as a browser does with localhost).
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    /// A browser of the server whose public address is `base` (e.g. a reverse proxy's).
    pub fn at(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{}", self.base, url)
        }
    }

    fn keep(&mut self, resp: &Response) {
        for v in resp.headers().get_all(SET_COOKIE) {
            let Ok(text) = v.to_str() else { continue };
            let first = text.split(';').next().unwrap_or("");
            if let Some((k, val)) = first.split_once('=') {
                if val.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), val.to_owned());
                }
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, url: &str) -> Response {
        let resp = self
            .http
            .get(self.absolute(url))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&resp);
        resp
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let resp = self
            .http
            .post(self.absolute(url))
            .header(COOKIE, self.cookie_header())
            // A browser sends the page's origin on a form post (Referrer-Policy: same-origin).
            .header("origin", self.base.clone())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.keep(&resp);
        resp
    }

    /// Sends a request built on any client (another port, a TLS client identity, extra
    /// headers) with this browser's cookies, and keeps the cookies it sets.
    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Response {
        let resp = req
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request sent");
        self.keep(&resp);
        resp
    }

    /// Follows redirects on this server until a page or a redirect elsewhere.
    pub async fn follow(&mut self, mut resp: Response) -> (Response, String) {
        let mut url = resp.url().to_string();
        for _ in 0..10 {
            if !resp.status().is_redirection() {
                break;
            }
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let next = self.absolute(&loc);
            if !next.starts_with(&self.base) {
                return (resp, next);
            }
            url = next.clone();
            resp = self.get(&next).await;
        }
        (resp, url)
    }

    /// Fills and submits the login form of the page at `login_url`.
    pub async fn submit_login(
        &mut self,
        login_url: &str,
        username: &str,
        password: &str,
    ) -> Response {
        let flow = query_param(login_url, "flow").expect("login page has a flow");
        let csrf = self
            .cookies
            .get("__Host-trousseau_csrf")
            .cloned()
            .expect("csrf cookie set by the login page");
        self.post(
            "/login",
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// PKCE pair (verifier, challenge).
pub fn pkce() -> (String, String) {
    let v = random_token(32);
    let c = s256(&v);
    (v, c)
}

/// An authorization URL for `rp` with PKCE; returns (url, verifier).
pub fn authorize_url(app: &TestApp, rp: &Rp, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&app.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &rp.id)
        .append_pair("redirect_uri", &rp.redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    (url.to_string(), verifier)
}

/// Runs the browser through authorize → login (if asked) → redirect; returns the redirect URL
/// to the client.
pub async fn authorize(browser: &mut Browser, url: &str, login: Option<(&str, &str)>) -> String {
    let resp = browser.get(url).await;
    let (resp, location) = browser.follow(resp).await;
    if !location.contains("/login?") {
        assert!(
            resp.status().is_redirection(),
            "expected a redirect to the client, got {} at {location}",
            resp.status()
        );
        return location;
    }
    let (user, pw) = login.expect("a login page was shown but no credentials were given");
    let resp = browser.submit_login(&location, user, pw).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login succeeded");
    let (_, location) = browser.follow(resp).await;
    location
}

/// Exchanges a code at the token endpoint.
pub async fn exchange(app: &TestApp, rp: &Rp, code: &str, verifier: &str) -> Response {
    app.post_form(
        "/token",
        Some(rp),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &rp.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Logs `user` in for `rp` and returns the token response JSON.
pub async fn login_tokens(
    app: &TestApp,
    browser: &mut Browser,
    rp: &Rp,
    user: &str,
    pw: &str,
) -> Value {
    let (url, verifier) = authorize_url(app, rp, &[]);
    let back = authorize(browser, &url, Some((user, pw))).await;
    let code = query_param(&back, "code").expect("code in the redirect");
    let resp = exchange(app, rp, &code, &verifier).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("token JSON")
}

/// The claims of a JWT, unverified (tests check values; signatures are checked elsewhere).
pub fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub async fn error_code(resp: Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_default();
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

/// Signs in with a directory password that must change, changes it on the page the login leads
/// to (first a mismatched confirmation, then a wrong current password, both refused with a
/// message), checks the flow ends at the client with a code, and that the new password works.
pub async fn change_directory_password_in_flow(
    app: &TestApp,
    rp: &Rp,
    user: &str,
    old: &str,
    new: &str,
) {
    let mut b = app.browser();
    let (url, verifier) = authorize_url(app, rp, &[]);
    let resp = b.get(&url).await;
    let (_, login) = b.follow(resp).await;
    let resp = b.submit_login(&login, user, old).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/password/change?ticket="), "{to}");
    let page = b.get(&to).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("mot de passe"));
    let ticket = query_param(&format!("http://x{to}"), "ticket").unwrap();
    let csrf = b.cookies["__Host-trousseau_csrf"].clone();
    let mut submit = async |current: &str, confirm: &str| {
        b.post(
            "/password/change",
            &[
                ("ticket", ticket.as_str()),
                ("csrf", csrf.as_str()),
                ("current", current),
                ("new", new),
                ("confirm", confirm),
            ],
        )
        .await
    };
    let resp = submit(old, "something else").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("ne sont pas identiques")
    );
    let resp = submit("not-the-password", new).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert!(resp.text().await.unwrap().contains("refusé le changement"));
    let resp = submit(old, new).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, back) = b.follow(resp).await;
    let code = query_param(&back, "code").expect("signed in after the change");
    assert_eq!(
        exchange(app, rp, &code, &verifier).await.status(),
        StatusCode::OK
    );
    let mut b = app.browser();
    login_tokens(app, &mut b, rp, user, new).await;
}
