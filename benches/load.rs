//! Load generator and raw-rate measurements for docs/benchmarks.md.
//!
//! `cargo bench --bench load -- raw [--seconds S]` measures the machine's raw argon2id hashes/s
//! (at the default parameters) and JOSE signature rates; `argon2` the argon2id rates only, `jose` the JOSE rates only. The HTTP scenarios drive a running
//! Trousseau: `refresh`, `code` (full authorization-code round trips with an SSO session) and
//! `login` (password logins through the login page), with `--url --client-id
//! --client-secret --redirect-uri --user --password --seconds --concurrency`.
//! `ldap-bind` measures the raw simple-bind rate of an LDAP server (scripts/bench-ldap): it
//! opens `--concurrency` connections to `--ldap-url` and binds as `--bind-dn` with `--password`
//! for `--seconds`; a `{n}` in `--bind-dn` is replaced by 000001..`--users`, in turn.
//! `key-login` measures passwordless security-key logins end to end (login page, ceremony
//! options, assertion verification, session, redirect with a code) against a server whose
//! `webauthn.allow_unattested` is on: it enrols a software key for `--user` with the enrolment
//! code `--code` (from `trousseau user enrolment-code`), signing as a browser on `--origin` with
//! RP ID `--rp-id`, then logs in for `--seconds`; it also measures the raw ES256 verification
//! rate of the same assertions with OpenSSL, in the same run.
//! Every scenario is bounded in time and stops by itself; it prints one `RESULT` line.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use josekit::jws::{ES256, RS256};
use josekit::jwt::{self, JwtPayload};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use trousseau::crypto::{random_token, s256};

#[derive(Clone, Debug)]
struct Opts {
    url: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    user: String,
    password: String,
    seconds: u64,
    concurrency: usize,
    ldap_url: String,
    bind_dn: String,
    users: u64,
    code: String,
    origin: String,
    rp_id: String,
}

