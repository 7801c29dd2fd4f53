//! Many pending e-CPS (CIBA) pairings held by a running Trousseau (scripts/bench-pairing,
//! docs/benchmarks.md).
//!
//! `cargo bench --bench pairing -- rpps --pairings N --out FILE` writes an RPPS extraction of
//! N professionals for the PSC sandbox (IdNats `8` + 10100000000 + i).
//!
//! `… -- start --pairings N --url URL --concurrency C` opens Trousseau's database with the
//! same configuration as the server (`TROUSSEAU__*` variables), creates N accounts, each with
//! an RPPS link made by an administrator (`bench-pair-<i>`, the i-th IdNat) and a session,
//! then asks the running server for each pairing the way a browser does: `GET /pairing` (the
//! CSRF cookie), then `POST /pairing/start` with `means=ciba`. Trousseau asks the sandbox for
//! a CIBA request each time; nobody approves. Accounts left by an earlier run are reused.
//! Prints `RESULT pairing_starts=N per_s=…`.
//!
//! `… -- count` prints `RESULT pending=N`: the requests still waiting in the database.
//!
//! Every step is bounded (HTTP timeouts, a fixed number of requests) and stops by itself.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use trousseau::admin::users::{self, NewUser};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};
use trousseau::clock::SystemClock;
use trousseau::config::Settings;
use trousseau::directory::rpps::header::HEADER_56;
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::state::AppState;

const SESSION_COOKIE: &str = "__Host-trousseau_session";
const CSRF_COOKIE: &str = "__Host-trousseau_csrf";

fn idnat(i: usize) -> String {
    format!("8{:011}", 10_100_000_000u64 + i as u64)
}

fn opts(args: &[String]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(k) = a.strip_prefix("--") {
            map.insert(k.to_owned(), it.next().cloned().unwrap_or_default());
        }
    }
    map
}

/// One RPPS line (56 columns) of a hospital physician.
fn rpps_line(i: usize) -> String {
    let id = idnat(i);
    let family = format!("BANC{i:05}");
    let mut fields = vec![""; 56];
    for (col, v) in [
        (0, "8"),
        (1, &id[1..]),
        (2, id.as_str()),
        (3, "DR"),
        (5, "MME"),
        (7, family.as_str()),
        (8, "CAMILLE"),
        (9, "10"),
        (10, "Médecin"),
        (11, "C"),
        (17, "S"),
        (21, "750712184"),
        (22, "750712176"),
        (23, "F750712184"),
        (24, "CHU DE TEST SITE NORD"),
        (48, "SA01"),
    ] {
        fields[col] = v;
    }
    format!("{}|", fields.join("|"))
}

fn write_rpps(n: usize, out: &str) {
    let mut text = String::from(HEADER_56);
    text.push('\n');
    for i in 0..n {
        text.push_str(&rpps_line(i));
        text.push('\n');
    }
    std::fs::write(out, text).expect("write the RPPS file");
    println!("RESULT rpps_professionals={n} file={out}");
}

async fn state() -> (AppState, trousseau::audit::AuditWriter) {
    let settings = Settings::load(None).expect("configuration");
    let (db, master) = trousseau::app::open_existing(&settings)
        .await
        .expect("open the server's database");
    AppState::new(settings, db, master, Arc::new(SystemClock))
        .await
        .expect("state")
}

/// The account `bench-pair-<i>` with its RPPS link (created once), and a fresh session token.
async fn account(state: &AppState, i: usize) -> String {
    let username = format!("bench-pair-{i}");
    let id = match users::create(
        state,
        NewUser {
            username: username.clone(),
            given_name: "Camille".into(),
            family_name: format!("Banc{i:05}"),
            email: None,
            password: None,
        },
        "bench",
    )
    .await
    {
        Ok(created) => {
            let idnat = IdNat::parse(&idnat(i)).unwrap();
            users::link_rpps(state, &username, &idnat, LinkMethod::Admin, "bench")
                .await
                .expect("link the account to its IdNat");
            created.id
        }
        Err(_) => {
            trousseau::storage::identities::by_username(state.db.pool(), &username)
                .await
                .expect("read the account")
                .expect("the account of an earlier run")
                .id
        }
    };
    let factor = AuthFactor {
        method: Method::Password,
        user_verified: true,
    };
    let logged = trousseau::session::record_login(
        &state.sessions(),
        None,
        &id,
        factor,
        None,
        &RequestContext::default(),
    )
    .await
    .expect("session");
    logged.new_token.expect("a new session token")
}

fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = pair.split_once('=')?;
        (k.trim() == name).then(|| val.trim().to_owned())
    })
}

/// `GET /pairing` then `POST /pairing/start` as a browser holding `session`.
async fn start_one(http: &reqwest::Client, url: &str, session: &str) -> Result<(), String> {
    let page = http
        .get(format!("{url}/pairing"))
        .header(COOKIE, format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !page.status().is_success() {
        return Err(format!("GET /pairing answered {}", page.status()));
    }
    let csrf = cookie_of(&page, CSRF_COOKIE).ok_or("no CSRF cookie")?;
    let resp = http
        .post(format!("{url}/pairing/start"))
        .header(
            COOKIE,
            format!("{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"),
        )
        .form(&[("csrf", csrf.as_str()), ("means", "ciba")])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let to = resp
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if to.contains("waiting=1") {
        Ok(())
    } else {
        Err(format!(
            "POST /pairing/start answered {} to {to:?}",
            resp.status()
        ))
    }
}

async fn start(o: &HashMap<String, String>) {
    let n: usize = o
        .get("pairings")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let concurrency: usize = o
        .get("concurrency")
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let url = o
        .get("url")
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:18080".into());
    let (state, writer) = state().await;
    let t0 = Instant::now();
    let mut sessions = Vec::with_capacity(n);
    for i in 0..n {
        sessions.push(account(&state, i).await);
    }
    let prepared = t0.elapsed();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let t1 = Instant::now();
    let outcomes: Vec<Result<(), String>> = futures_util::stream::iter(sessions)
        .map(|s| {
            let http = http.clone();
            let url = url.clone();
            async move { start_one(&http, &url, &s).await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let took = t1.elapsed().as_secs_f64();
    let failed: Vec<&String> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    writer.shutdown().await;
    if let Some(first) = failed.first() {
        eprintln!("{} pairing starts failed; first: {first}", failed.len());
    }
    println!(
        "RESULT pairing_starts={} failed={} per_s={:.1} accounts_and_sessions_s={:.1}",
        n - failed.len(),
        failed.len(),
        n as f64 / took,
        prepared.as_secs_f64()
    );
}

async fn count() {
    let (state, writer) = state().await;
    let pending = trousseau::storage::pairings::pending(state.db.pool())
        .await
        .expect("pending requests");
    writer.shutdown().await;
    println!("RESULT pending={}", pending.len());
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let o = opts(&args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("rpps") => write_rpps(
            o.get("pairings")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000),
            o.get("out").map(String::as_str).unwrap_or("rpps-bench.txt"),
        ),
        Some("start") => rt.block_on(start(&o)),
        Some("count") => rt.block_on(count()),
        other => eprintln!("unknown scenario {other:?}: use rpps, start or count"),
    }
}
