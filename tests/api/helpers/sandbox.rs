//! The PSC sandbox as a real process, for tests of the sandbox itself and of Trousseau's PSC
//! client and pairing.
//!
//! ```ignore
//! use crate::helpers::sandbox::{SandboxOptions, spawn_sandbox, PROFESSIONAL};
//! let sb = spawn_sandbox(SandboxOptions {
//!     // Trousseau's callback, once its port is known:
//!     redirect_uris: vec![format!("{}/psc/callback", app.issuer)],
//!     ..SandboxOptions::default()
//! })
//! .await;
//! // sb.issuer: the PSC issuer (…/auth/realms/esante-wallet), sb.client_id / sb.client_secret.
//! // …start a CIBA request or a code flow from Trousseau, then, as the professional's phone:
//! sb.approve_all(PROFESSIONAL).await;      // or sb.refuse_all(...), sb.pending(...)
//! ```
//! Each call starts its own sandbox on a free loopback port with its own temporary
//! configuration, in-memory state and RPPS file ([`SAMPLE_RPPS`] unless
//! `professionals` says otherwise); the process is killed when the value is dropped.
//! `tls: Some(client_ca_pem)` adds the HTTPS listener asking for client certificates
//! (`sb.mtls`, trusted through `sb.server_cert_pem`), for `tls_client_auth` clients given in
//! `extra_clients`.
//!
//! Acting as the professional's browser and phone: [`browser`], [`Sandbox::sign_in`] (IdNat,
//! wait page, phone, back to the client), [`Sandbox::exchange`], [`Sandbox::ciba_tokens`].
//! When Trousseau must know the sandbox's address before the sandbox knows Trousseau's
//! callback, give `port: Some(reserve_port())`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use trousseau::directory::rpps::header::{HEADER_56, line_56 as line};

/// A professional of [`SAMPLE_RPPS`]: a hospital physician with two practice situations.
pub const PROFESSIONAL: &str = "810001045367";
/// A second one (a test-card number), a nurse.
pub const NURSE: &str = "899700218896";
/// A professional known by an ADELI number.
pub const ADELI: &str = "0012600631";

/// A small RPPS extraction (current 56-column layout).
pub fn sample_rpps() -> String {
    let lines = [
        line(&[
            (0, "8"),
            (1, "10001045367"),
            (2, PROFESSIONAL),
            (3, "DR"),
            (5, "MME"),
            (7, "MARTIN"),
            (8, "CLAIRE"),
            (9, "10"),
            (10, "Médecin"),
            (11, "C"),
            (13, "S"),
            (15, "SM54"),
            (17, "S"),
            (21, "750712184"),
            (22, "750712176"),
            (23, "F750712184"),
            (24, "CHU DE TEST SITE NORD"),
            (35, "75013"),
            (46, "1750712184"),
            (48, "SA01"),
            (54, "GENR01"),
        ]),
        line(&[
            (0, "8"),
            (1, "10001045367"),
            (2, PROFESSIONAL),
            (5, "MME"),
            (7, "MARTIN"),
            (8, "CLAIRE"),
            (9, "10"),
            (11, "C"),
            (13, "S"),
            (15, "SM54"),
            (17, "L"),
            (23, "R81311"),
            (24, "CABINET DU DOCTEUR MARTIN"),
            (35, "75005"),
            (48, "SA07"),
        ]),
        line(&[
            (0, "8"),
            (2, NURSE),
            (5, "M"),
            (7, "DURAND"),
            (8, "PAUL"),
            (9, "60"),
            (11, "C"),
            (17, "S"),
            (21, "690000880"),
            (22, "690781810"),
            (23, "F690000880"),
            (24, "HOPITAL DE TEST SUD"),
            (48, "SA01"),
        ]),
        line(&[
            (0, "0"),
            (2, ADELI),
            (5, "M"),
            (7, "DUPONT"),
            (8, "JEAN"),
            (9, "26"),
            (11, "C"),
            (17, "S"),
            (24, "OPTIQUE EXEMPLE"),
        ]),
    ];
    format!("{HEADER_56}\n{}\n", lines.join("\n"))
}

/// What varies between sandboxes.
pub struct SandboxOptions {
    /// The default client's redirect URIs.
    pub redirect_uris: Vec<String>,
    /// More `[[clients]]` tables, as TOML.
    pub extra_clients: String,
    /// More top-level keys, as TOML (placed before any table).
    pub extra: String,
    pub ciba_expires_in: u64,
    pub ciba_interval: u64,
    /// The RPPS file's text; [`sample_rpps`] when `None`.
    pub professionals: Option<String>,
    /// The PEM of the CAs client certificates must chain to: adds the mTLS listener.
    pub tls: Option<String>,
    /// The plain listener's port ([`reserve_port`]); a free one when `None`.
    pub port: Option<u16>,
    /// The mTLS listener's certificate and key (PEM), when the client must trust it before
    /// the sandbox starts ([`server_certificate`]); a new self-signed one when `None`.
    pub server_cert: Option<(String, String)>,
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, and its key (PEM).
pub fn server_certificate() -> (String, String) {
    let server =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (server.cert.pem(), server.signing_key.serialize_pem())
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            extra_clients: String::new(),
            extra: String::new(),
            ciba_expires_in: 30,
            ciba_interval: 1,
            professionals: None,
            tls: None,
            port: None,
            server_cert: None,
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The PSC issuer: `{base}/auth/realms/esante-wallet`.
    pub issuer: String,
    /// `https://127.0.0.1:<port>` of the mTLS listener, when asked for.
    pub mtls: Option<String>,
    /// The mTLS listener's certificate (self-signed), to trust it.
    pub server_cert_pem: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    _dir: tempfile::TempDir,
    /// A client without redirects or cookies.
    pub http: reqwest::Client,
    _child: Child,
    _stdout: BufReader<ChildStdout>,
}

pub const CLIENT_ID: &str = "trousseau";
pub const CLIENT_SECRET: &str = "sandbox-secret-for-tests";

/// The sandbox binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_trousseau-psc-sandbox")
}

