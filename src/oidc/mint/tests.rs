//! Unit tests of token minting and verification: the claims each token carries, its type and
//! signature, and every reason one of our own tokens is refused.

use std::sync::Arc;

use super::*;
use crate::clock::FixedClock;
use crate::config::DatabaseSettings;
use crate::crypto::master_key::MasterKey;
use crate::identity::Status;
use crate::oidc::client::{ClientAuthMethod, ClientPolicy, GrantType};
use crate::oidc::keys::{KeyRing, SigningAlg};
use crate::protocol::ClientId;
use crate::storage::Db;

const ISSUER: &str = "https://trousseau.example";
const NOW: i64 = 1_800_000_000;

/// A key set with a current key per algorithm, from a throw-away SQLite database.
async fn keys() -> (tempfile::TempDir, Arc<KeySet>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&DatabaseSettings {
        url: format!("sqlite://{}", dir.path().join("keys.db").display()),
        migrate: true,
        max_connections: 2,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let ring = KeyRing::new(
        db,
        Arc::new(MasterKey::from_bytes([7; 32])),
        FixedClock::new(NOW),
    );
    ring.ensure().await.unwrap();
    (dir, ring.get().await.unwrap())
}

/// A second, independent key set.
async fn keys_for_another_node() -> (tempfile::TempDir, Arc<KeySet>) {
    keys().await
}

fn client(alg: SigningAlg) -> Client {
    Client {
        id: ClientId::new("dpi").unwrap(),
        name: "DPI".into(),
        secret_hash: None,
        auth_method: ClientAuthMethod::ClientSecret,
        jwks: None,
        redirect_uris: vec!["https://dpi.example/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        grants: vec![GrantType::AuthorizationCode],
        scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
        signing_alg: alg,
        backchannel_logout_uri: None,
        first_party: false,
        require_pkce: true,
        policy: ClientPolicy::default(),
        introspect: false,
        disabled: false,
    }
}

fn identity() -> IdentityRecord {
    IdentityRecord {
        id: "id-alice".into(),
        username: "alice".into(),
        given_name: "Alice".into(),
        family_name: "Martin".into(),
        email: Some("alice@chu.example".into()),
        status: Status::Active,
        status_reason: None,
        status_at: None,
        created_at: NOW - 86_400,
        updated_at: NOW - 3600,
        employee_number: None,
        department: None,
        hr_arrival: None,
        hr_departure: None,
        birth_date: None,
    }
}

fn session() -> SessionClaims {
    SessionClaims {
        sid: "sid-1".into(),
        auth_time: NOW - 30,
        acr: "loa2".into(),
        amr: vec![crate::protocol::Amr::Pwd, crate::protocol::Amr::Hwk],
        idp: None,
    }
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn an_access_token_is_an_at_jwt_with_its_session_and_grant() {
    let (_dir, keys) = keys().await;
    let c = client(SigningAlg::Es256);
    let at = access_token(
        &keys,
        ISSUER,
        &c,
        "id-alice",
        "openid profile",
        Some(&session()),
        Some("grant-1"),
        300,
        NOW,
    )
    .unwrap();
    assert_eq!(at.expires_in, 300);
    let h = header(&at.token);
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["kid"], keys.signing(SigningAlg::Es256).unwrap().kid);
    let claims = verify(&keys, ISSUER, &at.token, Some("at+jwt"), Some(NOW)).unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["sub"], "id-alice");
    assert_eq!(claims["client_id"], "dpi");
    assert_eq!(claims["scope"], "openid profile");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + 300);
    assert_eq!(claims["jti"], at.jti.as_str());
    assert_eq!(claims["sid"], "sid-1");
    assert_eq!(claims["auth_time"], NOW - 30);
    assert_eq!(claims["acr"], "loa2");
    assert_eq!(claims["amr"], json!(["pwd", "hwk"]));
    assert_eq!(claims[GRANT_CLAIM], "grant-1");
}

#[tokio::test]
async fn a_client_credentials_token_has_no_session_claims() {
    let (_dir, keys) = keys().await;
    let at = access_token(
        &keys,
        ISSUER,
        &client(SigningAlg::Rs256),
        "dpi",
        "api.read",
        None,
        None,
        60,
        NOW,
    )
    .unwrap();
    assert_eq!(header(&at.token)["alg"], "RS256");
    let claims = verify(&keys, ISSUER, &at.token, Some("at+jwt"), Some(NOW)).unwrap();
    for absent in ["sid", "auth_time", "acr", "amr", GRANT_CLAIM] {
        assert!(!claims.contains_key(absent), "{absent}");
    }
    // Each token has its own id.
    let again = access_token(
        &keys,
        ISSUER,
        &client(SigningAlg::Rs256),
        "dpi",
        "api.read",
        None,
        None,
        60,
        NOW,
    )
    .unwrap();
    assert_ne!(at.jti, again.jti);
}

#[tokio::test]
async fn an_id_token_carries_the_login_the_nonce_and_the_at_hash() {
    let (_dir, keys) = keys().await;
    let c = client(SigningAlg::Ps256);
    let mut extra = Map::new();
    extra.insert("rpps".into(), json!("810000000011"));
    let token = id_token(
        &keys,
        ISSUER,
        &c,
        &identity(),
        "openid profile",
        &session(),
        Some("n0nce"),
        Some("the-access-token"),
        extra,
        600,
        NOW,
    )
    .unwrap();
    assert_eq!(header(&token)["typ"], "JWT");
    assert_eq!(header(&token)["alg"], "PS256");
    let claims = verify(&keys, ISSUER, &token, Some("JWT"), Some(NOW)).unwrap();
    assert_eq!(claims["sub"], "id-alice");
    assert_eq!(claims["aud"], "dpi");
    assert_eq!(claims["azp"], "dpi");
    assert_eq!(claims["exp"], NOW + 600);
    assert_eq!(claims["auth_time"], NOW - 30);
    assert_eq!(claims["acr"], "loa2");
    assert_eq!(claims["amr"], json!(["pwd", "hwk"]));
    assert_eq!(claims["sid"], "sid-1");
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["rpps"], "810000000011");
    // OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url.
    let digest = Sha256::digest(b"the-access-token");
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    // profile without email: no email claim.
    assert_eq!(claims["name"], "Alice Martin");
    assert_eq!(claims["preferred_username"], "alice");
    assert!(!claims.contains_key("email"));
}

