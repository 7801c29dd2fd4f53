//! The card-login service built once at start-up: verifier, revocation lists and their
//! scheduled reload, trusted proxies.

use std::sync::Arc;

use serde_json::json;

use rustls::pki_types::CertificateDer;

use super::check::{CardVerifier, CheckedCard, Refused};
use super::crl;
use super::crl::Revocation;
use super::header::Network;
use super::ocsp;
use crate::audit::AuditEvent;
use crate::authn::Authn;
use crate::authn::{AuthFactor, Method};
use crate::config::CpsSettings;

#[derive(Debug)]
pub struct Cps {
    pub verifier: CardVerifier,
    pub proxies: Vec<Network>,
}

impl Cps {
    /// The service of `[cps]`, None when card login is off; lists from files load now.
    pub fn new(settings: &CpsSettings) -> anyhow::Result<Option<Arc<Cps>>> {
        if !settings.enabled {
            return Ok(None);
        }
        let verifier = CardVerifier::new(settings)?;
        let proxies = settings
            .proxy
            .trusted
            .iter()
            .map(|t| Network::parse(t).map_err(|m| anyhow::anyhow!("cps.proxy.trusted: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let cps = Cps { verifier, proxies };
        for path in &settings.crl_files {
            let list = crl::load_file(path, cps.verifier.cas())
                .map_err(|e| anyhow::anyhow!("cps.crl_files: {e}"))?;
            cps.verifier.crls.install(list);
        }
        Ok(Some(Arc::new(cps)))
    }

    /// Reloads every list source; a failing source keeps its last list. One line per source.
    pub async fn refresh(&self, settings: &CpsSettings, http: &reqwest::Client) -> Vec<String> {
        let mut report = Vec::new();
        for path in &settings.crl_files {
            let path = path.clone();
            let cas = self.verifier.cas().to_vec();
            let loaded = tokio::task::spawn_blocking(move || crl::load_file(&path, &cas)).await;
            report.push(
                self.install(
                    loaded
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string())),
                ),
            );
        }
        for url in &settings.crl_urls {
            let fetched = async {
                let resp = http
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !resp.status().is_success() {
                    return Err(format!("{url}: HTTP {}", resp.status()));
                }
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                let cas = self.verifier.cas().to_vec();
                let source = url.to_string();
                tokio::task::spawn_blocking(move || crl::parse(&bytes, &cas, &source))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("{url}: {e}"))
            }
            .await;
            report.push(self.install(fetched));
        }
        report
    }

    fn install(&self, loaded: Result<crl::Crl, String>) -> String {
        match loaded {
            Ok(list) => {
                let line = format!(
                    "{}: {} revoked, issuer {}",
                    list.source,
                    list.len(),
                    list.issuer
                );
                if self.verifier.crls.install(list) {
                    line
                } else {
                    format!("{line} (older than the list in force: kept the latter)")
                }
            }
            Err(e) => format!("failed: {e}"),
        }
    }
}

impl Cps {
    /// Every check of a card, OCSP included when configured (`cps.ocsp`).
    pub async fn verdict(
        &self,
        settings: &CpsSettings,
        http: &reqwest::Client,
        chain: &[CertificateDer<'_>],
        now: i64,
    ) -> Result<CheckedCard, Refused> {
        let inspected = self.verifier.inspect(chain, now)?;
        let url = match settings.ocsp.as_str() {
            "" => None,
            "aia" => ocsp::responder_of(&inspected.end_der),
            url => Some(url.to_owned()),
        };
        let answer = match (url, &inspected.issuer_der, inspected.crl) {
            // A revoked card needs no second opinion.
            (_, _, Revocation::Revoked) | (None, _, _) | (_, None, _) => None,
            (Some(url), Some(issuer), _) => {
                let timeout = std::time::Duration::from_millis(settings.ocsp_timeout_ms);
                let v = ocsp::ask(
                    http,
                    &url,
                    &inspected.end_der,
                    issuer,
                    self.verifier.cas(),
                    now,
                    timeout,
                )
                .await;
                if let ocsp::OcspVerdict::Unusable(why) = &v {
                    tracing::warn!(%url, %why, "no usable OCSP answer: the CRLs decide");
                }
                Some(v)
            }
        };
        self.verifier.decide(inspected, answer.as_ref())
    }
}

/// Whether a session's factors hold a card login (e.g. to authorise enrolling a security key).
pub fn session_has_card(factors: &[AuthFactor]) -> bool {
    factors.iter().any(|f| f.method == Method::Card)
}

/// Reloads the revocation lists once (files and URLs of `[cps]`), logging and auditing each
/// failure; the schedule is in [`crate::workers`].
pub async fn refresh_revocation_lists(state: &Authn<'_>, cps: &Cps) {
    report(state, cps.refresh(&state.settings.cps, state.http).await).await;
}

async fn report(state: &Authn<'_>, lines: Vec<String>) {
    for line in &lines {
        if line.starts_with("failed") {
            tracing::warn!(%line, "card revocation list not reloaded");
            state
                .audit
                .record(
                    AuditEvent::failure("crl_refresh", "crl_unavailable")
                        .details(json!({ "error": line })),
                )
                .await;
        } else {
            tracing::info!(%line, "card revocation list loaded");
        }
    }
}
