//! `trousseau psc test`: checks the `[psc]` configuration against Pro Santé Connect, one
//! check after the other (discovery, signing keys, client credentials), and names the first
//! failure with a hint (docs/psc.md, "Checking the configuration").

use clap::Subcommand;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::psc::{PscClient, PscError};

#[derive(Debug, Subcommand)]
pub enum PscCommand {
    /// Check the connection to Pro Santé Connect: reachable, TLS, discovery document, signing
    /// keys, client credentials (a CIBA request for an IdNat no professional holds). One line
    /// per check; exit status 0 only when every check passes.
    Test {
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// The outcome of one check.
#[derive(Debug, Serialize)]
pub struct Check {
    /// `discovery`, `keys` or `credentials`.
    pub check: &'static str,
    pub ok: bool,
    /// What was found, or why the check failed.
    pub detail: String,
    /// The stable code of the failure (as in the audit log), when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
    /// What to look at, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

impl Check {
    fn ok(check: &'static str, detail: String) -> Check {
        Check {
            check,
            ok: true,
            detail,
            failure: None,
            hint: None,
        }
    }

    fn failed(check: &'static str, e: &PscError) -> Check {
        Check {
            check,
            ok: false,
            detail: e.to_string(),
            failure: Some(e.reason()),
            hint: Some(hint(e)),
        }
    }

    fn skipped(check: &'static str) -> Check {
        Check {
            check,
            ok: false,
            detail: "not checked: an earlier check failed".into(),
            failure: Some("skipped"),
            hint: None,
        }
    }
}

/// What an administrator should look at for each failure.
fn hint(e: &PscError) -> &'static str {
    match e {
        PscError::Unreachable => {
            "check psc.issuer (or psc.environment), DNS, the firewall and any outgoing proxy"
        }
        PscError::Timeout => {
            "PSC accepted the connection but did not answer within psc.timeout_ms; \
             check the network path or raise psc.timeout_ms"
        }
        PscError::Tls => {
            "the TLS handshake failed: check PSC's server certificate chain (psc.ca_file) and, \
             for mTLS, the organisation certificate (psc.tls_cert_file, psc.tls_key_file)"
        }
        PscError::DiscoveryMalformed => {
            "the discovery document is missing, not JSON, lacks a required endpoint or names \
             another issuer: check psc.issuer and the endpoint overrides"
        }
        PscError::JwksEmpty => {
            "the JWKS holds no usable signing key: check the jwks_uri of the discovery \
             document or psc.jwks_uri"
        }
        PscError::InvalidClient => {
            "PSC refused the client: check psc.client_id and the secret \
             (psc.client_secret_file or TROUSSEAU__PSC__CLIENT_SECRET) or the certificate"
        }
        PscError::ServerError(_) => "PSC failed on its side: try again later",
        _ => "PSC answered outside the protocol: see the detail",
    }
}

/// Runs the checks in turn; a failed check skips the ones that depend on it.
pub async fn checks(client: &PscClient) -> Vec<Check> {
    let mut out = Vec::new();
    match client.check_discovery().await {
        Ok(()) => {
            let endpoints = client.endpoint_list().await.unwrap_or_default();
            let token = endpoints
                .iter()
                .find(|(n, _)| *n == "token")
                .map(|(_, u)| u.clone())
                .unwrap_or_default();
            out.push(Check::ok(
                "discovery",
                format!("issuer {}, token endpoint {token}", client.issuer()),
            ));
        }
        Err(e) => {
            out.push(Check::failed("discovery", &e));
            out.push(Check::skipped("keys"));
            out.push(Check::skipped("credentials"));
            return out;
        }
    }
    out.push(match client.check_keys().await {
        Ok(n) => Check::ok("keys", format!("{n} signing key(s) published")),
        Err(e) => Check::failed("keys", &e),
    });
    out.push(match client.check_credentials().await {
        Ok(accepted) => Check::ok(
            "credentials",
            format!(
                "client {:?} accepted (the {} endpoint answered {})",
                client.client_id(),
                accepted.endpoint,
                accepted.answer
            ),
        ),
        Err(e) => Check::failed("credentials", &e),
    });
    out
}

/// `trousseau psc test`.
pub async fn run(settings: &Settings, command: PscCommand) -> anyhow::Result<ExitCode> {
    let PscCommand::Test { json } = command;
    let psc = &settings.psc;
    anyhow::ensure!(
        !psc.issuer().is_empty(),
        "psc.issuer is empty: the local environment needs the issuer URL of the PSC sandbox"
    );
    let client = PscClient::probe(psc, Arc::new(SystemClock))?;
    let results = checks(&client).await;
    let all_ok = results.iter().all(|c| c.ok);
    if json {
        let doc = serde_json::json!({
            "ok": all_ok,
            "enabled": psc.enabled,
            "issuer": client.issuer(),
            "checks": results,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("Pro Santé Connect {}", client.issuer());
        if !psc.enabled {
            println!("(psc.enabled is false: checked anyway)");
        }
        for c in &results {
            match (c.ok, c.failure, c.hint) {
                (true, _, _) => println!("{:<12} OK      {}", c.check, c.detail),
                (false, Some("skipped"), _) => println!("{:<12} SKIPPED", c.check),
                (false, failure, hint) => {
                    println!(
                        "{:<12} FAILED  {}: {}",
                        c.check,
                        failure.unwrap_or("failed"),
                        c.detail
                    );
                    if let Some(h) = hint {
                        println!("{:<12}         hint: {h}", "");
                    }
                }
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
