//! The administration console on a large repository (scripts/bench-console,
//! docs/benchmarks.md "Administration console").
//!
//! `cargo bench --bench console -- seed --identities N --events M` opens Trousseau's database
//! with the server's configuration (`TROUSSEAU__*` variables) and fills it: N identities with
//! French names (created by the same function as `trousseau user create`, so their search
//! terms are written), a security key for one in two, an e-CPS pairing for one in five (expiring
//! over the next 90 days), and M audit events over the last 30 days (written in batches of
//! 1,000). An earlier seed is kept: run it on an empty database.
//!
//! `… -- measure --url URL --rounds R` signs an administrator in (a card session, loa3, the
//! `admin` role) and asks the running server, one request at a time, R times each: the search
//! (`/admin/identities?q=` a three-letter prefix of a name), a person's page
//! (`/admin/identities/{id}`) and the dashboard (`/admin`). Prints
//! `RESULT page=… p50_ms=… p99_ms=… max_ms=…`.
//!
//! Every step is bounded (a fixed number of requests, HTTP timeouts) and stops by itself.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use trousseau::admin::roles;
use trousseau::admin::users::{self, NewUser};
use trousseau::audit::RequestContext;
use trousseau::authn::level::{AuthFactor, Method};
use trousseau::clock::SystemClock;
use trousseau::config::Settings;
use trousseau::identity::AdminRole;
use trousseau::state::AppState;
use trousseau::storage::audit::{self as audit_store, AuditRecord};
use trousseau::storage::pairings::{self, PairingRecord};
use trousseau::storage::security_keys::{self, KeyRecord};

const SESSION_COOKIE: &str = "__Host-trousseau_session";

const FAMILY: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Leclercq",
    "Guillaume",
    "Lecomte",
];

const GIVEN: &[&str] = &[
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Hélène",
    "Claire",
    "Sophie",
    "Julie",
    "Anne",
    "Marie",
    "Céline",
    "Élodie",
    "Nathalie",
    "Isabelle",
    "Sandrine",
    "Agnès",
    "Aurélie",
    "Émilie",
    "Laura",
    "Hugo",
    "Lucas",
    "Louis",
    "Gabriel",
    "Jules",
    "Thomas",
    "Nicolas",
    "Julien",
    "Pierre",
    "Paul",
    "Hervé",
    "Jérôme",
    "François",
    "Antoine",
    "Mathieu",
    "Olivier",
    "Stéphane",
    "Benoît",
    "Rémi",
    "Théo",
];

/// A small deterministic generator (xorshift), so that two seeds are the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
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