fn opts(args: &[String]) -> Opts {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(k) = a.strip_prefix("--") {
            map.insert(k.to_owned(), it.next().cloned().unwrap_or_default());
        }
    }
    let get = |k: &str, d: &str| map.get(k).cloned().unwrap_or_else(|| d.to_owned());
    Opts {
        url: get("url", "http://127.0.0.1:8080"),
        client_id: get("client-id", "bench-rp"),
        client_secret: get("client-secret", ""),
        redirect_uri: get("redirect-uri", "http://127.0.0.1:9/cb"),
        user: get("user", "bench"),
        password: get("password", "bench-password"),
        seconds: get("seconds", "10").parse().unwrap_or(10),
        concurrency: get("concurrency", "8").parse().unwrap_or(8),
        ldap_url: get("ldap-url", "ldap://127.0.0.1:389"),
        bind_dn: get("bind-dn", "uid=u000001,ou=people,dc=chu,dc=local"),
        users: get("users", "1").parse().unwrap_or(1),
        code: get("code", ""),
        origin: get("origin", "http://localhost:8080"),
        rp_id: get("rp-id", "localhost"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let scenario = args.first().cloned().unwrap_or_else(|| "raw".into());
    let o = opts(&args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match scenario.as_str() {
        "raw" => raw(o.seconds),
        "argon2" => raw_argon2(o.seconds),
        "jose" => raw_jose(o.seconds),
        "refresh" => rt.block_on(http_scenario("refresh", o)),
        "code" => rt.block_on(http_scenario("code", o)),
        "login" => rt.block_on(http_scenario("login", o)),
        "ldap-bind" => rt.block_on(ldap_bind(o)),
        "key-login" => rt.block_on(key_login(o)),
        other => eprintln!(
            "unknown scenario {other}: use raw, argon2, refresh, code, login, key-login or ldap-bind"
        ),
    }
}

/// Runs `f` on `threads` threads for `secs` seconds; returns operations per second.
fn rate(threads: usize, secs: u64, f: impl Fn() + Send + Sync + 'static) -> f64 {
    let f = Arc::new(f);
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (f, count) = (f.clone(), count.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    f();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn raw(secs: u64) {
    raw_argon2(secs);
    raw_jose(secs);
}

/// Raw argon2id hashes/s at the default parameters on every core: the crate's hashing API
/// (a fresh allocation per hash), then hashes into memory kept from one hash to the next.
fn raw_argon2(secs: u64) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let params = Params::new(19456, 2, 1, None).expect("argon2 params");
    let argon = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params));
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
    let a = argon.clone();
    let hashes = rate(threads, secs, move || {
        let _ = a.hash_password(b"a password of ordinary length", &salt);
    });
    println!("RESULT raw_argon2id_m19456_t2_p1_hashes_per_s={hashes:.1} threads={threads}");
    // The same hash into memory each thread keeps from one hash to the next (no page faults).
    let a = argon.clone();
    let reused = rate(threads, secs, move || {
        thread_local! {
            static MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
                std::cell::RefCell::new(vec![argon2::Block::default(); 19456]);
        }
        let mut out = [0u8; 32];
        MEMORY.with_borrow_mut(|m| {
            let _ = a.hash_password_into_with_memory(
                b"a password of ordinary length",
                b"0123456789abcdef",
                &mut out,
                m.as_mut_slice(),
            );
        });
    });
    println!(
        "RESULT raw_argon2id_reused_memory_m19456_t2_p1_hashes_per_s={reused:.1} threads={threads}"
    );
}

/// Raw JWT signature and verification rates (RS256, ES256).
fn raw_jose(secs: u64) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);

    let mut payload = JwtPayload::new();
    payload.set_subject("bench");
    payload.set_issuer("http://127.0.0.1");
    let header = || {
        let mut h = josekit::jws::JwsHeader::new();
        h.set_token_type("at+jwt");
        h
    };
    let rsa = RS256.generate_key_pair(2048).expect("rsa");
    let rs_signer = Arc::new(
        RS256
            .signer_from_der(rsa.to_der_private_key())
            .expect("signer"),
    );
    for t in [1, threads] {
        let (s, p, h) = (rs_signer.clone(), payload.clone(), header());
        let r = rate(t, secs, move || {
            let _ = jwt::encode_with_signer(&p, &h, &*s);
        });
        println!("RESULT raw_rs256_jwt_signatures_per_s={r:.1} threads={t}");
    }
    let ec = ES256.generate_key_pair().expect("ec");
    let es_signer = Arc::new(
        ES256
            .signer_from_der(ec.to_der_private_key())
            .expect("signer"),
    );
    let (s, p, h) = (es_signer.clone(), payload.clone(), header());
    let r = rate(threads, secs, move || {
        let _ = jwt::encode_with_signer(&p, &h, &*s);
    });
    println!("RESULT raw_es256_jwt_signatures_per_s={r:.1} threads={threads}");
    let token = jwt::encode_with_signer(&payload, &header(), &*es_signer).expect("token");
    let verifier = Arc::new(
        ES256
            .verifier_from_der(ec.to_der_public_key())
            .expect("verifier"),
    );
    for t in [1, threads] {
        let (v, tok) = (verifier.clone(), token.clone());
        let r = rate(t, secs, move || {
            let _ = jwt::decode_with_verifier(&tok, &*v);
        });
        println!("RESULT raw_es256_verifications_per_s={r:.1} threads={t}");
    }
}

