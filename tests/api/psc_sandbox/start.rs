//! Start-up: discovery and JWKS as PSC publishes them, claims from the RPPS file, refusals of
//! a non-loopback address and of a bad configuration.

use serde_json::Value;
use trousseau::psc::protocol::Discovery;

use crate::helpers::sandbox::{SandboxOptions, binary, spawn_sandbox, write_config};

#[tokio::test]
async fn discovery_advertises_the_sandbox_endpoints() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let resp = sb
        .http
        .get(sb.realm("/.well-known/wallet-openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Discovery = resp.json().await.unwrap();
    assert_eq!(doc.issuer, sb.issuer);
    assert_eq!(
        doc.authorization_endpoint,
        format!("{}/wallet/auth", sb.base)
    );
    assert_eq!(
        doc.token_endpoint,
        sb.realm("/protocol/openid-connect/token")
    );
    assert_eq!(doc.jwks_uri, sb.realm("/protocol/openid-connect/certs"));
    assert_eq!(
        doc.backchannel_authentication_endpoint.as_deref(),
        Some(sb.realm("/protocol/openid-connect/ext/ciba/auth").as_str())
    );
    assert_eq!(doc.backchannel_token_delivery_modes_supported, vec!["poll"]);
    assert!(
        doc.grant_types_supported
            .iter()
            .any(|g| g == "urn:openid:params:grant-type:ciba")
    );
    assert_eq!(doc.acr_values_supported, vec!["eidas1"]);
    assert_eq!(doc.code_challenge_methods_supported, vec!["S256"]);
    assert!(
        doc.token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == "tls_client_auth")
    );
    // Without a TLS listener there is nothing to bind tokens to.
    assert_eq!(doc.tls_client_certificate_bound_access_tokens, Some(false));
    assert!(doc.mtls_endpoint_aliases.is_none());
    // Every advertised endpoint answers (none is a 404).
    for url in [
        doc.userinfo_endpoint.unwrap(),
        doc.introspection_endpoint.unwrap(),
        doc.end_session_endpoint.unwrap(),
    ] {
        let status = sb.http.post(&url).send().await.unwrap().status();
        assert_ne!(status, 404, "{url}");
    }
}

#[tokio::test]
async fn jwks_publishes_one_signing_key_of_the_configured_algorithm() {
    for (alg, kty) in [("RS256", "RSA"), ("ES256", "EC")] {
        let sb = spawn_sandbox(SandboxOptions {
            extra: format!("signing_alg = \"{alg}\""),
            ..SandboxOptions::default()
        })
        .await;
        let jwks: Value = sb
            .http
            .get(sb.realm("/protocol/openid-connect/certs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["alg"], alg);
        assert_eq!(keys[0]["kty"], kty);
        assert_eq!(keys[0]["use"], "sig");
        assert!(keys[0].get("d").is_none(), "no private part");
    }
}

async fn run_with(args: &[&str], config: &std::path::Path) -> (bool, String) {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(binary())
            .arg("--config")
            .arg(config)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the sandbox refuses quickly")
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_non_loopback_address_is_refused_without_public() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &SandboxOptions::default());
    let (ok, stderr) = run_with(&["--bind", "0.0.0.0:0"], &config).await;
    assert!(!ok);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(stderr.contains("--public"), "{stderr}");
}

#[tokio::test]
async fn a_bad_configuration_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &SandboxOptions {
            extra: "access_token_lifetime = 10".into(),
            ..SandboxOptions::default()
        },
    );
    let (ok, stderr) = run_with(&["--bind", "127.0.0.1:0"], &config).await;
    assert!(!ok);
    assert!(stderr.contains("access_token_lifetime"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &SandboxOptions {
            professionals: Some("Nom|Prénom|\nA|B|\n".into()),
            ..SandboxOptions::default()
        },
    );
    let (ok, stderr) = run_with(&["--bind", "127.0.0.1:0"], &config).await;
    assert!(!ok);
    assert!(stderr.contains("Identification nationale PP"), "{stderr}");
}