#[tokio::test]
async fn an_id_token_without_nonce_or_access_token_has_neither_claim() {
    let (_dir, keys) = keys().await;
    let token = id_token(
        &keys,
        ISSUER,
        &client(SigningAlg::Es256),
        &identity(),
        "openid",
        &session(),
        None,
        None,
        Map::new(),
        600,
        NOW,
    )
    .unwrap();
    let claims = verify(&keys, ISSUER, &token, None, None).unwrap();
    assert!(!claims.contains_key("nonce"));
    assert!(!claims.contains_key("at_hash"));
    assert!(
        !claims.contains_key("name"),
        "no profile scope, no profile claims"
    );
}

#[tokio::test]
async fn psc_broker_id_tokens_always_carry_oid_names_and_email() {
    let (_dir, keys) = keys().await;
    let mut c = client(SigningAlg::Rs256);
    c.policy.psc_broker = true;
    let mut extra = Map::new();
    extra.insert("tid".into(), json!("chu-a"));
    let token = id_token(
        &keys,
        ISSUER,
        &c,
        &identity(),
        "openid",
        &session(),
        Some("n"),
        None,
        extra,
        600,
        NOW,
    )
    .unwrap();
    let claims = verify(&keys, ISSUER, &token, None, None).unwrap();
    assert_eq!(claims["oid"], "id-alice");
    assert_eq!(claims["sub"], claims["oid"]);
    assert_eq!(claims["tid"], "chu-a");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["preferred_username"], "alice");
    assert!(claims.contains_key("email"));
    assert!(claims.contains_key("auth_time") && claims.contains_key("amr"));
}

#[test]
fn identity_claims_follow_the_scopes() {
    let id = identity();
    assert!(identity_claims(&id, &["openid"]).is_empty());
    let profile = identity_claims(&id, &["openid", "profile"]);
    assert_eq!(profile["given_name"], "Alice");
    assert_eq!(profile["family_name"], "Martin");
    assert_eq!(profile["updated_at"], NOW - 3600);
    let email = identity_claims(&id, &["email"]);
    assert_eq!(email["email"], "alice@chu.example");
    assert_eq!(email["email_verified"], false);
    assert!(!email.contains_key("name"));
    let mut no_email = identity();
    no_email.email = None;
    assert!(identity_claims(&no_email, &["email"]).is_empty());
}

#[tokio::test]
async fn a_logout_token_has_the_event_and_no_nonce() {
    let (_dir, keys) = keys().await;
    let token = logout_token(
        &keys,
        ISSUER,
        &client(SigningAlg::Es256),
        "id-alice",
        "sid-1",
        NOW,
    )
    .unwrap();
    assert_eq!(header(&token)["typ"], "logout+jwt");
    let claims = verify(&keys, ISSUER, &token, Some("logout+jwt"), Some(NOW)).unwrap();
    assert_eq!(claims["aud"], "dpi");
    assert_eq!(claims["sid"], "sid-1");
    assert_eq!(claims["exp"], NOW + 120);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["jti"].is_string());
    assert!(!claims.contains_key("nonce"));
}

/// A token, the issuer expected, the type expected, the time of the check, and why it fails.
type Refused<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<i64>,
    TokenRejection,
);

#[tokio::test]
async fn verify_refuses_each_way_a_token_can_be_wrong() {
    let (_dir, keys) = keys().await;
    let c = client(SigningAlg::Es256);
    let at = access_token(
        &keys, ISSUER, &c, "id-alice", "openid", None, None, 300, NOW,
    )
    .unwrap()
    .token;
    let cases: [Refused; 4] = [
        ("not a jwt", ISSUER, None, None, TokenRejection::Malformed),
        (
            &at,
            "https://other.example",
            None,
            None,
            TokenRejection::WrongIssuer,
        ),
        (&at, ISSUER, Some("JWT"), None, TokenRejection::WrongType),
        (&at, ISSUER, None, Some(NOW + 300), TokenRejection::Expired),
    ];
    for (token, issuer, typ, now, rejection) in cases {
        assert_eq!(
            verify(&keys, issuer, token, typ, now),
            Err(rejection),
            "{rejection:?}"
        );
    }
    // One second before `exp` it is still good.
    assert!(verify(&keys, ISSUER, &at, None, Some(NOW + 299)).is_ok());

    // Another key set does not know the kid.
    let (_other_dir, other) = keys_for_another_node().await;
    assert_eq!(
        verify(&other, ISSUER, &at, None, None),
        Err(TokenRejection::UnknownKey)
    );
    // A changed payload breaks the signature.
    let mut parts: Vec<&str> = at.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://trousseau.example","exp":1}"#);
    parts[1] = &forged;
    assert_eq!(
        verify(&keys, ISSUER, &parts.join("."), None, None),
        Err(TokenRejection::BadSignature)
    );
    // Each rejection has its stable reason code.
    assert_eq!(TokenRejection::Expired.reason(), "token_expired");
    assert_eq!(TokenRejection::UnknownKey.reason(), "unknown_kid");
}
