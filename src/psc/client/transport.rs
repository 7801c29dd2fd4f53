//! The HTTP side of the client: one reqwest client with bounded timeouts and, for the
//! "espace de confiance" level, the organisation certificate (mTLS); client authentication;
//! the discovery document and the signing keys.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openidconnect::core::CoreJsonWebKeySet;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use super::types::{Endpoints, PscProviderMetadata};
use super::{ClientAuth, PscClient};
use crate::config::PscSettings;
use crate::instruments::{PscCall, PscOutcome};
use crate::psc::PscError;
use crate::psc::protocol::{DISCOVERY_PATH, ErrorCode, ErrorResponse};
/// The most a PSC answer may weigh.
const MAX_BODY: usize = 1024 * 1024;

/// The first line of a secret file.
pub fn read_secret(file: &str) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read psc.client_secret_file {file:?}"))?;
    let line = text.lines().next().unwrap_or_default().trim().to_owned();
    anyhow::ensure!(
        !line.is_empty(),
        "psc.client_secret_file {file:?} holds no secret"
    );
    Ok(SecretString::from(line))
}

/// The HTTP client to PSC: bounded connection and total times, no redirects, and the
/// organisation certificate when configured.
pub fn http_client(s: &PscSettings) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(s.connect_timeout_ms))
        .timeout(Duration::from_millis(s.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls();
    if !s.tls_cert_file.is_empty() {
        let mut pem = std::fs::read(&s.tls_cert_file)
            .with_context(|| format!("cannot read psc.tls_cert_file {:?}", s.tls_cert_file))?;
        pem.push(b'\n');
        pem.extend(
            std::fs::read(&s.tls_key_file)
                .with_context(|| format!("cannot read psc.tls_key_file {:?}", s.tls_key_file))?,
        );
        let identity = reqwest::Identity::from_pem(&pem)
            .context("psc.tls_cert_file and psc.tls_key_file are not a PEM certificate and key")?;
        b = b.identity(identity);
    }
    if !s.ca_file.is_empty() {
        let pem = std::fs::read(&s.ca_file)
            .with_context(|| format!("cannot read psc.ca_file {:?}", s.ca_file))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .context("psc.ca_file is not a PEM bundle")?
        {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().context("cannot build the HTTP client to PSC")
}

/// The endpoints a client authenticating with its certificate must use (RFC 8705 §5,
/// `mtls_endpoint_aliases` of the discovery document); each absent one falls back to the
/// plain endpoint.
#[derive(Debug, Default, serde::Deserialize)]
struct MtlsAliases {
    #[serde(default)]
    token_endpoint: Option<Url>,
    #[serde(default)]
    userinfo_endpoint: Option<Url>,
    #[serde(default)]
    introspection_endpoint: Option<Url>,
    #[serde(default)]
    backchannel_authentication_endpoint: Option<Url>,
}

/// The mTLS aliases of a discovery document (none when it publishes none).
fn mtls_aliases(discovery: &[u8]) -> Result<MtlsAliases, PscError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        mtls_endpoint_aliases: Option<MtlsAliases>,
    }
    let doc: Doc = serde_json::from_slice(discovery).map_err(|e| {
        tracing::warn!(error = %e, "PSC discovery: malformed mtls_endpoint_aliases");
        PscError::DiscoveryMalformed
    })?;
    Ok(doc.mtls_endpoint_aliases.unwrap_or_default())
}

/// A form-urlencoded value for HTTP Basic client authentication (RFC 6749 §2.3.1).
fn form_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What PSC answered: the status and the body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The OAuth error of a refusal (RFC 6749 §5.2, CIBA Core §11, §13), as a `PscError`.
    pub fn oauth_error(&self) -> PscError {
        let Ok(answer) = serde_json::from_slice::<ErrorResponse>(&self.body) else {
            return match self.status {
                401 => PscError::InvalidClient,
                s if s >= 500 => PscError::ServerError(s),
                s => PscError::Protocol(format!("HTTP {s} without an OAuth error")),
            };
        };
        match answer.code() {
            Some(ErrorCode::InvalidClient | ErrorCode::UnauthorizedClient) => {
                PscError::InvalidClient
            }
            Some(ErrorCode::AccessDenied) => PscError::AccessDenied,
            Some(ErrorCode::ExpiredToken) => PscError::ExpiredToken,
            Some(ErrorCode::AuthorizationPending) => PscError::AuthorizationPending,
            Some(ErrorCode::SlowDown) => PscError::SlowDown,
            Some(ErrorCode::UnknownUserId) => PscError::UnknownUser,
            Some(ErrorCode::ServerError) => PscError::ServerError(self.status),
            _ if self.status >= 500 => PscError::ServerError(self.status),
            _ => PscError::Protocol(format!("error {:?}", answer.error)),
        }
    }
}

