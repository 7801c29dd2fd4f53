//! The `trousseau` command line run as a real process: client, user, keys and audit commands,
//! their JSON output and one-sentence errors, layered configuration, and changes reaching a
//! running server within a second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, authorize_url, spawn_app, test_database};

const BIN: &str = env!("CARGO_BIN_EXE_trousseau");

/// A configuration file for the binary, in its own temporary folder.
struct Cli {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn config_toml(database_url: &str, master_key_file: &Path) -> String {
    format!(
        "[database]\nurl = \"{database_url}\"\n\n[secrets]\nmaster_key_file = \"{}\"\n\n\
         [password]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n",
        master_key_file.display()
    )
}

impl Cli {
    /// A fresh database (SQLite, or PostgreSQL when TEST_DB=postgres) and master key file,
    /// created by `migrate` (administration commands never create them).
    async fn new() -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let url = test_database(dir.path()).await;
        let key = dir.path().join("master.key");
        let cli = Cli::with_config(dir, &config_toml(&url, &key)).await;
        let out = cli.run(&["migrate"]).await;
        assert!(out.status.success(), "migrate: {}", text(&out.stderr));
        cli
    }

    /// The database and master key of a running test server.
    async fn for_app(app: &TestApp) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let toml = config_toml(
            &app.database_url,
            &app.state.settings.secrets.master_key_file,
        );
        Cli::with_config(dir, &toml).await
    }

    async fn with_config(dir: tempfile::TempDir, toml: &str) -> Cli {
        let config = dir.path().join("trousseau.toml");
        std::fs::write(&config, toml).unwrap();
        Cli { dir, config }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("TROUSSEAU__") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("the binary runs")
    }

    async fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        run_with_stdin(self.command(args), input).await
    }

    /// Runs a command that must succeed and print one JSON document.
    async fn json(&self, args: &[&str]) -> Value {
        parse_ok(args, self.run(args).await)
    }

    /// Runs a command that must fail; returns its standard error.
    async fn fails(&self, args: &[&str]) -> String {
        failure(args, self.run(args).await)
    }
}

async fn run_with_stdin(mut cmd: tokio::process::Command, input: &str) -> Output {
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the binary starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_ok(args: &[&str], out: Output) -> Value {
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        text(&out.stderr)
    );
    serde_json::from_str(text(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", text(&out.stdout)))
}

/// Checks a refusal: non-zero exit, nothing on stdout, one sentence on stderr starting "error:".
fn failure(args: &[&str], out: Output) -> String {
    assert!(
        !out.status.success(),
        "{args:?} should have failed: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).trim().is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_owned()
}

/// One JSON object on one line (the create commands).
fn single_line_object(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "one line: {stdout}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(v.is_object());
    v
}

#[tokio::test]
async fn help_mentions_every_subcommand() {
    let out = tokio::process::Command::new(BIN)
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in [
        "serve", "migrate", "demo", "client", "user", "keys", "audit",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} in {help}"
        );
    }
    for (group, subs) in [
        (
            "client",
            &[
                "create",
                "list",
                "show",
                "update",
                "rotate-secret",
                "delete",
            ][..],
        ),
        (
            "user",
            &[
                "create",
                "list",
                "show",
                "disable",
                "enable",
                "set-password",
                "unlock",
            ][..],
        ),
        ("keys", &["list", "rotate"][..]),
        ("audit", &["list"][..]),
    ] {
        let out = tokio::process::Command::new(BIN)
            .args([group, "--help"])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        let help = text(&out.stdout);
        for sub in subs {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(sub)),
                "{group} {sub} in {help}"
            );
        }
    }
}

/// `user create` of alice, her local password on standard input.
const ALICE: [&str; 11] = [
    "user",
    "create",
    "--username",
    "alice",
    "--given-name",
    "Alice",
    "--family-name",
    "Martin",
    "--email",
    "alice@chu.example",
    "--password-stdin",
];

