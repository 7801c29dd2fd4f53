//! `trousseau psc test` run as a real process: every check passes against the real PSC
//! sandbox; a wrong secret, a closed port, a broken discovery document and an empty JWKS are
//! each named, with a non-zero exit status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use serde_json::{Value, json};
use std::process::Output;

use super::client::{FakePsc, json_reply};
use crate::helpers::sandbox::{SandboxOptions, spawn_sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_trousseau");

/// Runs `trousseau psc test [--json]` with a `[psc]` table for `issuer`, the secret given in
/// `TROUSSEAU__PSC__CLIENT_SECRET`.
async fn psc_test(issuer: &str, client_id: &str, secret: &str, json: bool) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trousseau.toml");
    std::fs::write(
        &config,
        format!(
            "[psc]\nenabled = true\nenvironment = \"local\"\nissuer = \"{issuer}\"\n\
             client_id = \"{client_id}\"\nconnect_timeout_ms = 1000\ntimeout_ms = 3000\n"
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config").arg(&config).args(["psc", "test"]);
    if json {
        cmd.arg("--json");
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TROUSSEAU__PSC__CLIENT_SECRET", secret)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON report; the exit status must say the same as its `ok`.
async fn report(issuer: &str, client_id: &str, secret: &str) -> Value {
    let out = psc_test(issuer, client_id, secret, true).await;
    let v: Value = serde_json::from_str(&text(&out.stdout))
        .unwrap_or_else(|e| panic!("JSON ({e}): {} {}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(out.status.success(), v["ok"] == json!(true), "{v}");
    v
}

/// `(check, ok, failure)` of each check.
fn verdicts(v: &Value) -> Vec<(String, bool, String)> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["ok"].as_bool().unwrap(),
                c["failure"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn v(check: &str, ok: bool, failure: &str) -> (String, bool, String) {
    (check.to_owned(), ok, failure.to_owned())
}

#[tokio::test]
async fn every_check_passes_against_the_sandbox_and_a_wrong_secret_is_named() {
    let sb = spawn_sandbox(SandboxOptions::default()).await;
    let out = psc_test(&sb.issuer, &sb.client_id, &sb.client_secret, false).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for check in ["discovery", "keys", "credentials"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(check) && l.contains(" OK ")),
            "{check}: {stdout}"
        );
    }
    assert!(
        !stdout.contains(&sb.client_secret),
        "the secret is never printed"
    );

    let bad = report(&sb.issuer, &sb.client_id, "not-the-secret").await;
    assert_eq!(
        verdicts(&bad),
        [
            v("discovery", true, ""),
            v("keys", true, ""),
            v("credentials", false, "psc_invalid_client"),
        ]
    );
    let out = psc_test(&sb.issuer, &sb.client_id, "not-the-secret", false).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAILED  psc_invalid_client"), "{stdout}");
    assert!(stdout.contains("hint: PSC refused the client"), "{stdout}");
}

#[tokio::test]
async fn an_unreachable_psc_a_broken_discovery_and_an_empty_jwks_are_named() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = report(
        &format!("http://127.0.0.1:{port}/auth/realms/esante-wallet"),
        "trousseau",
        "s",
    )
    .await;
    assert_eq!(
        verdicts(&down),
        [
            v("discovery", false, "psc_unreachable"),
            v("keys", false, "skipped"),
            v("credentials", false, "skipped"),
        ]
    );

    let psc = FakePsc::start().await;
    psc.set(|a| a.discovery = json_reply(200, &json!({"issuer": psc.issuer})));
    let broken = report(&psc.issuer, "trousseau", "s").await;
    assert_eq!(
        verdicts(&broken)[0],
        v("discovery", false, "psc_discovery_malformed")
    );

    let psc = FakePsc::start().await;
    psc.set(|a| a.jwks = json_reply(200, &json!({"keys": []})));
    let empty = report(&psc.issuer, "trousseau", "s").await;
    // Keys refused; the credentials are still checked (PSC answers `unknown_user_id`).
    assert_eq!(
        verdicts(&empty),
        [
            v("discovery", true, ""),
            v("keys", false, "psc_jwks_empty"),
            v("credentials", true, ""),
        ]
    );
}