impl PscClient {
    async fn read(resp: reqwest::Response) -> Result<Answer, PscError> {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = resp
            .bytes()
            .await
            .map_err(|e| PscError::from_transport(&e))?;
        if body.len() > MAX_BODY {
            return Err(PscError::Protocol("answer too large".into()));
        }
        Ok(Answer {
            status,
            content_type,
            body: body.to_vec(),
        })
    }

    /// Sends a request and reads the answer, counted and timed as `call`.
    async fn exchange(
        &self,
        call: PscCall,
        rb: reqwest::RequestBuilder,
    ) -> Result<Answer, PscError> {
        let started = std::time::Instant::now();
        let answer = match rb.send().await {
            Ok(resp) => Self::read(resp).await,
            Err(e) => Err(PscError::from_transport(&e)),
        };
        if let Some(m) = &self.metrics {
            let outcome = match &answer {
                Ok(a) => PscOutcome::of_status(a.status),
                Err(PscError::Timeout) => PscOutcome::Timeout,
                Err(PscError::Tls) => PscOutcome::Tls,
                Err(PscError::Unreachable) => PscOutcome::Unreachable,
                Err(_) => PscOutcome::Invalid,
            };
            m.psc_call(call, outcome, started.elapsed());
        }
        answer
    }

    /// A GET, with a bearer token when given.
    pub(super) async fn get(
        &self,
        call: PscCall,
        url: &Url,
        bearer: Option<&str>,
    ) -> Result<Answer, PscError> {
        let mut rb = self.http.get(url.clone());
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        self.exchange(call, rb).await
    }

