//! What each fuzz target runs, one function per target, shared by the fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and by the replay of the committed corpora in `cargo test`
//! (`tests/fuzz_corpus.rs`); both include this file by path (docs/fuzzing.md).
//!
//! Each function feeds any bytes to Trousseau's own parsers of untrusted input and checks
//! that they refuse or accept, never panic. The fixed keys and test PKI they trust are in
//! `fuzz/fixtures/`; the time is fixed ([`NOW`]) so that the signed seeds stay valid.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use trousseau::authn::cps::crl::{self, CrlStore, Revocation};
use trousseau::authn::cps::header::{CertEncoding, decode};
use trousseau::authn::cps::{CardVerifier, ocsp, subject};
use trousseau::clock::FixedClock;
use trousseau::config::{DatabaseSettings, DirectoryKind, LdapAttributes, Settings};
use trousseau::crypto::master_key::MasterKey;
use trousseau::directory::hr;
use trousseau::directory::rpps::header::HEADER_56;
use trousseau::directory::rpps::{Event, scan};
use trousseau::endpoint::client_auth::{check_assertion, parse_basic};
use trousseau::endpoint::token::TokenRequest;
use trousseau::identity::IdNat;
use trousseau::ldap::{DirEntry, ad_subcode, guid_text, normalize_login, ppolicy_error, requested};
use trousseau::oidc::client::{Client, ClientAuthMethod, ClientPolicy, GrantType};
use trousseau::oidc::keys::{KeyRing, KeySet, SigningAlg};
use trousseau::oidc::mint;
use trousseau::oidc::params::Params;
use trousseau::oidc::request::{self, PARAMETER_BOUNDS};
use trousseau::protocol::{Acr, AcrLadder, Amr, ClientId, PromptSet, RedirectUri, ScopeSet};
use trousseau::psc::client::{CibaStarted, PscClient, PscProviderMetadata};
use trousseau::psc::protocol::{self as psc_protocol, ErrorResponse, TokenResponse, UserInfo};
use trousseau::storage::Db;
use trousseau::storage::keys::{self as key_store, KeyRecord};

/// The time every target checks tokens, certificates and lists at (unix seconds): inside the
/// validity of the fixtures and of the signed seeds.
pub const NOW: i64 = 1_796_688_000;
/// Trousseau's issuer in the own tokens and client assertions of the seeds.
pub const ISSUER: &str = "https://trousseau.example";
/// The PSC issuer of the PSC seeds. Nothing listens there: a `kid` PSC did not publish makes
/// the client read PSC's keys again, which fails at once.
pub const PSC_ISSUER: &str = "http://127.0.0.1:1/psc";
/// The client id Trousseau holds at PSC in the PSC seeds.
pub const PSC_CLIENT: &str = "trousseau-fuzz";

/// What a target runs on one input.
pub type Entry = fn(&[u8]);

/// Every target and its function, by the name of its `[[bin]]` in `fuzz/Cargo.toml` and of
/// its corpus folder.
pub const TARGETS: &[(&str, Entry)] = &[
    ("authorize_query", authorize_query),
    ("token_request", token_request),
    ("client_assertion", client_assertion),
    ("own_token", own_token),
    ("psc_id_token", psc_id_token),
    ("psc_answer", psc_answer),
    ("card_certificate", card_certificate),
    ("card_subject", card_subject),
    ("revocation", revocation),
    ("rpps_line", rpps_line),
    ("hr_line", hr_line),
    ("ldap_entry", ldap_entry),
];

// ---------------------------------------------------------------------------------------
// Shared fixtures.

const ROOT_CA: &[u8] = include_bytes!("fixtures/cps/root.der");
const PERSONAL_CA: &[u8] = include_bytes!("fixtures/cps/personal-ca.der");
const ORGANISATIONS_CA: &[u8] = include_bytes!("fixtures/cps/organisations-ca.der");
const CARD: &[u8] = include_bytes!("fixtures/cps/card.der");
const PERSONAL_CRL: &[u8] = include_bytes!("fixtures/cps/personal-ca.crl");
const ORGANISATIONS_CRL: &[u8] = include_bytes!("fixtures/cps/organisations-ca.crl");
const OWN_JWKS: &str = include_str!("fixtures/jose/own.jwks.json");
const CLIENT_JWKS: &str = include_str!("fixtures/jose/client.jwks.json");
const PSC_JWKS: &str = include_str!("fixtures/jose/psc.jwks.json");