#[tokio::test]
async fn users_are_created_listed_shown_disabled_enabled_and_unlocked() {
    let cli = Cli::new().await;
    let args = ALICE;
    let created = single_line_object(&cli.run_with_stdin(&args, "correct horse battery\n").await);
    assert_eq!(created["username"], "alice");
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let list = cli.json(&["user", "list", "--json"]).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "active");

    for who in ["alice", id.as_str()] {
        let shown = cli.json(&["user", "show", who, "--json"]).await;
        assert_eq!(shown["id"], id.as_str());
        assert_eq!(shown["given_name"], "Alice");
        assert_eq!(shown["family_name"], "Martin");
        assert_eq!(shown["email"], "alice@chu.example");
    }
    let plain = cli.run(&["user", "show", "alice"]).await;
    assert!(plain.status.success() && text(&plain.stdout).contains("Alice Martin"));

    let disabled = cli
        .json(&["user", "disable", "alice", "--reason", "left the hospital"])
        .await;
    assert_eq!(disabled["status"], "suspended");
    let shown = cli.json(&["user", "show", "alice", "--json"]).await;
    assert_eq!(
        (shown["status"].as_str(), shown["status_reason"].as_str()),
        (Some("suspended"), Some("left the hospital"))
    );
    assert_eq!(
        cli.json(&["user", "enable", "alice"]).await["status"],
        "active"
    );

    let set = cli
        .run_with_stdin(
            &["user", "set-password", "alice"],
            "another long passphrase\n",
        )
        .await;
    assert_eq!(
        parse_ok(&["user", "set-password"], set)["password_set"],
        true
    );
    let empty = cli
        .run_with_stdin(&["user", "set-password", "alice"], "")
        .await;
    assert!(failure(&["user", "set-password"], empty).contains("standard input"));
    assert_eq!(
        cli.json(&["user", "unlock", "alice"]).await["was_locked"],
        false
    );

    let taken = cli.run_with_stdin(&args, "x\n").await;
    assert!(failure(&args, taken).contains("taken"));
    assert!(
        cli.fails(&["user", "show", "nobody"])
            .await
            .contains("nobody")
    );
    assert!(
        cli.fails(&[
            "user",
            "create",
            "--username",
            "bad name",
            "--given-name",
            "B",
            "--family-name",
            "N"
        ])
        .await
        .contains("username")
    );
}

