//! Load generator and raw-rate measurements for docs/benchmarks.md.
//!
//! `cargo bench --bench load -- raw [--seconds S]` measures the machine's raw argon2id hashes/s
//! (at the default parameters) and JOSE signature rates. The HTTP scenarios drive a running
//! Trousseau: `refresh`, `code` (full authorization-code round trips with an SSO session) and
//! `login` (password logins through the login page), with `--url --client-id
//! --client-secret --redirect-uri --user --password --seconds --concurrency`.
//! `ldap-bind` measures the raw simple-bind rate of an LDAP server (scripts/bench-ldap): it
//! opens `--concurrency` connections to `--ldap-url` and binds as `--bind-dn` with `--password`
//! for `--seconds`; a `{n}` in `--bind-dn` is replaced by 000001..`--users`, in turn.
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
        "refresh" => rt.block_on(http_scenario("refresh", o)),
        "code" => rt.block_on(http_scenario("code", o)),
        "login" => rt.block_on(http_scenario("login", o)),
        "ldap-bind" => rt.block_on(ldap_bind(o)),
        other => eprintln!("unknown scenario {other}: use raw, refresh, code, login or ldap-bind"),
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
    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Option<String> {
        let r = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, self.jar())
            .form(form)
            .send()
            .await
            .ok()?;
        self.keep(&r);
        location(&r)
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

/// One authorization request; logs in when the login page shows. Returns (code, verifier).
async fn authorize(b: &mut Browser, o: &Opts) -> Option<(String, String)> {
    let verifier = random_token(32);
    let mut url = url::Url::parse(&format!("{}/authorize", o.url)).ok()?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &o.client_id)
        .append_pair("redirect_uri", &o.redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
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
    let secs = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "RESULT scenario={name} ok={n} failed={} seconds={secs:.2} per_s={:.1} concurrency={}",
        failed.load(Ordering::Relaxed),
        n as f64 / secs,
        o.concurrency
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
