//! What Pro Santé Connect's profile costs a code round trip (scripts/bench-psc,
//! docs/benchmarks.md).
//!
//! `cargo bench --bench psc_profile -- --url URL [--rounds R] [--seconds S] [--concurrency C]`
//! opens Trousseau's database with the same configuration as the running server
//! (`TROUSSEAU__*` variables; the server needs a `[psc.federation] tid`), and prepares one
//! person with an RPPS link made by an administrator, an active e-CPS pairing and one SSO
//! session proven by a security key with user verification (phishing-resistant); then two
//! first-party clients with the same scopes and signing algorithm: a plain one and one
//! registered as Pro Santé Connect's broker (`psc_broker`).
//!
//! Each round drives, for `S` seconds each and `C` at a time, full round trips with that one
//! session: `GET /authorize` (PKCE, state, nonce; answered with the code at once) then
//! `POST /token` (client_secret_basic) with the code; for the broker the server also checks
//! the profile (phishing-resistant MFA, authentication age, valid pairing, no PSC-origin
//! session, known establishment) and adds `oid` and `tid` to the ID token. The two clients
//! alternate within a round and their order swaps from one round to the next, so that a
//! slower phase of the machine weighs on both. Prints one `RESULT` line per run, then the
//! median, minimum and maximum of each client and the profile's cost (1 − broker / plain).
//! With `--server-pid PID` it also reads the server's CPU time (`/proc/PID/stat`) around each
//! run and gives the CPU per round trip, which a machine shared with other work disturbs less
//! than the rate.
//!
//! Every run is bounded in time and the program stops by itself.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{COOKIE, LOCATION};
use trousseau::admin::clients::{self, ClientSpec};
use trousseau::admin::users::{self, NewUser};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};
use trousseau::clock::SystemClock;
use trousseau::config::Settings;
use trousseau::crypto::{random_token, s256};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::oidc::client::GrantType;
use trousseau::oidc::keys::SigningAlg;
use trousseau::psc::pairing::{self, Means, Proof};
use trousseau::state::AppState;

const SESSION_COOKIE: &str = "__Host-trousseau_session";
const IDNAT: &str = "810001045367";
const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const SCOPE: &str = "openid profile email";

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

async fn state() -> (AppState, trousseau::audit::AuditWriter) {
    let settings = Settings::load(None).expect("configuration");
    let (db, master) = trousseau::app::open_existing(&settings)
        .await
        .expect("open the server's database");
    AppState::new(settings, db, master, Arc::new(SystemClock))
        .await
        .expect("state")
}

/// A registered client: its id and secret.
#[derive(Clone)]
struct Rp {
    id: String,
    secret: String,
}