fn number(o: &HashMap<String, String>, key: &str, default: usize) -> usize {
    o.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
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

/// Without accents or capitals, for usernames.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => 'e',
            'ï' | 'î' => 'i',
            'ô' => 'o',
            'ç' => 'c',
            'ë' => 'e',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// One identity, and its key and pairing when it has them.
async fn seed_one(state: &AppState, i: usize, now: i64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
    let family = FAMILY[rng.below(FAMILY.len())];
    let given = GIVEN[rng.below(GIVEN.len())];
    let username = format!("{}.{}{i}", plain(given), plain(family));
    let created = users::create(
        state,
        NewUser {
            username: username.clone(),
            given_name: given.into(),
            family_name: family.into(),
            email: Some(format!("{username}@chu.example")),
            password: None,
        },
        "bench",
    )
    .await
    .expect("create an identity (seed an empty database)");
    let id = created.id;
    let mut tx = state.db.begin().await.expect("transaction");
    if i.is_multiple_of(2) {
        let key = KeyRecord {
            id: uuid::Uuid::now_v7().to_string(),
            identity_id: id.clone(),
            credential_id: format!("bench-credential-{i}"),
            name: "Clé bleue".into(),
            credential: "{}".into(),
            aaguid: None,
            model: None,
            attested: 0,
            user_verified: 1,
            counter: 0,
            created_at: now - 86_400,
            created_via: "bench".into(),
            last_used_at: None,
            flagged_at: None,
            flag_reason: None,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
        };
        security_keys::insert(&mut tx, &key).await.expect("a key");
    }
    if i.is_multiple_of(5) {
        let pairing = PairingRecord {
            id: uuid::Uuid::now_v7().to_string(),
            identity_id: id,
            idnat: format!("8{:011}", 20_000_000_000u64 + i as u64),
            means: "ciba".into(),
            validated_at: now - 86_400 * 300,
            expires_at: now + 86_400 * (1 + rng.below(90) as i64),
            status: "active".into(),
            created_link: 0,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            acr: Some("eidas2".into()),
        };
        pairings::insert(&mut tx, &pairing)
            .await
            .expect("a pairing");
    }
    tx.commit().await.expect("commit");
}

const KINDS: &[(&str, &str)] = &[
    ("login", "success"),
    ("login", "success"),
    ("login", "success"),
    ("login", "failure"),
    ("token_issued", "success"),
    ("token_issued", "success"),
    ("session_ended", "success"),
    ("security_key_used", "success"),
    ("userinfo_served", "success"),
    ("request_refused", "failure"),
];

async fn seed(o: HashMap<String, String>) {
    let n = number(&o, "identities", 100_000);
    let events = number(&o, "events", 1_000_000);
    let (state, writer) = state().await;
    let now = state.clock.now();
    let t0 = Instant::now();
    futures_util::stream::iter(0..n)
        .for_each_concurrent(8, |i| {
            let state = &state;
            async move {
                seed_one(state, i, now).await;
                if (i + 1).is_multiple_of(10_000) {
                    eprintln!(
                        "  {} identities ({:.0} s)",
                        i + 1,
                        t0.elapsed().as_secs_f64()
                    );
                }
            }
        })
        .await;
    let identities_s = t0.elapsed().as_secs_f64();
    let subjects: Vec<String> = trousseau::storage::search::find(state.db.pool(), "", "", 5_000)
        .await
        .expect("identities")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let t1 = Instant::now();
    let mut rng = Rng(42);
    let mut written = 0;
    while written < events {
        let batch: Vec<AuditRecord> = (0..1_000.min(events - written))
            .map(|_| {
                let (kind, outcome) = KINDS[rng.below(KINDS.len())];
                AuditRecord {
                    id: uuid::Uuid::now_v7().to_string(),
                    at: now - rng.below(30 * 86_400) as i64,
                    kind: kind.into(),
                    outcome: outcome.into(),
                    reason: (outcome == "failure").then(|| "wrong_password".into()),
                    actor: None,
                    subject: subjects.get(rng.below(subjects.len().max(1))).cloned(),
                    client_id: Some(format!("dpi-{}", rng.below(5))),
                    source_ip: Some(format!("10.1.{}.{}", rng.below(255), rng.below(255))),
                    request_id: None,
                    details: Some(r#"{"method":"password"}"#.into()),
                }
            })
            .collect();
        audit_store::insert_batch(state.db.pool(), &batch)
            .await
            .expect("audit events");
        written += batch.len();
    }
    let events_s = t1.elapsed().as_secs_f64();
    drop(state);
    writer.shutdown().await;
    println!(
        "RESULT seeded identities={n} identities_s={identities_s:.1} events={events} events_s={events_s:.1}"
    );
}

/// Percentile `p` (0–100) of sorted durations, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i].as_secs_f64() * 1_000.0
}

async fn timed(http: &reqwest::Client, url: &str, cookie: &str, paths: &[String]) -> Vec<Duration> {
    let mut took = Vec::with_capacity(paths.len());
    for p in paths {
        let t = Instant::now();
        let resp = http
            .get(format!("{url}{p}"))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("an answer");
        assert_eq!(resp.status(), 200, "{p}");
        let _ = resp.bytes().await.expect("a body");
        took.push(t.elapsed());
    }
    took.sort();
    took
}

async fn measure(o: HashMap<String, String>) {
    let url = o.get("url").cloned().expect("--url");
    let rounds = number(&o, "rounds", 200);
    let (state, writer) = state().await;
    let admin = "bench-admin";
    if trousseau::storage::identities::by_username(state.db.pool(), admin)
        .await
        .expect("read")
        .is_none()
    {
        let new = NewUser {
            username: admin.into(),
            given_name: "Alice".into(),
            family_name: "Banc".into(),
            email: None,
            password: None,
        };
        users::create(&state, new, "bench").await.expect("admin");
    }
    roles::add(&state, admin, AdminRole::Admin, "bench")
        .await
        .expect("role");
    let me = trousseau::storage::identities::by_username(state.db.pool(), admin)
        .await
        .expect("read")
        .expect("the administrator");
    let factor = AuthFactor {
        method: Method::Card,
        user_verified: true,
    };
    let ctx = RequestContext::default();
    let logged =
        trousseau::session::record_login(&state.sessions(), None, &me.id, factor, None, &ctx)
            .await
            .expect("session");
    let cookie = format!("{SESSION_COOKIE}={}", logged.new_token.expect("a token"));
    let ids: Vec<String> = trousseau::storage::search::find(state.db.pool(), "", "", 5_000)
        .await
        .expect("identities")
        .into_iter()
        .map(|r| r.id)
        .collect();
    drop(state);
    writer.shutdown().await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut rng = Rng(7);
    let searches: Vec<String> = (0..rounds)
        .map(|i| {
            let name = if i.is_multiple_of(2) {
                FAMILY[rng.below(FAMILY.len())]
            } else {
                GIVEN[rng.below(GIVEN.len())]
            };
            let prefix: String = plain(name).chars().take(3).collect();
            format!("/admin/identities?q={prefix}")
        })
        .collect();
    let people: Vec<String> = (0..rounds)
        .map(|_| format!("/admin/identities/{}", ids[rng.below(ids.len())]))
        .collect();
    let dashboards: Vec<String> = (0..rounds).map(|_| "/admin".to_owned()).collect();
    // One warm-up of each page, not counted.
    timed(
        &http,
        &url,
        &cookie,
        &[searches[0].clone(), people[0].clone(), "/admin".into()],
    )
    .await;
    for (page, paths) in [
        ("search", &searches),
        ("person", &people),
        ("dashboard", &dashboards),
    ] {
        let took = timed(&http, &url, &cookie, paths).await;
        println!(
            "RESULT page={page} requests={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
            took.len(),
            pct(&took, 50.0),
            pct(&took, 99.0),
            pct(&took, 100.0)
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(cmd) = args.first() else {
        eprintln!(
            "usage: console seed|measure [--identities N] [--events M] [--url URL] [--rounds R]"
        );
        std::process::exit(2);
    };
    let o = opts(&args[1..]);
    match cmd.as_str() {
        "seed" => seed(o).await,
        "measure" => measure(o).await,
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}