/// One runtime for the targets that call async code (the key ring, the PSC client).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        Settings::from_overrides(&format!(
            "[cps]\nallow_test_anchors = true\n\n[psc]\nenvironment = \"local\"\n\
             issuer = \"{PSC_ISSUER}\"\nclient_id = \"{PSC_CLIENT}\"\nconnect_timeout_ms = 200\n\
             timeout_ms = 500\n"
        ))
        .expect("the fuzz settings")
    })
}

fn levels() -> AcrLadder {
    serde_json::from_str(r#"["loa1", "loa2", "loa3"]"#).expect("a ladder")
}

/// A registered client: `dpi` (secret, PKCE required) or `dpi-jwt` (`private_key_jwt` with
/// the keys of `fixtures/jose/client.jwks.json`).
pub fn client(jwt: bool) -> Client {
    Client {
        id: ClientId::new(if jwt { "dpi-jwt" } else { "dpi" }).expect("a client id"),
        name: "DPI".into(),
        secret_hash: None,
        auth_method: if jwt {
            ClientAuthMethod::PrivateKeyJwt
        } else {
            ClientAuthMethod::ClientSecret
        },
        jwks: jwt.then(|| serde_json::from_str(CLIENT_JWKS).expect("the client JWKS")),
        redirect_uris: vec![
            "https://dpi.example/cb".into(),
            "http://127.0.0.1:8080/cb".into(),
        ],
        post_logout_redirect_uris: vec!["https://dpi.example/bye".into()],
        grants: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ],
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
        signing_alg: SigningAlg::Es256,
        backchannel_logout_uri: None,
        first_party: false,
        require_pkce: !jwt,
        policy: ClientPolicy::default(),
        introspect: false,
        disabled: false,
    }
}

/// The protocol values an authorization or token request carries, each parsed as the
/// endpoints do.
fn protocol_values(params: &Params) {
    if let Some(scope) = params.get("scope")
        && let Ok(set) = ScopeSet::parse(scope)
    {
        let again = ScopeSet::parse(&set.to_string()).expect("a printed scope set parses");
        assert_eq!(again.to_string(), set.to_string());
    }
    if let Some(prompt) = params.get("prompt") {
        let _ = PromptSet::parse(prompt);
    }
    if let Some(acr) = params.get("acr_values") {
        let _ = Acr::parse_values(acr);
    }
    if let Some(amr) = params.get("amr") {
        let _ = Amr::parse(amr);
    }
    if let Some(id) = params.get("client_id") {
        let _ = ClientId::new(id);
    }
    for name in ["redirect_uri", "post_logout_redirect_uri"] {
        if let Some(uri) = params.get(name) {
            let _ = RedirectUri::new(uri);
        }
    }
    if let Some(hint) = params.get("login_hint") {
        let _ = IdNat::parse(hint);
    }
}

// ---------------------------------------------------------------------------------------
// OAuth 2 / OpenID Connect requests.

/// The query of `/authorize` (and a pushed request's form): the strict parameter parser that
/// refuses repeated parameters, then the authorization request parser against a registered
/// client, for a known and an unknown client.
pub fn authorize_query(data: &[u8]) {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    protocol_values(&params);
    let kept = request::known_params(&params);
    for (name, _) in PARAMETER_BOUNDS {
        assert_eq!(kept.get(name), params.get(name));
    }
    let stored = Params::from_json(&kept.to_json()).expect("stored parameters read back");
    for (name, _) in PARAMETER_BOUNDS {
        assert_eq!(stored.get(name), kept.get(name));
    }
    let levels = levels();
    let _ = request::parse(None, &params, &levels);
    for jwt in [false, true] {
        if let Ok(ar) = request::parse(Some(Arc::new(client(jwt))), &params, &levels) {
            let _ = ar.reply_to();
            let _ = ar.required_level();
            let _ = ar.max_auth_age();
            let _ = ar.with_federation(&settings().psc.federation);
        }
    }
}

/// A token request: the first line is the `Authorization` header value (HTTP Basic client
/// credentials), the rest the form body, read by the strict parameter parser and then as one
/// grant's request. End-session and revocation forms go through the same parser.
pub fn token_request(data: &[u8]) {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    if let Ok(header) = std::str::from_utf8(header) {
        let _ = parse_basic(header);
    }
    let Ok(params) = Params::parse(body) else {
        return;
    };
    protocol_values(&params);
    if let Ok(request) = TokenRequest::parse(&params) {
        let _ = request.grant();
    }
}

// ---------------------------------------------------------------------------------------
// JOSE: client assertions, Trousseau's own tokens, PSC's tokens.