/// A browser with a hand-kept cookie jar (the server's cookies are `__Host-`/Secure).
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(http: reqwest::Client) -> Browser {
        Browser {
            http,
            cookies: HashMap::new(),
        }
    }
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(t) = v.to_str() else { continue };
            if let Some((k, v)) = t.split(';').next().and_then(|p| p.split_once('=')) {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    fn jar(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    async fn get(&mut self, url: &str) -> Option<String> {
        let r = self
            .http
            .get(url)
            .header(reqwest::header::COOKIE, self.jar())
            .send()
            .await
            .ok()?;
        self.keep(&r);
        location(&r)
    }
    /// Posts a form with the jar's cookies and keeps the answer's cookies.
    async fn submit(&mut self, url: &str, form: &[(&str, &str)]) -> Option<reqwest::Response> {
        let r = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, self.jar())
            .form(form)
            .send()
            .await
            .ok()?;
        self.keep(&r);
        Some(r)
    }
    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Option<String> {
        location(&self.submit(url, form).await?)
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An authorization request of the bench client with PKCE.
fn authorize_url(o: &Opts, verifier: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(&format!("{}/authorize", o.url)).ok()?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &o.client_id)
        .append_pair("redirect_uri", &o.redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("code_challenge", &s256(verifier))
        .append_pair("code_challenge_method", "S256");
    Some(url)
}

/// One authorization request; logs in when the login page shows. Returns (code, verifier).
async fn authorize(b: &mut Browser, o: &Opts) -> Option<(String, String)> {
    let verifier = random_token(32);
    let url = authorize_url(o, &verifier)?;
    let mut next = b.get(url.as_str()).await?;
    if next.starts_with("/login") {
        let login = format!("{}{}", o.url, next);
        b.get(&login).await;
        let flow = param(&login, "flow")?;
        let csrf = b.cookies.get("__Host-trousseau_csrf")?.clone();
        let resume = b
            .post(
                &format!("{}/login", o.url),
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("username", &o.user),
                    ("password", &o.password),
                ],
            )
            .await?;
        // The login answers with the redirect to the client (or, on older servers, with a
        // hop through /authorize/resume).
        next = if resume.starts_with('/') {
            b.get(&format!("{}{}", o.url, resume)).await?
        } else {
            resume
        };
    }
    Some((param(&next, "code")?, verifier))
}

async fn token(b: &Browser, o: &Opts, form: &[(&str, &str)]) -> Option<serde_json::Value> {
    let r = b
        .http
        .post(format!("{}/token", o.url))
        .basic_auth(&o.client_id, Some(&o.client_secret))
        .form(form)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

async fn exchange(b: &Browser, o: &Opts, code: &str, verifier: &str) -> Option<serde_json::Value> {
    token(
        b,
        o,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &o.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn http_scenario(name: &'static str, o: Opts) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, http, ok, failed) = (o.clone(), http.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut b = Browser::new(http.clone());
            // Each worker signs in once for the refresh and code scenarios.
            let mut refresh = None;
            if name != "login" {
                let Some((code, v)) = authorize(&mut b, &o).await else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                refresh = exchange(&b, &o, &code, &v)
                    .await
                    .and_then(|t| t["refresh_token"].as_str().map(str::to_owned));
            }
            while Instant::now() < deadline {
                let success = match name {
                    "refresh" => match &refresh {
                        Some(rt) => {
                            let t = token(
                                &b,
                                &o,
                                &[("grant_type", "refresh_token"), ("refresh_token", rt)],
                            )
                            .await;
                            refresh =
                                t.and_then(|t| t["refresh_token"].as_str().map(str::to_owned));
                            refresh.is_some()
                        }
                        None => false,
                    },
                    "code" => match authorize(&mut b, &o).await {
                        Some((code, v)) => exchange(&b, &o, &code, &v).await.is_some(),
                        None => false,
                    },
                    _ => {
                        let mut fresh = Browser::new(http.clone());
                        authorize(&mut fresh, &o).await.is_some()
                    }
                };
                if success {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if name == "refresh" {
                        return;
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    report(name, &ok, &failed, start, o.concurrency);
}

/// Prints a scenario's `RESULT` line.
fn report(name: &str, ok: &AtomicU64, failed: &AtomicU64, start: Instant, concurrency: usize) {
    let secs = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "RESULT scenario={name} ok={n} failed={} seconds={secs:.2} per_s={:.1} concurrency={concurrency}",
        failed.load(Ordering::Relaxed),
        n as f64 / secs,
    );
}

/// Simple binds on `concurrency` LDAP connections for `seconds` (raw bind rate of the server).
async fn ldap_bind(o: Opts) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let next_user = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, ok, failed, next_user) = (o.clone(), ok.clone(), failed.clone(), next_user.clone());
        tasks.push(tokio::spawn(async move {
            let settings = ldap3::LdapConnSettings::new().set_conn_timeout(Duration::from_secs(5));
            let mut ldap = match ldap3::LdapConnAsync::with_settings(settings, &o.ldap_url).await {
                Ok((conn, ldap)) => {
                    ldap3::drive!(conn);
                    ldap
                }
                Err(e) => {
                    eprintln!("ldap-bind: connect {}: {e}", o.ldap_url);
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            ldap.with_timeout(Duration::from_secs(5));
            while Instant::now() < deadline {
                let dn = if o.bind_dn.contains("{n}") {
                    let n = next_user.fetch_add(1, Ordering::Relaxed) % o.users.max(1) + 1;
                    o.bind_dn.replace("{n}", &format!("{n:06}"))
                } else {
                    o.bind_dn.clone()
                };
                match ldap.simple_bind(&dn, &o.password).await {
                    Ok(r) if r.rc == 0 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("ldap-bind: {dn}: rc={} {}", r.rc, r.text);
                        }
                    }
                    Err(e) => {
                        eprintln!("ldap-bind: {dn}: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
            let _ = ldap.unbind().await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "RESULT scenario=ldap-bind ok={n} failed={} seconds={secs:.2} per_s={:.1} concurrency={} distinct_users={}",
        failed.load(Ordering::Relaxed),
        n as f64 / secs,
        o.concurrency,
        o.bind_dn.contains("{n}"),
    );
}

/// A software security key: a P-256 key pair and a credential id; its signature counter stays
/// at zero (keys without a counter), so concurrent logins never look like a clone.
struct SoftKey {
    key: openssl::ec::EcKey<openssl::pkey::Private>,
    cred_id: Vec<u8>,
    user_handle: String,
}

fn b64u(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(bytes).to_vec()
}

/// CBOR byte string header for `len` bytes (len < 65536).
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => out.extend([0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

impl SoftKey {
    fn new() -> SoftKey {
        let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
            .expect("P-256");
        SoftKey {
            key: openssl::ec::EcKey::generate(&group).expect("key"),
            cred_id: trousseau::crypto::random_bytes(16),
            user_handle: String::new(),
        }
    }

    fn cose_public_key(&self) -> Vec<u8> {
        let mut ctx = openssl::bn::BigNumContext::new().expect("bn");
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().expect("bn"),
            openssl::bn::BigNum::new().expect("bn"),
        );
        self.key
            .public_key()
            .affine_coordinates(self.key.group(), &mut x, &mut y, &mut ctx)
            .expect("coordinates");
        let (x, y) = (
            x.to_vec_padded(32).expect("x"),
            y.to_vec_padded(32).expect("y"),
        );
        // {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut out, &x);
        out.push(0x22);
        cbor_bytes(&mut out, &y);
        out
    }

    /// The browser's answer to a registration: "none" attestation, UP + UV + attested data.
    fn registration(&self, rp_id: &str, origin: &str, challenge: &str) -> serde_json::Value {
        let client_data = format!(
            r#"{{"type":"webauthn.create","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
        );
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(0x45);
        auth_data.extend([0u8; 4]);
        auth_data.extend([0u8; 16]);
        auth_data.extend([0, self.cred_id.len() as u8]);
        auth_data.extend(&self.cred_id);
        auth_data.extend(self.cose_public_key());
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        serde_json::json!({
            "id": b64u(&self.cred_id),
            "rawId": b64u(&self.cred_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64u(&att),
                "clientDataJSON": b64u(client_data.as_bytes()),
                "transports": ["usb"],
            },
            "extensions": {},
        })
    }

    /// The signed part of an assertion: authenticator data (UP + UV, counter 0) and client data.
    fn assertion_parts(&self, rp_id: &str, origin: &str, challenge: &str) -> (Vec<u8>, Vec<u8>) {
        let client_data = format!(
            r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"{origin}","crossOrigin":false}}"#
        );
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(0x05);
        auth_data.extend([0u8; 4]);
        (auth_data, client_data.into_bytes())
    }

    fn sign(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
        let pkey = openssl::pkey::PKey::from_ec_key(self.key.clone()).expect("pkey");
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
            .expect("signer");
        signer.update(auth_data).expect("sign");
        signer.update(&sha256(client_data)).expect("sign");
        signer.sign_to_vec().expect("sign")
    }

    fn assertion(&self, rp_id: &str, origin: &str, challenge: &str) -> serde_json::Value {
        let (auth_data, client_data) = self.assertion_parts(rp_id, origin, challenge);
        let signature = self.sign(&auth_data, &client_data);
        serde_json::json!({
            "id": b64u(&self.cred_id),
            "rawId": b64u(&self.cred_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64u(&auth_data),
                "clientDataJSON": b64u(&client_data),
                "signature": b64u(&signature),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        })
    }
}

impl Browser {
    /// Posts a form and returns the status and body.
    async fn post_body(&mut self, url: &str, form: &[(&str, &str)]) -> Option<(u16, String)> {
        let r = self.submit(url, form).await?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }
}

async fn enrol_soft_key(b: &mut Browser, o: &Opts, key: &mut SoftKey) -> Result<(), String> {
    b.get(&format!("{}/keys/enrol", o.url)).await;
    let csrf = b
        .cookies
        .get("__Host-trousseau_csrf")
        .cloned()
        .ok_or("no csrf cookie")?;
    let (status, body) = b
        .post_body(
            &format!("{}/webauthn/enrol/options", o.url),
            &[("csrf", &csrf), ("username", &o.user), ("code", &o.code)],
        )
        .await
        .ok_or("options request failed")?;
    if status != 200 {
        return Err(format!("enrolment options refused ({status}): {body}"));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let pk = &v["options"]["publicKey"];
    key.user_handle = pk["user"]["id"].as_str().unwrap_or_default().to_owned();
    let rsp = key.registration(
        &o.rp_id,
        &o.origin,
        pk["challenge"].as_str().unwrap_or_default(),
    );
    let (status, body) = b
        .post_body(
            &format!("{}/keys/enrol", o.url),
            &[
                ("csrf", &csrf),
                ("ceremony", v["ceremony"].as_str().unwrap_or_default()),
                ("credential", &rsp.to_string()),
                ("name", "Clé de mesure"),
            ],
        )
        .await
        .ok_or("enrolment request failed")?;
    if status != 200 {
        return Err(format!("enrolment refused ({status}): {body}"));
    }
    Ok(())
}

/// One passwordless login through the login page; true when the client got a code.
async fn key_login_once(b: &mut Browser, o: &Opts, key: &SoftKey) -> Option<()> {
    let verifier = random_token(32);
    let url = authorize_url(o, &verifier)?;
    let login = format!("{}{}", o.url, b.get(url.as_str()).await?);
    b.get(&login).await;
    let flow = param(&login, "flow")?;
    let csrf = b.cookies.get("__Host-trousseau_csrf")?.clone();
    let (status, body) = b
        .post_body(
            &format!("{}/webauthn/login/options", o.url),
            &[("flow", &flow), ("csrf", &csrf), ("mode", "passwordless")],
        )
        .await?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let challenge = v["options"]["publicKey"]["challenge"].as_str()?;
    let assertion = key.assertion(&o.rp_id, &o.origin, challenge);
    let next = b
        .post(
            &format!("{}/login/key", o.url),
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("mode", "passwordless"),
                ("ceremony", v["ceremony"].as_str()?),
                ("credential", &assertion.to_string()),
            ],
        )
        .await?;
    param(&next, "code").map(|_| ())
}

async fn key_login(o: Opts) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let mut key = SoftKey::new();
    if let Err(e) = enrol_soft_key(&mut Browser::new(http.clone()), &o, &mut key).await {
        eprintln!("key-login: cannot enrol the software key: {e}");
        return;
    }
    let key = Arc::new(key);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, http, ok, failed, key) = (
            o.clone(),
            http.clone(),
            ok.clone(),
            failed.clone(),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut b = Browser::new(http.clone());
                match key_login_once(&mut b, &o, &key).await {
                    Some(()) => ok.fetch_add(1, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    report("key-login", &ok, &failed, start, o.concurrency);
    // The raw rate of the same verification: ES256 (ECDSA P-256, SHA-256) of one assertion.
    let (auth_data, client_data) = key.assertion_parts(&o.rp_id, &o.origin, "AAAA");
    let signature = key.sign(&auth_data, &client_data);
    let mut signed = auth_data.clone();
    signed.extend(sha256(&client_data));
    let public = openssl::ec::EcKey::from_public_key(key.key.group(), key.key.public_key())
        .expect("public key");
    let pkey = Arc::new(openssl::pkey::PKey::from_ec_key(public).expect("pkey"));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let secs = o.seconds.clamp(1, 5);
    let r = rate(threads, secs, move || {
        let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &pkey)
            .expect("verifier");
        v.update(&signed).expect("verify");
        assert!(v.verify(&signature).expect("verify"));
    });
    println!("RESULT raw_es256_assertion_verifications_per_s={r:.1} threads={threads}");
}