async fn register(state: &AppState, id: &str, psc_broker: bool) -> Rp {
    let spec = ClientSpec {
        id: id.to_owned(),
        name: id.to_owned(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        grants: vec![GrantType::AuthorizationCode],
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        signing_alg: SigningAlg::Es256,
        backchannel_logout_uri: None,
        first_party: true,
        require_pkce: true,
        jwks: None,
        min_acr: None,
        max_auth_age: None,
        introspect: false,
        psc_broker,
    };
    let secret = clients::create(state, &spec, "bench")
        .await
        .expect("register the client")
        .expect("a confidential client's secret");
    Rp {
        id: id.to_owned(),
        secret,
    }
}

/// The person, paired, and a session token proven by a security key with user verification.
async fn prepare(state: &AppState, tag: &str) -> String {
    let username = format!("bench-psc-{tag}");
    let created = users::create(
        state,
        NewUser {
            username: username.clone(),
            given_name: "Camille".into(),
            family_name: "Banc".into(),
            email: Some(format!("{username}@chu.example")),
            password: None,
        },
        "bench",
    )
    .await
    .expect("create the person");
    let idnat = IdNat::parse(IDNAT).unwrap();
    users::link_rpps(state, &username, &idnat, LinkMethod::Admin, "bench")
        .await
        .expect("link the person to the IdNat");
    let proof = Proof {
        identity_id: created.id.clone(),
        idnat,
        means: Means::Ciba,
        acr: Some("eidas1".into()),
    };
    pairing::record(&state.ecps(), &proof, &RequestContext::default())
        .await
        .expect("record the pairing");
    let factor = AuthFactor {
        method: Method::SecurityKey,
        user_verified: true,
    };
    let logged = trousseau::session::record_login(
        &state.sessions(),
        None,
        &created.id,
        factor,
        None,
        &RequestContext::default(),
    )
    .await
    .expect("session");
    logged.new_token.expect("a new session token")
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// One round trip with the session: the ID token's claims, or why it failed.
async fn round_trip(
    http: &reqwest::Client,
    base: &str,
    session: &str,
    rp: &Rp,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let verifier = random_token(32);
    let mut url = url::Url::parse(&format!("{base}/authorize")).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &rp.id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", SCOPE)
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", &s256(&verifier))
        .append_pair("code_challenge_method", "S256");
    let resp = http
        .get(url.as_str())
        .header(COOKIE, format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let to = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let code = param(&to, "code")
        .ok_or_else(|| format!("/authorize answered {} to {to:?}", resp.status()))?;
    let resp = http
        .post(format!("{base}/token"))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("/token answered {}", resp.status()));
    }
    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    let id_token = body["id_token"].as_str().ok_or("no id_token")?;
    let payload = id_token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// User + system CPU time of a process so far, in seconds (`/proc/PID/stat`).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// What one run measured.
struct Run {
    per_s: f64,
    failed: u64,
    /// The server's CPU time per round trip, in milliseconds (with `--server-pid`).
    cpu_ms: Option<f64>,
}

/// Round trips of `rp` for `seconds`, `concurrency` at a time.
async fn run(
    http: &reqwest::Client,
    base: &str,
    session: &str,
    rp: &Rp,
    seconds: f64,
    concurrency: usize,
    server: Option<u32>,
) -> Run {
    let cpu0 = server.and_then(cpu_secs);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, base, session, rp) = (
            http.clone(),
            base.to_owned(),
            session.to_owned(),
            rp.clone(),
        );
        let (ok, failed) = (ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match round_trip(&http, &base, &session, &rp).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{}: {e}", rp.id);
                        }
                        0
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let n = ok.load(Ordering::Relaxed);
    let cpu1 = server.and_then(cpu_secs);
    Run {
        per_s: n as f64 / start.elapsed().as_secs_f64(),
        failed: failed.load(Ordering::Relaxed),
        cpu_ms: cpu0
            .zip(cpu1)
            .filter(|_| n > 0)
            .map(|(a, b)| 1000.0 * (b - a) / n as f64),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

async fn bench(o: &HashMap<String, String>) {
    let get = |k: &str, d: &str| o.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let base = get("url", "http://127.0.0.1:18082");
    let rounds: usize = get("rounds", "6").parse().unwrap_or(6).max(1);
    let seconds: f64 = get("seconds", "5").parse().unwrap_or(5.0);
    let concurrency: usize = get("concurrency", "8").parse().unwrap_or(8).max(1);
    let server: Option<u32> = o.get("server-pid").and_then(|p| p.parse().ok());
    let (state, writer) = state().await;
    let tag = random_token(6).to_ascii_lowercase();
    let session = prepare(&state, &tag).await;
    let plain = register(&state, &format!("bench-plain-{tag}"), false).await;
    let broker = register(&state, &format!("bench-psc-{tag}"), true).await;
    writer.shutdown().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // The profile really applies: the broker's ID token names the person and the establishment.
    let claims = round_trip(&http, &base, &session, &broker)
        .await
        .unwrap_or_else(|e| panic!("the broker's round trip failed: {e}"));
    assert!(
        claims.contains_key("oid") && claims.contains_key("tid"),
        "the broker's ID token lacks oid or tid: {claims:?}"
    );
    let claims = round_trip(&http, &base, &session, &plain)
        .await
        .unwrap_or_else(|e| panic!("the plain client's round trip failed: {e}"));
    assert!(!claims.contains_key("oid"), "a plain client gets no oid");
    // Warm-up: connections, caches, the first signatures.
    run(&http, &base, &session, &plain, 1.0, concurrency, None).await;
    run(&http, &base, &session, &broker, 1.0, concurrency, None).await;

    let (mut plain_rates, mut broker_rates, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut plain_cpu, mut broker_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [(&plain, false), (&broker, true)]
        } else {
            [(&broker, true), (&plain, false)]
        };
        let mut pair = [0.0; 2];
        for (rp, is_broker) in order {
            let r = run(&http, &base, &session, rp, seconds, concurrency, server).await;
            let name = if is_broker { "psc_broker" } else { "plain" };
            let cpu = r
                .cpu_ms
                .map(|c| format!(" server_cpu_ms_per_round_trip={c:.3}"))
                .unwrap_or_default();
            println!(
                "RESULT round={} client={name} round_trips_per_s={:.1} failed={}{cpu} \
                 seconds={seconds} concurrency={concurrency}",
                round + 1,
                r.per_s,
                r.failed,
            );
            pair[usize::from(is_broker)] = r.per_s;
            if let Some(c) = r.cpu_ms {
                if is_broker {
                    broker_cpu.push(c);
                } else {
                    plain_cpu.push(c);
                }
            }
        }
        plain_rates.push(pair[0]);
        broker_rates.push(pair[1]);
        costs.push(100.0 * (1.0 - pair[1] / pair[0]));
    }
    let (pm, (pmin, pmax)) = (median(&plain_rates), spread(&plain_rates));
    let (bm, (bmin, bmax)) = (median(&broker_rates), spread(&broker_rates));
    let (cmin, cmax) = spread(&costs);
    println!("RESULT plain_round_trips_per_s median={pm:.1} min={pmin:.1} max={pmax:.1}");
    println!("RESULT psc_broker_round_trips_per_s median={bm:.1} min={bmin:.1} max={bmax:.1}");
    println!(
        "RESULT psc_profile_cost_percent of_medians={:.1} per_round_median={:.1} \
         per_round_min={cmin:.1} per_round_max={cmax:.1} rounds={rounds} (target <= 10)",
        100.0 * (1.0 - bm / pm),
        median(&costs),
    );
    if !plain_cpu.is_empty() && !broker_cpu.is_empty() {
        let (pc, (pcmin, pcmax)) = (median(&plain_cpu), spread(&plain_cpu));
        let (bc, (bcmin, bcmax)) = (median(&broker_cpu), spread(&broker_cpu));
        println!(
            "RESULT server_cpu_ms_per_round_trip plain_median={pc:.3} plain_min={pcmin:.3} \
             plain_max={pcmax:.3} psc_broker_median={bc:.3} psc_broker_min={bcmin:.3} \
             psc_broker_max={bcmax:.3} psc_profile_cpu_cost_percent={:.1}",
            100.0 * (bc / pc - 1.0)
        );
    }
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
    rt.block_on(bench(&o));
}