/// A `private_key_jwt` client assertion, checked against the keys the client registered,
/// without and with a `client_id` beside it.
pub fn client_assertion(data: &[u8]) {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| client(true));
    let text = String::from_utf8_lossy(data);
    for param_id in [None, Some("dpi-jwt")] {
        if let Ok((exp, _jti)) = check_assertion(client, &text, param_id, ISSUER, NOW) {
            assert!(exp <= NOW + 600 && exp + 30 >= NOW, "exp {exp} accepted");
        }
    }
}

/// The keys of `fixtures/jose/own.jwks.json` as Trousseau's published signing keys, loaded
/// through the key ring from a throw-away SQLite database (removed at once).
pub fn own_keys() -> &'static Arc<KeySet> {
    static KEYS: OnceLock<Arc<KeySet>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("trousseau-fuzz-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let keys = runtime().block_on(async {
            let db = Db::connect(&DatabaseSettings {
                url: format!("sqlite://{}", dir.join("keys.db").display()),
                migrate: true,
                max_connections: 1,
            })
            .await
            .expect("a SQLite database");
            db.migrate().await.expect("migrations");
            let jwks: serde_json::Value = serde_json::from_str(OWN_JWKS).expect("own JWKS");
            let mut tx = db.begin().await.expect("a transaction");
            for jwk in jwks["keys"].as_array().expect("keys") {
                let record = KeyRecord {
                    kid: jwk["kid"].as_str().expect("kid").to_owned(),
                    alg: jwk["alg"].as_str().expect("alg").to_owned(),
                    // Published ahead: only the public half is read.
                    state: "next".to_owned(),
                    public_jwk: jwk.to_string(),
                    private_enc: String::new(),
                    created_at: NOW - 86_400,
                    activated_at: None,
                    retired_at: None,
                    publish_until: None,
                };
                key_store::insert(&mut tx, &record).await.expect("a key");
            }
            tx.commit().await.expect("commit");
            let ring = KeyRing::new(
                db,
                Arc::new(MasterKey::from_bytes([7; 32])),
                FixedClock::new(NOW),
            );
            ring.get().await.expect("the key set")
        });
        let _ = std::fs::remove_dir_all(&dir);
        keys
    })
}

/// One of Trousseau's own tokens presented back to it: an `id_token_hint` at end-session (no
/// expiry check), an access token at userinfo or revocation, a logout token, checked with
/// the published keys.
pub fn own_token(data: &[u8]) {
    let keys = own_keys();
    let text = String::from_utf8_lossy(data);
    for (typ, now) in [
        (Some("JWT"), None),
        (Some("at+jwt"), Some(NOW)),
        (Some("logout+jwt"), Some(NOW)),
        (None, Some(NOW)),
    ] {
        if let Ok(claims) = mint::verify(keys, ISSUER, &text, typ, now) {
            assert_eq!(
                claims.get("iss").and_then(|v| v.as_str()),
                Some(ISSUER),
                "a verified token names this issuer"
            );
        }
    }
}

pub fn psc_client() -> &'static PscClient {
    static CLIENT: OnceLock<PscClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // reqwest's client is built inside the runtime it will be used from.
        runtime().block_on(async {
            PscClient::probe(&settings().psc, FixedClock::new(NOW)).expect("a PSC client")
        })
    })
}

pub fn psc_keys() -> &'static openidconnect::core::CoreJsonWebKeySet {
    static KEYS: OnceLock<openidconnect::core::CoreJsonWebKeySet> = OnceLock::new();
    KEYS.get_or_init(|| serde_json::from_str(PSC_JWKS).expect("PSC JWKS"))
}

/// An ID token from Pro Santé Connect (first line) and, when a second line follows, a signed
/// userinfo (`application/jwt`): checked with PSC's keys (`fixtures/jose/psc.jwks.json`),
/// then the professional they prove.
pub fn psc_id_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (id_token, userinfo) = match text.split_once('\n') {
        Some((id, rest)) => (id, Some(rest.trim())),
        None => (text.as_ref(), None),
    };
    let result = runtime().block_on(psc_client().verify_with_keys(
        psc_keys().clone(),
        id_token.trim(),
        userinfo,
    ));
    if let Ok(proven) = result {
        assert!(proven.idnat.is_personal(), "only a professional is proven");
    }
}

