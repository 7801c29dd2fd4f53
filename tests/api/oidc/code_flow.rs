//! The authorization code flow driven by the `openidconnect` crate as a relying party:
//! discovery, PKCE, code exchange, ID token verification (RS256, ES256, PS256), userinfo,
//! refresh, form_post and RFC 9207 `iss`.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use trousseau::oidc::keys::SigningAlg;

use crate::helpers::{TestApp, authorize, query_param, spawn_app};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Full flow for one signing algorithm.
async fn full_flow(app: &TestApp, alg: SigningAlg, jws: CoreJwsSigningAlgorithm) {
    let mut spec = app.spec(&format!("dpi-{}", alg.as_str().to_lowercase()));
    spec.signing_alg = alg;
    let rp = app.register(spec).await;
    app.create_user("alice", "correct horse battery").await;
    let http = http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp.id.clone()),
        rp.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let mut browser = app.browser();
    let back = authorize(
        &mut browser,
        url.as_str(),
        Some(("alice", "correct horse battery")),
    )
    .await;
    assert!(back.starts_with(&rp.redirect_uri), "{back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.issuer.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![jws.clone()]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("loa1"));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@chu.example")
    );
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "refresh tokens rotate"
    );
    let again = refreshed
        .id_token()
        .unwrap()
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("refreshed ID token verifies");
    assert_eq!(again.subject(), claims.subject());
    assert_eq!(
        again.auth_time(),
        claims.auth_time(),
        "a refresh is not a new authentication"
    );
}

#[tokio::test]
async fn code_flow_with_pkce_rs256() {
    full_flow(
        &spawn_app().await,
        SigningAlg::Rs256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    )
    .await;
}

#[tokio::test]
async fn code_flow_with_pkce_es256() {
    full_flow(
        &spawn_app().await,
        SigningAlg::Es256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    )
    .await;
}

#[tokio::test]
async fn code_flow_with_pkce_ps256() {
    full_flow(
        &spawn_app().await,
        SigningAlg::Ps256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    )
    .await;
}

#[tokio::test]
async fn login_page_is_french_first_and_accessible_without_javascript() {
    let app = spawn_app().await;
    let rp = app.rp("dpi").await;
    let (url, _) = crate::helpers::authorize_url(&app, &rp, &[("login_hint", "bob")]);
    let mut browser = app.browser();
    let resp = browser.get(&url).await;
    let (resp, location) = browser.follow(resp).await;
    assert!(location.contains("/login?flow="), "{location}");
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<html lang="fr">"#));
    assert!(
        html.contains(r#"autocomplete="username""#)
            && html.contains(r#"autocomplete="current-password""#)
    );
    assert!(html.contains(r#"<label for="username">Identifiant</label>"#));
    assert!(
        html.contains(r#"value="bob""#),
        "login_hint prefills the username"
    );
    assert!(
        html.contains("Application dpi"),
        "the page names the application"
    );
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
}
