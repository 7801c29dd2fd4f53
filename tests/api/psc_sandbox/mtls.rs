//! `tls_client_auth` (RFC 8705) through real TLS: an organisation certificate of the test
//! PKI authenticates its client by its subject; the access token is bound to it.

use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{CIBA, CIBA_GRANT, TOKEN, USERINFO, error_of};
use crate::cps_pki::{Card, Pki, Shape};
use crate::helpers::sandbox::{PROFESSIONAL, Sandbox, SandboxOptions, spawn_sandbox};

fn subject_of(card: &Card) -> String {
    let (_, cert) = X509Certificate::from_der(&card.der).unwrap();
    // Written in the other order: the sandbox compares attributes, not their order.
    let text = cert.subject().to_string();
    let mut parts: Vec<&str> = text.split(", ").collect();
    parts.reverse();
    parts.join(", ")
}

fn client_with(sb: &Sandbox, card: Option<&Card>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(
            reqwest::Certificate::from_pem(sb.server_cert_pem.as_ref().unwrap().as_bytes())
                .unwrap(),
        );
    if let Some(card) = card {
        b = b.identity(reqwest::Identity::from_pem(card.identity_pem().as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn mtls_sandbox(pki: &Pki, org: &Card) -> Sandbox {
    spawn_sandbox(SandboxOptions {
        tls: Some(format!("{}{}", pki.organisations.pem, pki.root.pem)),
        extra_clients: format!(
            "[[clients]]\nclient_id = \"hopital\"\ntls_client_auth_subject = \"{}\"\n\
             redirect_uris = [\"http://127.0.0.1:9/cb\"]\n",
            subject_of(org).replace('"', "\\\"")
        ),
        ..SandboxOptions::default()
    })
    .await
}

#[tokio::test]
async fn an_organisation_certificate_authenticates_its_client() {
    let pki = Pki::shared();
    let org = pki.structure("750712184", "TESTORG1");
    let sb = mtls_sandbox(pki, &org).await;
    let mtls = sb.mtls.clone().unwrap();
    let realm = |path: &str| format!("{mtls}/auth/realms/esante-wallet{path}");
    let doc: Value = sb
        .http
        .get(sb.realm("/.well-known/wallet-openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(
        doc["mtls_endpoint_aliases"]["token_endpoint"],
        realm(TOKEN).as_str()
    );

    let client = client_with(&sb, Some(&org));
    let resp = client
        .post(realm(CIBA))
        .form(&[
            ("client_id", "hopital"),
            ("scope", "openid scope_all"),
            ("login_hint", PROFESSIONAL),
            ("channel", "CARD"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = sb.approve_all(PROFESSIONAL).await;
    assert_eq!(pending[0].client, "hopital");
    let resp = client
        .post(realm(TOKEN))
        .form(&[
            ("client_id", "hopital"),
            ("grant_type", CIBA_GRANT),
            ("auth_req_id", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    // The token is bound to the certificate: usable over the TLS connection that shows it,
    // not over plain HTTP nor with another certificate.
    let ok = client
        .get(realm(USERINFO))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let plain = sb
        .http
        .get(sb.realm(USERINFO))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
    let other = pki.structure("750712184", "TESTORG2");
    let stolen = client_with(&sb, Some(&other))
        .get(realm(USERINFO))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 401);
}

#[tokio::test]
async fn another_subject_no_certificate_or_an_untrusted_one_is_refused() {
    let pki = Pki::shared();
    let org = pki.structure("750712184", "TESTORG3");
    let sb = mtls_sandbox(pki, &org).await;
    let mtls = sb.mtls.clone().unwrap();
    let ciba = format!("{mtls}/auth/realms/esante-wallet{CIBA}");
    let form = [
        ("client_id", "hopital"),
        ("scope", "openid scope_all"),
        ("login_hint", PROFESSIONAL),
    ];

    // Same CA, another subject.
    let other = pki.structure("750712184", "TESTORG4");
    let resp = client_with(&sb, Some(&other))
        .post(&ciba)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (401, "invalid_client".into()));
    // No certificate at all.
    let resp = client_with(&sb, None)
        .post(&ciba)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (401, "invalid_client".into()));
    // A certificate of a CA the sandbox does not trust: refused in the handshake.
    let foreign = pki.personal_with(
        "810001045367",
        "MARTIN",
        "CLAIRE",
        "Médecin",
        Shape {
            foreign: true,
            ..Shape::default()
        },
    );
    assert!(
        client_with(&sb, Some(&foreign))
            .post(&ciba)
            .form(&form)
            .send()
            .await
            .is_err()
    );
    // The secret client still works on the TLS listener.
    let resp = client_with(&sb, None)
        .post(&ciba)
        .basic_auth(&sb.client_id, Some(&sb.client_secret))
        .form(&[("scope", "openid scope_all"), ("login_hint", PROFESSIONAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