/// Writes the configuration of `o` in `dir`; returns its path.
pub fn write_config(dir: &std::path::Path, o: &SandboxOptions) -> std::path::PathBuf {
    std::fs::write(
        dir.join("rpps.txt"),
        o.professionals.clone().unwrap_or_else(sample_rpps),
    )
    .unwrap();
    let uris: Vec<String> = o.redirect_uris.iter().map(|u| format!("{u:?}")).collect();
    let mut toml = format!(
        "professionals_file = \"rpps.txt\"\nciba_expires_in = {}\nciba_interval = {}\n{}\n\
         [[clients]]\nclient_id = \"{CLIENT_ID}\"\nsecret = \"{CLIENT_SECRET}\"\n\
         redirect_uris = [{}]\npost_logout_redirect_uris = [\"http://127.0.0.1:9/bye\"]\n{}\n",
        o.ciba_expires_in,
        o.ciba_interval,
        o.extra,
        uris.join(", "),
        o.extra_clients,
    );
    if let Some(ca) = &o.tls {
        let (cert, key) = o.server_cert.clone().unwrap_or_else(server_certificate);
        std::fs::write(dir.join("server.pem"), cert).unwrap();
        std::fs::write(dir.join("server.key"), key).unwrap();
        std::fs::write(dir.join("clients-ca.pem"), ca).unwrap();
        toml.push_str(
            "[tls]\nbind = \"127.0.0.1:0\"\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n\
             client_ca_file = \"clients-ca.pem\"\n",
        );
    }
    let path = dir.join("sandbox.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// A loopback port free now, for a sandbox whose address must be known before it starts
/// (Trousseau's `psc.issuer` names it, and the sandbox needs Trousseau's callback address).
/// The port is free again when this returns: the sandbox binds it moments later.
pub fn reserve_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts a sandbox (see the module documentation).
pub async fn spawn_sandbox(o: SandboxOptions) -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &o);
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(&config)
        .arg("--bind")
        .arg(format!("127.0.0.1:{}", o.port.unwrap_or(0)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start trousseau-psc-sandbox");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut base = None;
    let mut mtls = None;
    let wanted = if o.tls.is_some() { 2 } else { 1 };
    let mut seen = 0;
    while seen < wanted {
        let mut text = String::new();
        let n = tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut text))
            .await
            .expect("the sandbox says where it listens within a minute")
            .unwrap();
        assert!(n > 0, "the sandbox stopped before listening");
        if let Some(url) = text.trim().strip_prefix("listening on ") {
            base = Some(url.to_owned());
            seen += 1;
        } else if let Some(url) = text.trim().strip_prefix("mtls on ") {
            mtls = Some(url.to_owned());
            seen += 1;
        }
    }
    let base = base.unwrap();
    let server_cert_pem = o
        .tls
        .as_ref()
        .map(|_| std::fs::read_to_string(dir.path().join("server.pem")).unwrap());
    Sandbox {
        issuer: format!("{base}/auth/realms/esante-wallet"),
        base,
        mtls,
        server_cert_pem,
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: o.redirect_uris.first().cloned().unwrap_or_default(),
        _dir: dir,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _child: child,
        _stdout: stdout,
    }
}

/// A request pending on the phone page.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub binding_message: String,
    pub client: String,
    pub channel: String,
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// A browser for the sandbox's pages: keeps its cookies, follows no redirect.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn required<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    between(text, start, end).unwrap_or_else(|| panic!("{start} in {text}"))
}

impl Sandbox {
    /// The sandbox's authorization URL for its default client (PKCE S256, `state=st4te`,
    /// `nonce=n0nce`, `acr_values=eidas1`), plus `extra` (`&key=value…`).
    pub fn authorize_url(&self, challenge: &str, extra: &str) -> String {
        format!(
            "{}/wallet/auth?response_type=code&client_id={}&redirect_uri={}\
             &scope=openid%20scope_all&acr_values=eidas1&state=st4te&nonce=n0nce\
             &code_challenge={challenge}&code_challenge_method=S256{extra}",
            self.base,
            self.client_id,
            url::form_urlencoded::byte_serialize(self.redirect_uri.as_bytes()).collect::<String>(),
        )
    }