    /// A form POST authenticated as this client (secret in HTTP Basic, or mTLS with the
    /// client id in the form).
    pub(super) async fn post_form(
        &self,
        call: PscCall,
        url: &Url,
        params: &impl serde::Serialize,
    ) -> Result<Answer, PscError> {
        let mut form = serde_urlencoded::to_string(params)
            .map_err(|e| PscError::Unexpected(anyhow::Error::new(e).context("form encoding")))?;
        let mut rb = self.http.post(url.clone());
        match &self.auth {
            ClientAuth::Secret(secret) => {
                let basic = format!(
                    "{}:{}",
                    form_encoded(&self.settings.client_id),
                    form_encoded(secret.expose_secret())
                );
                rb = rb.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(basic)),
                );
            }
            ClientAuth::Tls => {
                form.push_str("&client_id=");
                form.push_str(&form_encoded(&self.settings.client_id));
            }
        }
        let rb = rb
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        self.exchange(call, rb).await
    }

    /// Reads and checks the discovery document; the overrides win.
    pub(super) async fn discover(&self) -> Result<Endpoints, PscError> {
        let url = Url::parse(&format!("{}{DISCOVERY_PATH}", self.issuer))
            .map_err(|_| PscError::DiscoveryMalformed)?;
        let answer = self.get(PscCall::Discovery, &url, None).await?;
        if answer.status != 200 {
            tracing::warn!(status = answer.status, "PSC discovery answered an error");
            return Err(PscError::DiscoveryMalformed);
        }
        let meta: PscProviderMetadata = serde_json::from_slice(&answer.body).map_err(|e| {
            tracing::warn!(error = %e, "PSC discovery document is malformed");
            PscError::DiscoveryMalformed
        })?;
        if meta.issuer().as_str().trim_end_matches('/') != self.issuer {
            tracing::warn!(
                published = meta.issuer().as_str(),
                "PSC discovery names another issuer"
            );
            return Err(PscError::DiscoveryMalformed);
        }
        let extra = meta.additional_metadata();
        // With `tls_client_auth`, the certificate is only seen where the provider asks for
        // it: its mTLS aliases (RFC 8705 §5) take the place of the plain endpoints.
        let aliases = match &self.auth {
            ClientAuth::Tls => mtls_aliases(&answer.body)?,
            ClientAuth::Secret(_) => MtlsAliases::default(),
        };
        let pick = |over: &str, found: Option<Url>| -> Result<Option<Url>, PscError> {
            if over.is_empty() {
                Ok(found)
            } else {
                Url::parse(over)
                    .map(Some)
                    .map_err(|_| PscError::DiscoveryMalformed)
            }
        };
        let s = &self.settings;
        let token = pick(
            &s.token_endpoint,
            aliases
                .token_endpoint
                .or_else(|| meta.token_endpoint().map(|u| u.url().clone())),
        )?
        .ok_or(PscError::DiscoveryMalformed)?;
        Ok(Endpoints {
            authorization: pick(
                &s.authorization_endpoint,
                Some(meta.authorization_endpoint().url().clone()),
            )?
            .ok_or(PscError::DiscoveryMalformed)?,
            token,
            userinfo: pick(
                &s.userinfo_endpoint,
                aliases
                    .userinfo_endpoint
                    .or_else(|| meta.userinfo_endpoint().map(|u| u.url().clone())),
            )?,
            jwks: pick(&s.jwks_uri, Some(meta.jwks_uri().url().clone()))?
                .ok_or(PscError::DiscoveryMalformed)?,
            ciba: pick(
                &s.ciba_endpoint,
                aliases
                    .backchannel_authentication_endpoint
                    .or_else(|| extra.backchannel_authentication_endpoint.clone()),
            )?,
            end_session: pick(&s.end_session_endpoint, extra.end_session_endpoint.clone())?,
            introspection: pick(
                &s.introspection_endpoint,
                aliases
                    .introspection_endpoint
                    .or_else(|| extra.introspection_endpoint.clone()),
            )?,
        })
    }

    /// The signing keys: cached, read again when `refresh` (an unknown `kid`).
    pub(super) async fn signing_keys(
        &self,
        refresh: bool,
    ) -> Result<Arc<CoreJsonWebKeySet>, PscError> {
        if !refresh && let Some(k) = self.keys.read().await.as_ref() {
            return Ok(k.clone());
        }
        let endpoints = self.endpoints().await?;
        let answer = self.get(PscCall::Jwks, &endpoints.jwks, None).await?;
        if answer.status != 200 {
            return Err(PscError::JwksEmpty);
        }
        let set: CoreJsonWebKeySet =
            serde_json::from_slice(&answer.body).map_err(|_| PscError::JwksEmpty)?;
        if set.keys().is_empty() {
            return Err(PscError::JwksEmpty);
        }
        let set = Arc::new(set);
        *self.keys.write().await = Some(set.clone());
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtls_aliases_are_read_when_published() {
        let doc = br#"{"issuer": "https://psc", "mtls_endpoint_aliases": {
            "token_endpoint": "https://mtls.psc/token",
            "backchannel_authentication_endpoint": "https://mtls.psc/ciba"}}"#;
        let a = mtls_aliases(doc).unwrap();
        assert_eq!(a.token_endpoint.unwrap().as_str(), "https://mtls.psc/token");
        assert_eq!(
            a.backchannel_authentication_endpoint.unwrap().as_str(),
            "https://mtls.psc/ciba"
        );
        assert!(a.userinfo_endpoint.is_none());
        assert!(
            mtls_aliases(br#"{"issuer": "https://psc"}"#)
                .unwrap()
                .token_endpoint
                .is_none()
        );
        assert!(mtls_aliases(br#"{"mtls_endpoint_aliases": {"token_endpoint": 3}}"#).is_err());
    }
}
