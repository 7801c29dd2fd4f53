//! Client authentication at the token, CIBA and introspection endpoints (RFC 6749 §2.3.1,
//! OIDC Core §9, RFC 8705 §2.1): `client_secret_basic`, `client_secret_post` and
//! `tls_client_auth` (the certificate subject of the TLS connection).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::config::{ClientSettings, SandboxSettings, subject_parts};
use crate::crypto::ct_eq;

/// How a client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    SecretBasic,
    SecretPost,
    TlsClientAuth,
}

/// The credentials a request carries.
#[derive(Debug, Default)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    pub form_client_id: Option<&'a str>,
    pub form_client_secret: Option<&'a str>,
    /// The TLS client certificate (DER).
    pub certificate: Option<&'a [u8]>,
}

/// An authenticated client, and the SHA-256 thumbprint of its certificate for mTLS.
#[derive(Debug)]
pub struct Authenticated<'s> {
    pub client: &'s ClientSettings,
    pub method: Method,
    pub thumbprint: Option<String>,
}

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Checks the credentials; `None` is `invalid_client`.
pub fn authenticate<'s>(
    settings: &'s SandboxSettings,
    presented: &Presented<'_>,
) -> Option<Authenticated<'s>> {
    if let Some(header) = presented.authorization
        && let Some(b64) = header.strip_prefix("Basic ")
    {
        let decoded = STANDARD.decode(b64.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let (id, secret) = (url_decode(id), url_decode(secret));
        if presented.form_client_id.is_some_and(|f| f != id) {
            return None;
        }
        let client = settings.client(&id)?;
        let expected = client.secret.as_deref()?;
        return ct_eq(&secret, expected).then_some(Authenticated {
            client,
            method: Method::SecretBasic,
            thumbprint: None,
        });
    }
    let client = settings.client(presented.form_client_id?)?;
    if let Some(secret) = presented.form_client_secret {
        let expected = client.secret.as_deref()?;
        return ct_eq(secret, expected).then_some(Authenticated {
            client,
            method: Method::SecretPost,
            thumbprint: None,
        });
    }
    let wanted = client.tls_client_auth_subject.as_deref()?;
    let der = presented.certificate?;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject().to_string();
    if subject_parts(&subject) != subject_parts(wanted) {
        tracing::info!(client_id = %client.client_id, presented = %subject, "certificate subject does not match");
        return None;
    }
    Some(Authenticated {
        client,
        method: Method::TlsClientAuth,
        thumbprint: Some(thumbprint(der)),
    })
}

/// RFC 8705 §3.1: `x5t#S256`, base64url of the certificate's SHA-256.
pub fn thumbprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}