    /// Signs `idnat` in through the pages as a browser does: opens `authorize_url` (the
    /// sandbox's authorization endpoint, as a client sent it there), types the IdNat, waits,
    /// approves (or refuses) on the phone, and comes back: where the sandbox sent the browser
    /// (the client's redirect URI, with a code or an error).
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        idnat: &str,
        approve: bool,
    ) -> String {
        let page = browser.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), 200, "the sandbox asks for the IdNat");
        let html = page.text().await.unwrap();
        assert!(html.contains("Bac à sable"), "{html}");
        let csrf = required(&html, "name=\"csrf\" value=\"", "\"");
        let req = required(&html, "name=\"req\" value=\"", "\"");
        let resp = browser
            .post(format!("{}/wallet/auth/login", self.base))
            .form(&[("csrf", csrf), ("req", req), ("idnat", idnat)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "the IdNat is accepted");
        let wait = format!(
            "{}{}",
            self.base,
            resp.headers()["location"].to_str().unwrap()
        );
        let waiting = browser.get(&wait).send().await.unwrap();
        assert_eq!(waiting.status(), 200);
        let html = waiting.text().await.unwrap();
        assert!(
            html.contains("http-equiv=\"refresh\""),
            "the page polls the sandbox"
        );
        let binding = required(&html, "id=\"binding\">", "<");
        let pending = self.decide_all(idnat, approve).await;
        assert_eq!(
            pending[0].binding_message, binding,
            "the same code on both screens"
        );
        let back = browser.get(&wait).send().await.unwrap();
        assert_eq!(back.status(), 303, "the wait page sends the browser back");
        back.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Exchanges a code of the default client (secret in HTTP Basic).
    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.http
            .post(self.realm("/protocol/openid-connect/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Starts a CIBA request for `idnat` as the default client; its `auth_req_id`.
    pub async fn ciba_start(&self, idnat: &str) -> String {
        let resp = self
            .http
            .post(self.realm("/protocol/openid-connect/ext/ciba/auth"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("scope", "openid scope_all"),
                ("login_hint", idnat),
                ("binding_message", "55"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "CIBA request accepted");
        let body: serde_json::Value = resp.json().await.unwrap();
        body["auth_req_id"].as_str().unwrap().to_owned()
    }

    /// Tokens for `idnat` by CIBA, approved on the phone, for the default client.
    pub async fn ciba_tokens(&self, idnat: &str) -> serde_json::Value {
        let id = self.ciba_start(idnat).await;
        self.approve_all(idnat).await;
        let resp = self
            .http
            .post(self.realm("/protocol/openid-connect/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// `{issuer}{path}`.
    pub fn realm(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The phone page of `idnat`, as a browser with cookies sees it: its HTML.
    async fn phone(&self, browser: &reqwest::Client, idnat: &str) -> String {
        browser
            .get(format!("{}/ecps?idnat={idnat}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The requests pending for `idnat` on the phone page.
    pub async fn pending(&self, idnat: &str) -> Vec<Pending> {
        let html = self.phone(&self.http, idnat).await;
        html.split("<tr class=\"request\" data-id=\"")
            .skip(1)
            .map(|row| {
                let cells: Vec<&str> = row.split("<td").skip(1).collect();
                let cell = |i: usize| {
                    cells
                        .get(i)
                        .and_then(|c| between(c, ">", "</td>"))
                        .unwrap_or("")
                        .to_owned()
                };
                Pending {
                    id: row.split('"').next().unwrap_or("").to_owned(),
                    binding_message: cell(0),
                    client: cell(2),
                    channel: cell(3),
                }
            })
            .collect()
    }

    /// Approves (or refuses) one request on the phone page, through its form; true when the
    /// page says it was decided.
    pub async fn decide(&self, idnat: &str, request_id: &str, approve: bool) -> bool {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let html = self.phone(&browser, idnat).await;
        // No form: nothing of this professional is pending, so nothing can be decided.
        let Some(csrf) = between(&html, "name=\"csrf\" value=\"", "\"").map(str::to_owned) else {
            return false;
        };
        let resp = browser
            .post(format!("{}/ecps/decide", self.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("idnat", idnat),
                ("req", request_id),
                ("decision", if approve { "approve" } else { "refuse" }),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let to = resp.headers()["location"].to_str().unwrap().to_owned();
        !to.contains("done=gone")
    }

    /// Waits for a pending request of `idnat`, then approves every one pending.
    pub async fn approve_all(&self, idnat: &str) -> Vec<Pending> {
        self.decide_all(idnat, true).await
    }

    /// Waits for a pending request of `idnat`, then refuses every one pending.
    pub async fn refuse_all(&self, idnat: &str) -> Vec<Pending> {
        self.decide_all(idnat, false).await
    }

    async fn decide_all(&self, idnat: &str, approve: bool) -> Vec<Pending> {
        let pending = super::wait::value("a request on the e-CPS phone", || async {
            let p = self.pending(idnat).await;
            (!p.is_empty()).then_some(p)
        })
        .await;
        for p in &pending {
            assert!(self.decide(idnat, &p.id, approve).await, "decided {}", p.id);
        }
        pending
    }
}