#[tokio::test]
async fn clients_are_created_listed_shown_updated_rotated_and_deleted() {
    let cli = Cli::new().await;
    let created = single_line_object(
        &cli.run(&[
            "client",
            "create",
            "--id",
            "dpi",
            "--name",
            "Dossier patient",
            "--redirect-uri",
            "https://dpi.example/cb",
        ])
        .await,
    );
    assert_eq!(created["client_id"], "dpi");
    let secret = created["client_secret"]
        .as_str()
        .expect("a secret, shown once")
        .to_owned();
    assert_eq!(secret.len(), 43, "256 bits in base64url");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    let public = single_line_object(
        &cli.run(&[
            "client",
            "create",
            "--id",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://localhost:3000/cb",
        ])
        .await,
    );
    assert_eq!(public["client_id"], "spa");
    assert!(
        public.get("client_secret").is_none(),
        "a public client has no secret: {public}"
    );

    let machine = single_line_object(
        &cli.run(&[
            "client",
            "create",
            "--id",
            "batch",
            "--name",
            "Batch",
            "--grant",
            "client_credentials",
        ])
        .await,
    );
    assert_eq!(machine["client_secret"].as_str().map(str::len), Some(43));

    // Refusals: one sentence on stderr, a non-zero exit.
    let bad = [
        "client",
        "create",
        "--id",
        "evil",
        "--name",
        "Evil",
        "--redirect-uri",
        "http://evil.example/cb",
    ];
    let err = cli.fails(&bad).await;
    assert!(
        err.contains("http://evil.example/cb") && err.contains("https"),
        "{err}"
    );
    let err = cli
        .fails(&[
            "client",
            "create",
            "--id",
            "dpi",
            "--name",
            "Again",
            "--redirect-uri",
            "https://dpi.example/cb",
        ])
        .await;
    assert!(
        err.contains("dpi") && err.contains("already exists"),
        "{err}"
    );
    let err = cli
        .fails(&[
            "client",
            "create",
            "--id",
            "noredirect",
            "--name",
            "No redirect",
        ])
        .await;
    assert!(err.contains("redirect"), "{err}");

    let list = cli.json(&["client", "list", "--json"]).await;
    let mut ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["batch", "dpi", "spa"]);
    assert!(
        !list.to_string().contains("secret_hash"),
        "secrets never listed"
    );
    let table = cli.run(&["client", "list"]).await;
    assert!(text(&table.stdout).contains("CLIENT_ID") && text(&table.stdout).contains("dpi"));

    let shown = cli.json(&["client", "show", "--id", "dpi", "--json"]).await;
    assert_eq!(shown["name"], "Dossier patient");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://dpi.example/cb"])
    );
    assert_eq!(shown["public"], false);
    assert_eq!(shown["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        cli.json(&["client", "show", "--id", "spa", "--json"]).await["token_endpoint_auth_method"],
        "none"
    );

    let updated = cli
        .json(&[
            "client",
            "update",
            "--id",
            "dpi",
            "--name",
            "DPI urgences",
            "--redirect-uri",
            "https://dpi.example/cb2",
            "--min-acr",
            "loa2",
        ])
        .await;
    assert_eq!(updated["updated"], true);
    let shown = cli.json(&["client", "show", "--id", "dpi", "--json"]).await;
    assert_eq!(shown["name"], "DPI urgences");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://dpi.example/cb2"])
    );
    assert_eq!(shown["min_acr"], "loa2");
    assert!(
        cli.fails(&[
            "client",
            "update",
            "--id",
            "dpi",
            "--redirect-uri",
            "ftp://dpi.example/cb"
        ])
        .await
        .contains("ftp")
    );
    assert!(
        cli.fails(&["client", "update", "--id", "dpi", "--min-acr", "loa9"])
            .await
            .contains("loa9")
    );

    let rotated = cli.json(&["client", "rotate-secret", "--id", "dpi"]).await;
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_eq!(new_secret.len(), 43);
    assert_ne!(new_secret, secret, "a new secret");
    assert!(
        cli.fails(&["client", "rotate-secret", "--id", "spa"])
            .await
            .contains("spa")
    );

    assert_eq!(
        cli.json(&["client", "delete", "--id", "spa"]).await["deleted"],
        true
    );
    assert!(
        cli.fails(&["client", "show", "--id", "spa"])
            .await
            .contains("spa")
    );
    assert!(
        cli.fails(&["client", "delete", "--id", "spa"])
            .await
            .contains("spa")
    );
    assert_eq!(
        cli.json(&["client", "list", "--json"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn keys_are_listed_and_rotated() {
    let cli = Cli::new().await;
    let keys = cli.json(&["keys", "list", "--json"]).await;
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 6, "{keys:?}");
    let kid = |keys: &[Value], alg: &str, state: &str| -> Vec<String> {
        keys.iter()
            .filter(|k| k["alg"] == alg && k["state"] == state)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    for alg in ["RS256", "ES256", "PS256"] {
        assert_eq!(kid(keys, alg, "current").len(), 1, "{alg} current");
        assert_eq!(kid(keys, alg, "next").len(), 1, "{alg} next");
    }
    let old_current = kid(keys, "ES256", "current").remove(0);
    let old_next = kid(keys, "ES256", "next").remove(0);

    let rotated = cli.json(&["keys", "rotate", "--alg", "ES256"]).await;
    assert_eq!(rotated["alg"], "ES256");
    assert_eq!(
        rotated["current_kid"],
        old_next.as_str(),
        "the published next key signs now"
    );

    let after = cli.json(&["keys", "list", "--json"]).await;
    let after = after.as_array().unwrap();
    assert_eq!(kid(after, "ES256", "current"), [old_next.as_str()]);
    assert_eq!(
        kid(after, "ES256", "retired"),
        [old_current],
        "the old key stays published, retired"
    );
    let new_next = kid(after, "ES256", "next");
    assert_eq!(new_next.len(), 1);
    assert_ne!(new_next[0], old_next);
    for alg in ["RS256", "PS256"] {
        assert_eq!(
            kid(after, alg, "current"),
            kid(keys, alg, "current"),
            "{alg} untouched"
        );
    }
    let audit = cli
        .json(&["audit", "list", "--kind", "key_rotated", "--json"])
        .await;
    assert_eq!(audit.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_audit_trail_lists_administrative_changes() {
    let cli = Cli::new().await;
    let user = cli
        .run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--given-name",
                "Alice",
                "--family-name",
                "Martin",
                "--password-stdin",
            ],
            "pw-long-enough\n",
        )
        .await;
    let alice = single_line_object(&user)["id"].as_str().unwrap().to_owned();
    single_line_object(
        &cli.run(&[
            "client",
            "create",
            "--id",
            "dpi",
            "--name",
            "DPI",
            "--redirect-uri",
            "https://dpi.example/cb",
        ])
        .await,
    );

    let events = cli.json(&["audit", "list", "--json"]).await;
    let events = events.as_array().unwrap();
    let created = events
        .iter()
        .find(|e| e["kind"] == "user_created")
        .expect("user_created");
    assert_eq!(created["subject"], alice.as_str());
    assert_eq!(created["actor"], "cli");
    assert_eq!(created["outcome"], "success");
    let client = events
        .iter()
        .find(|e| e["kind"] == "client_created")
        .expect("client_created");
    assert_eq!(client["client_id"], "dpi");
    assert!(!client.to_string().contains("secret_hash"));

    let only = cli
        .json(&["audit", "list", "--kind", "client_created", "--json"])
        .await;
    assert!(
        only.as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "client_created")
    );
    let about = cli
        .json(&["audit", "list", "--user", "alice", "--json"])
        .await;
    assert!(
        !about.as_array().unwrap().is_empty()
            && about
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["subject"] == alice.as_str())
    );
}

#[tokio::test]
async fn an_unknown_configuration_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}\n[http]\nbindd = \"127.0.0.1:1\"\n",
        config_toml("sqlite://db/x.db", &dir.path().join("master.key"))
    );
    let cli = Cli::with_config(dir, &toml).await;
    let err = cli.fails(&["client", "list"]).await;
    assert!(err.contains("bindd"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::with_config(dir, "[session]\nidle_secs = -5\n").await;
    assert!(
        cli.fails(&["client", "list"])
            .await
            .contains("session.idle_secs")
    );

    let missing = tokio::process::Command::new(BIN)
        .args(["--config", "/nonexistent/trousseau.toml", "client", "list"])
        .output()
        .await
        .unwrap();
    assert!(failure(&["--config"], missing).contains("/nonexistent/trousseau.toml"));
}

#[tokio::test]
async fn an_environment_variable_overrides_the_file() {
    let cli = Cli::new().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other_db = test_database(other_dir.path()).await;
    let mut cmd = cli.command(&["migrate"]);
    cmd.env("TROUSSEAU__DATABASE__URL", &other_db);
    assert!(cmd.output().await.unwrap().status.success());
    let args = [
        "user",
        "create",
        "--username",
        "envuser",
        "--given-name",
        "E",
        "--family-name",
        "V",
    ];
    let mut cmd = cli.command(&args);
    cmd.env("TROUSSEAU__DATABASE__URL", &other_db);
    let out = cmd.output().await.unwrap();
    single_line_object(&out);

    let mut cmd = cli.command(&["user", "list", "--json"]);
    cmd.env("TROUSSEAU__DATABASE__URL", &other_db);
    let in_other = parse_ok(&["user", "list"], cmd.output().await.unwrap());
    assert_eq!(
        in_other.as_array().unwrap().len(),
        1,
        "the user went to the database named by the environment"
    );
    let in_file = cli.json(&["user", "list", "--json"]).await;
    assert!(
        in_file.as_array().unwrap().is_empty(),
        "and not to the one of the file"
    );
}

/// The binary run in `cwd`, without the TROUSSEAU__ variables of the test's environment.
async fn run_in(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    cmd.output().await.expect("the binary runs")
}

#[tokio::test]
async fn administration_commands_never_create_a_database_or_a_master_key() {
    // An installation whose configuration names its database and key with relative paths.
    let install = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let postgres = std::env::var("TEST_DB").as_deref() == Ok("postgres");
    let url = if postgres {
        test_database(install.path()).await
    } else {
        "sqlite://data/trousseau.db".to_owned()
    };
    let config = install.path().join("trousseau.toml");
    std::fs::write(&config, config_toml(&url, Path::new("data/master.key"))).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let key = install.path().join("data/master.key");
    let db_file = install.path().join("data/trousseau.db");
    let nothing_created = |cwd: &Path| {
        assert!(!install.path().join("data").exists(), "nothing created");
        assert!(!cwd.join("data").exists(), "nothing created in {cwd:?}");
    };

    // Before `migrate`, an administration command creates nothing and names the files it
    // resolved.
    let args = ["--config", &config, "user", "list", "--json"];
    let err = failure(&args, run_in(elsewhere.path(), &args).await);
    assert!(err.contains(&key.display().to_string()), "{err}");
    if !postgres {
        assert!(err.contains(&db_file.display().to_string()), "{err}");
    }
    nothing_created(elsewhere.path());

    // `migrate` run from elsewhere creates them beside the configuration file.
    let out = run_in(elsewhere.path(), &["--config", &config, "migrate"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(key.is_file(), "the key is beside the configuration");
    assert_eq!(db_file.is_file(), !postgres);
    assert!(!elsewhere.path().join("data").exists());

    // From any working directory, the commands reach that database with that key.
    let create = [
        "--config",
        &config,
        "client",
        "create",
        "--id",
        "dpi",
        "--name",
        "DPI",
        "--redirect-uri",
        "https://dpi.example/cb",
    ];
    single_line_object(&run_in(elsewhere.path(), &create).await);
    let third = tempfile::tempdir().unwrap();
    let list = ["--config", &config, "client", "list", "--json"];
    let listed = parse_ok(&list, run_in(third.path(), &list).await);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let listed = parse_ok(&list, run_in(install.path(), &list).await);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(!third.path().join("data").exists());

    // Without --config, the defaults name files in the working directory: none is created.
    let bare = tempfile::tempdir().unwrap();
    let cwd = bare.path().canonicalize().unwrap();
    let err = failure(&["user", "list"], run_in(&cwd, &["user", "list"]).await);
    assert!(
        err.contains(&cwd.join("data/trousseau.db").display().to_string())
            && err.contains(&cwd.join("data/master.key").display().to_string()),
        "{err}"
    );
    assert!(!cwd.join("data").exists(), "no database, no key");

    // The key gone while the database holds signing keys: no new key, even from `migrate`.
    let saved = install.path().join("master.key.saved");
    std::fs::rename(&key, &saved).unwrap();
    let args = ["--config", &config, "migrate"];
    let err = failure(&args, run_in(elsewhere.path(), &args).await);
    assert!(
        err.contains("signing keys") && err.contains(&key.display().to_string()),
        "{err}"
    );
    assert!(!key.exists(), "no key generated");
    let err = failure(&list, run_in(elsewhere.path(), &list).await);
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(!key.exists(), "no key generated");
    std::fs::rename(&saved, &key).unwrap();
    let listed = parse_ok(&list, run_in(elsewhere.path(), &list).await);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // A configuration moved away from its relative files (an upgrade): told, nothing created.
    let etc = install.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let moved = etc.join("trousseau.toml");
    std::fs::write(&moved, config_toml(&url, Path::new("data/master.key"))).unwrap();
    let moved = moved.to_str().unwrap();
    for args in [
        vec!["--config", moved, "client", "list"],
        vec!["--config", moved, "migrate"],
    ] {
        let err = failure(&args, run_in(install.path(), &args).await);
        assert!(
            err.contains(&etc.join("data").display().to_string())
                && err.contains(&install.path().join("data").display().to_string()),
            "{err}"
        );
        assert!(!etc.join("data").exists(), "nothing created");
    }
}

/// Polls `check` (wall clock) until it holds; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    app.http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "api.read")])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn changes_made_with_the_cli_reach_a_running_server_within_a_second() {
    let app = spawn_app().await;
    let cli = Cli::for_app(&app).await;
    let limit = Duration::from_millis(1500);

    // The server has just looked this client up and found nothing (and may cache that).
    assert_eq!(
        client_credentials(&app, "batch", "not-yet").await,
        StatusCode::UNAUTHORIZED
    );
    let created = cli
        .json(&[
            "client",
            "create",
            "--id",
            "batch",
            "--name",
            "Batch",
            "--grant",
            "client_credentials",
            "--scope",
            "api.read",
        ])
        .await;
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    within(limit, || async {
        client_credentials(&app, "batch", &secret).await == StatusCode::OK
    })
    .await;

    // A rotated secret replaces the old one on the running server.
    let rotated = cli
        .json(&["client", "rotate-secret", "--id", "batch"])
        .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    within(limit, || async {
        client_credentials(&app, "batch", &secret).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        client_credentials(&app, "batch", &new_secret).await,
        StatusCode::OK
    );

    // Users made with the CLI sign in at once.
    let created = cli
        .run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--given-name",
                "Carol",
                "--family-name",
                "Petit",
                "--password-stdin",
            ],
            "first passphrase\n",
        )
        .await;
    single_line_object(&created);
    let dpi = app.rp("dpi").await;
    assert_eq!(
        login_status(&app, &dpi, "carol", "first passphrase").await,
        StatusCode::SEE_OTHER
    );
    parse_ok(
        &["user", "set-password"],
        cli.run_with_stdin(&["user", "set-password", "carol"], "second passphrase\n")
            .await,
    );
    assert_eq!(
        login_status(&app, &dpi, "carol", "first passphrase").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&app, &dpi, "carol", "second passphrase").await,
        StatusCode::SEE_OTHER
    );
    cli.json(&["user", "disable", "carol"]).await;
    assert_eq!(
        login_status(&app, &dpi, "carol", "second passphrase").await,
        StatusCode::FORBIDDEN
    );
}