/// A JSON answer of Pro Santé Connect (discovery, JWKS, token and CIBA answers, OAuth
/// errors, userinfo), read as Trousseau's PSC client reads each; then, as verified claims
/// (and as their own userinfo), the professional they would prove.
pub fn psc_answer(data: &[u8]) {
    let _ = serde_json::from_slice::<PscProviderMetadata>(data);
    let _ = serde_json::from_slice::<openidconnect::core::CoreJsonWebKeySet>(data);
    let _ = serde_json::from_slice::<TokenResponse>(data);
    let _ = serde_json::from_slice::<CibaStarted>(data);
    let _ = serde_json::from_slice::<psc_protocol::Discovery>(data);
    if let Ok(e) = serde_json::from_slice::<ErrorResponse>(data) {
        let _ = e.code();
    }
    if let Ok(info) = serde_json::from_slice::<UserInfo>(data) {
        let _ = info.claims.idnat();
        let _ = psc_protocol::subject_idnat(&info.sub);
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(sub) = claims.get("sub").and_then(|s| s.as_str()) {
            let _ = psc_protocol::subject_idnat(sub);
        }
        let _ = PscClient::proven(claims.clone(), None);
        if let Ok(proven) = PscClient::proven(claims.clone(), Some(claims)) {
            assert!(proven.idnat.is_personal(), "only a professional is proven");
        }
    }
}

// ---------------------------------------------------------------------------------------
// CPS cards: the proxy header, certificates and their subjects, revocation lists, OCSP.

/// What a card login reads from the network: the proxy's certificate header in its three
/// encodings, and any bytes as a presented certificate or a revocation list. Refusals, never
/// a panic.
pub fn card_certificate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for encoding in [
        CertEncoding::UrlPem,
        CertEncoding::Pem,
        CertEncoding::Base64Der,
    ] {
        let _ = decode(&text, encoding);
    }
    let _ = crl::parse(data, &[], "fuzz");
    // Any bytes as a card certificate, against a verifier whose anchor is the bytes too.
    if let Ok(v) = CardVerifier::from_certs(vec![data.to_vec().into()], vec![], &settings().cps) {
        let _ = v.check(&[data.to_vec().into()], 1_800_000_000);
    }
}

/// The verifier of the test PKI in `fixtures/cps/`: the root as anchor, the personal and
/// organisations CAs as intermediates, and a current revocation list of each.
pub fn card_verifier() -> &'static CardVerifier {
    static VERIFIER: OnceLock<CardVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let verifier = CardVerifier::from_certs(
            vec![ROOT_CA.to_vec().into()],
            vec![
                PERSONAL_CA.to_vec().into(),
                ORGANISATIONS_CA.to_vec().into(),
            ],
            &settings().cps,
        )
        .expect("the test PKI");
        for list in [PERSONAL_CRL, ORGANISATIONS_CRL] {
            let list = crl::parse(list, verifier.cas(), "fixtures").expect("a CRL of the PKI");
            verifier.crls.install(list);
        }
        verifier
    })
}

/// A card certificate (DER) or a subject name (DER): who it names (the multi-valued RDN of a
/// personal card, a structure card's CN), its OCSP responder, and the whole check against the
/// test PKI.
pub fn card_subject(data: &[u8]) {
    use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
    if let Ok((_, name)) = X509Name::from_der(data) {
        let _ = subject::holder(&name);
    }
    if let Ok((_, cert)) = X509Certificate::from_der(data) {
        let _ = subject::holder(cert.subject());
    }
    let _ = ocsp::responder_of(data);
    let verifier = card_verifier();
    let chain = [data.to_vec().into()];
    if let Ok(card) = verifier.check(&chain, NOW) {
        assert!(
            !card.serial.is_empty(),
            "a checked card has a serial number"
        );
    }
    let with_issuer = [data.to_vec().into(), PERSONAL_CA.to_vec().into()];
    let _ = verifier.inspect(&with_issuer, NOW);
}

pub fn ocsp_parties() -> &'static (openssl::x509::X509, openssl::x509::X509) {
    static PARTIES: OnceLock<(openssl::x509::X509, openssl::x509::X509)> = OnceLock::new();
    PARTIES.get_or_init(|| {
        (
            openssl::x509::X509::from_der(CARD).expect("the card"),
            openssl::x509::X509::from_der(PERSONAL_CA).expect("its CA"),
        )
    })
}

/// A revocation list (DER or PEM) of a card CA, its signature checked against the test PKI
/// and installed; and an OCSP answer about the test card.
pub fn revocation(data: &[u8]) {
    let cas = card_verifier().cas();
    if let Ok(list) = crl::parse(data, cas, "fuzz") {
        let _ = list.is_revoked(&[0x10, 0x00]);
        let issuer = list.issuer_raw.clone();
        let store = CrlStore::default();
        store.install(list);
        let status = store.status(&issuer, &[0x00, 0x10, 0x00], NOW);
        assert_ne!(status, Revocation::Missing, "an installed list is found");
    }
    let (card, issuer) = ocsp_parties();
    let _ = ocsp::judge(data, card, issuer, cas, NOW);
}