/// The status of a password login in a fresh browser.
async fn login_status(app: &TestApp, rp: &crate::helpers::Rp, user: &str, pw: &str) -> StatusCode {
    let mut browser = app.browser();
    let (url, _) = authorize_url(app, rp, &[]);
    let resp = browser.get(&url).await;
    let (_, location) = browser.follow(resp).await;
    browser.submit_login(&location, user, pw).await.status()
}

#[tokio::test]
async fn a_resource_server_registered_with_introspect_sees_other_clients_tokens() {
    let app = spawn_app().await;
    let cli = Cli::for_app(&app).await;
    let dpi = app.rp("dpi").await;
    app.create_user("alice", "correct horse battery").await;
    let mut browser = app.browser();
    let tokens =
        crate::helpers::login_tokens(&app, &mut browser, &dpi, "alice", "correct horse battery")
            .await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();

    let created = single_line_object(
        &cli.run(&[
            "client",
            "create",
            "--id",
            "api",
            "--name",
            "API des résultats",
            "--grant",
            "client_credentials",
            "--introspect",
        ])
        .await,
    );
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let shown = cli.json(&["client", "show", "--id", "api", "--json"]).await;
    assert_eq!(shown["introspect"], true);
    assert_eq!(
        cli.json(&["client", "show", "--id", "dpi", "--json"]).await["introspect"],
        false
    );
    let active = async || -> bool {
        let resp = app
            .http
            .post(app.url("/introspect"))
            .basic_auth("api", Some(&secret))
            .form(&[("token", at.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["active"] == true
    };
    assert!(active().await, "a resource server sees the client's token");

    cli.json(&["client", "update", "--id", "api", "--introspect", "false"])
        .await;
    assert_eq!(
        cli.json(&["client", "show", "--id", "api", "--json"]).await["introspect"],
        false
    );
    within(Duration::from_millis(1500), async || !active().await).await;

    cli.json(&["client", "update", "--id", "api", "--introspect"])
        .await;
    within(Duration::from_millis(1500), active).await;

    let err = cli
        .fails(&[
            "client",
            "create",
            "--id",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://localhost:3000/cb",
            "--introspect",
        ])
        .await;
    assert!(err.contains("--introspect"), "{err}");
}

#[tokio::test]
async fn migrate_migrates_even_where_the_servers_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let url = test_database(dir.path()).await;
    let key = dir.path().join("master.key");
    let toml = format!(
        "{}\n",
        config_toml(&url, &key).replace("[database]\n", "[database]\nmigrate = false\n")
    );
    let cli = Cli::with_config(dir, &toml).await;
    let out = cli.run(&["migrate"]).await;
    assert!(out.status.success(), "migrate: {}", text(&out.stderr));
    let users = cli.json(&["user", "list", "--json"]).await;
    assert_eq!(users.as_array().map(Vec::len), Some(0), "the tables exist");
}

#[tokio::test]
async fn a_subject_access_export_holds_the_persons_data_and_no_secret() {
    let cli = Cli::new().await;
    let args = ALICE;
    let created = single_line_object(&cli.run_with_stdin(&args, "correct horse battery\n").await);
    cli.json(&["user", "disable", "alice", "--reason", "left"])
        .await;
    let export = cli.json(&["user", "export", "alice"]).await;
    assert_eq!(export["identity"]["id"], created["id"]);
    assert_eq!(export["identity"]["email"], "alice@chu.example");
    assert_eq!(export["identity"]["status_reason"], "left");
    let kinds: Vec<&str> = export["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"user_created") && kinds.contains(&"user_disabled"),
        "{kinds:?}"
    );
    for key in ["security_keys", "cards", "pairings", "open_sessions"] {
        assert!(export[key].is_array(), "{key}");
    }
    let text = export.to_string();
    assert!(!text.contains("argon2"), "no password hash");
    assert!(!text.contains("token_hash"), "no session token");
    // The export itself is in the trail, about that person.
    let audit = cli
        .json(&["audit", "list", "--kind", "subject_access_export", "--json"])
        .await;
    assert_eq!(audit[0]["subject"], created["id"]);
}