// ---------------------------------------------------------------------------------------
// Directory imports: RPPS, HR, LDAP.

/// The RPPS extraction parser: any bytes after a valid header (and as a header) must give
/// professionals and rejected lines, never a panic, and counts that add up.
pub fn rpps_line(data: &[u8]) {
    let mut file = Vec::with_capacity(HEADER_56.len() + 1 + data.len());
    file.extend_from_slice(HEADER_56.as_bytes());
    file.push(b'\n');
    file.extend_from_slice(data);
    for bytes in [&file[..], data] {
        let mut pros = 0u64;
        let mut rejected = 0u64;
        let mut activities = 0u64;
        let result = scan(bytes, |e| {
            match e {
                Event::Professional(p) => {
                    pros += 1;
                    activities += u64::from(p.activities);
                    assert_eq!(p.activities().len(), p.activities as usize);
                }
                Event::Rejected { .. } => rejected += 1,
                Event::Progress { .. } => {}
            }
            true
        });
        if let Ok(t) = result {
            assert_eq!(
                (t.professionals, t.rejected, t.activities),
                (pros, rejected, activities)
            );
            assert_eq!(t.lines, t.activities + t.rejected);
        }
    }
}

/// An HR export (header line first), read with the CSV settings of the import (`;`, flexible
/// records, a UTF-8 BOM dropped) and each record checked against the default columns.
pub fn hr_line(data: &[u8]) {
    let bytes = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let columns = &settings().hr.columns;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let Ok(header) = reader.headers().cloned() else {
        return;
    };
    let mut record = csv::StringRecord::new();
    // Bounded: a line that cannot be read is counted and skipped, as the import does.
    for _ in 0..10_000 {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if hr::check_record(&header, &record, columns).is_err() {
                    return;
                }
            }
            Err(_) => continue,
        }
    }
}

/// Attribute names of an Active Directory and of an OpenLDAP directory, every mapped
/// attribute set.
fn ldap_attributes(kind: DirectoryKind) -> LdapAttributes {
    let s = |v: &str| v.to_owned();
    match kind {
        DirectoryKind::Ad => LdapAttributes {
            username: s("sAMAccountName"),
            upn: s("userPrincipalName"),
            email: s("mail"),
            given_name: s("givenName"),
            family_name: s("sn"),
            employee_number: s("employeeID"),
            member_of: s("memberOf"),
            account_control: s("userAccountControl"),
            idnat: s("extensionAttribute1"),
            unique_id: s("objectGUID"),
            establishment: s("extensionAttribute2"),
        },
        DirectoryKind::Openldap => LdapAttributes {
            username: s("uid"),
            upn: String::new(),
            email: s("mail"),
            given_name: s("givenName"),
            family_name: s("sn"),
            employee_number: s("employeeNumber"),
            member_of: s("memberOf"),
            account_control: String::new(),
            idnat: s("businessCategory"),
            unique_id: s("entryUUID"),
            establishment: String::new(),
        },
    }
}

/// A directory entry as a search returns it, written as a small LDIF-like text: the first
/// line is the DN, then `name: value` (text) or `name:: base64` (binary) lines. It is mapped
/// through the attributes of an AD and of an OpenLDAP directory; every text value is also
/// read as a bind's diagnostic message and as a login, every binary value as a
/// password-policy control and an objectGUID.
pub fn ldap_entry(data: &[u8]) {
    use base64::Engine;
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let dn = lines.next().unwrap_or_default().to_owned();
    let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
    let mut bin_attrs: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(":: ") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .unwrap_or_else(|_| value.as_bytes().to_vec());
            let _ = ppolicy_error(&bytes);
            let _ = guid_text(&bytes);
            bin_attrs.entry(name.to_owned()).or_default().push(bytes);
        } else if let Some((name, value)) = line.split_once(':') {
            let value = value.strip_prefix(' ').unwrap_or(value);
            let _ = ad_subcode(value);
            let _ = normalize_login(value);
            attrs
                .entry(name.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    let _ = ppolicy_error(data);
    for kind in [DirectoryKind::Ad, DirectoryKind::Openldap] {
        let a = ldap_attributes(kind);
        let _ = requested(&a, kind);
        let entry = ldap3::SearchEntry {
            dn: dn.clone(),
            attrs: attrs.clone(),
            bin_attrs: bin_attrs.clone(),
        };
        if let Some(e) = DirEntry::from_search(entry, &a, kind) {
            assert!(!e.username.is_empty(), "an entry has a login name");
            assert!(!e.unique_id.is_empty(), "an entry has a unique id");
            let _ = e.disabled();
            let _ = e.fingerprint(&["medecin".to_owned()]);
        }
    }
}
