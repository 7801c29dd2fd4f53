//! The audit trail's hash chain against each kind of tampering by someone with write access to
//! the database but not the master key: an edit, a deletion, a reordering, a deleted tail (found
//! by a checkpoint kept outside the database), a chain recomputed with another key, a purge
//! without its anchor, a forged anchor or checkpoint; and that honest work (concurrent sealing
//! rounds, retention purges) keeps it intact. Through the library and through
//! `trousseau audit verify`, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

use std::process::Output;

use trousseau::audit::AuditEvent;
use trousseau::audit::chain::{self, ChainKey, Checkpoint, Problem, Verification};
use trousseau::crypto::master_key::MasterKey;

use crate::helpers::{TestApp, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_trousseau");

/// A server whose own sealing round ran once at start and not again during the test, and
/// without the automatic retention purge: the test decides when events are sealed or purged,
/// and with which key.
async fn spawn_app() -> TestApp {
    spawn_app_with("[audit]\nseal_interval_secs = 3600\nretention_days = 0\n").await
}

fn key(app: &TestApp) -> ChainKey {
    ChainKey::from_master(&app.state.master)
}

/// Writes `n` events through both paths (the batched writer and a change's transaction) and
/// seals them.
async fn events(app: &TestApp, n: usize) {
    for i in 0..n {
        let event = AuditEvent::success("test_event")
            .subject(format!("person-{i}"))
            .details(serde_json::json!({ "i": i }));
        if i % 3 == 0 {
            let mut tx = app.state.db.begin().await.unwrap();
            app.state.audit.in_tx(&mut tx, event).await.unwrap();
            tx.commit().await.unwrap();
        } else {
            app.state.audit.record(event).await;
        }
    }
    app.state.audit.flush().await;
    chain::seal(&app.state.db, &key(app)).await.unwrap();
}

async fn verify(app: &TestApp, checkpoints: &[Checkpoint]) -> Verification {
    chain::verify(&app.state.db, &key(app), checkpoints, app.state.clock.now())
        .await
        .unwrap()
}

async fn sql(app: &TestApp, statement: &str) -> u64 {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(app.state.db.pool())
        .await
        .unwrap()
        .rows_affected()
}

async fn last_seq(app: &TestApp) -> i64 {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    last.unwrap_or(0)
}

async fn head(app: &TestApp) -> Checkpoint {
    chain::head(&app.state.db, &key(app), app.state.clock.now())
        .await
        .unwrap()
        .expect("a sealed event")
}

#[tokio::test]
async fn every_event_is_sealed_once_in_a_chain_without_gaps_and_verifies() {
    let app = spawn_app().await;
    events(&app, 40).await;
    let (count, unsealed): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), SUM(CASE WHEN seq IS NULL THEN 1 ELSE 0 END) FROM audit_events",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(unsealed, 0, "every event is sealed");
    assert_eq!(last_seq(&app).await, count, "places 1..=n, no gap");
    let v = verify(&app, &[head(&app).await]).await;
    assert!(v.intact(), "{:?}", v.problems);
    assert_eq!(v.checked as i64, count);
    assert_eq!((v.first_seq, v.last_seq), (Some(1), Some(count)));
    // Sealing again changes nothing.
    assert_eq!(chain::seal(&app.state.db, &key(&app)).await.unwrap(), 0);
}

#[tokio::test]
async fn an_edited_event_is_found_whichever_field_changed() {
    let app = spawn_app().await;
    events(&app, 12).await;
    sql(
        &app,
        "UPDATE audit_events SET outcome = 'failure' WHERE seq = 3",
    )
    .await;
    sql(&app, "UPDATE audit_events SET at = at - 1 WHERE seq = 7").await;
    sql(&app, "UPDATE audit_events SET details = NULL WHERE seq = 9").await;
    let v = verify(&app, &[]).await;
    let altered: Vec<i64> = v
        .problems
        .iter()
        .map(|p| match p {
            Problem::Altered { seq, .. } => *seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(altered, vec![3, 7, 9], "one finding per edit, no cascade");
}

#[tokio::test]
async fn a_deleted_event_is_found() {
    let app = spawn_app().await;
    events(&app, 12).await;
    sql(&app, "DELETE FROM audit_events WHERE seq IN (4, 5)").await;
    let v = verify(&app, &[]).await;
    assert_eq!(v.problems, vec![Problem::Missing { from: 4, to: 5 }]);
    assert!(
        v.problems[0].to_string().contains("#4 to #5 are missing"),
        "{}",
        v.problems[0]
    );
}

#[tokio::test]
async fn reordered_events_are_found() {
    let app = spawn_app().await;
    events(&app, 12).await;
    sql(&app, "UPDATE audit_events SET seq = -1 WHERE seq = 2").await;
    sql(&app, "UPDATE audit_events SET seq = 2 WHERE seq = 6").await;
    sql(&app, "UPDATE audit_events SET seq = 6 WHERE seq = -1").await;
    let v = verify(&app, &[]).await;
    let places: Vec<i64> = v
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::Altered { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    // Each moved event, and the one after it (whose seal names the MAC that was there).
    assert_eq!(places, vec![2, 3, 6, 7], "{:?}", v.problems);
    assert_eq!(places.len(), v.problems.len());
}

#[tokio::test]
async fn a_deleted_tail_is_found_by_a_checkpoint_kept_outside_the_database() {
    let app = spawn_app().await;
    events(&app, 12).await;
    let checkpoint = head(&app).await;
    let last = last_seq(&app).await;
    sql(
        &app,
        &format!("DELETE FROM audit_events WHERE seq > {}", last - 3),
    )
    .await;
    // The chain alone cannot tell a short trail from a truncated one…
    assert!(verify(&app, &[]).await.intact());
    // …its checkpoint can.
    let v = verify(&app, std::slice::from_ref(&checkpoint)).await;
    assert_eq!(
        v.problems,
        vec![Problem::Truncated {
            checkpoint_seq: last,
            last_seq: last - 3
        }]
    );
    // A checkpoint line someone wrote without the key proves nothing and is refused.
    let mut forged = checkpoint.clone();
    forged.seq += 100;
    let v = verify(&app, &[forged]).await;
    assert!(matches!(v.problems[..], [Problem::ForgedCheckpoint { .. }]));
}

#[tokio::test]
async fn a_chain_rewritten_without_the_master_key_does_not_verify() {
    let app = spawn_app().await;
    events(&app, 10).await;
    // Someone with the database alone edits an event and reseals everything after it with a
    // key of their own: every place they touched is found.
    sql(
        &app,
        "UPDATE audit_events SET subject = 'someone-else' WHERE seq = 5",
    )
    .await;
    let theirs = ChainKey::from_master(&MasterKey::from_bytes([7; 32]));
    let rows = chain::verify(&app.state.db, &theirs, &[], app.state.clock.now())
        .await
        .unwrap();
    assert!(
        !rows.intact(),
        "another key sees the honest chain as broken"
    );
    sql(
        &app,
        "UPDATE audit_events SET seq = NULL, mac = NULL WHERE seq >= 5",
    )
    .await;
    // Their resealing, under the wrong key, starts from the honest MAC at #4.
    let resealed = chain::seal(&app.state.db, &theirs).await.unwrap();
    assert!(resealed >= 6);
    let v = verify(&app, &[]).await;
    let altered = v
        .problems
        .iter()
        .filter(|p| matches!(p, Problem::Altered { .. }))
        .count();
    assert_eq!(altered as u64, resealed, "{:?}", v.problems);
}

#[tokio::test]
async fn a_retention_purge_keeps_the_chain_verifiable_and_a_silent_one_does_not() {
    let app = spawn_app().await;
    events(&app, 9).await;
    let before_purge = head(&app).await;
    app.clock.advance(400 * 86_400);
    let cutoff = app.state.clock.now() - 1;
    events(&app, 6).await;
    let purged = chain::purge_before(&app.state.db, &key(&app), cutoff, app.state.clock.now())
        .await
        .unwrap();
    assert!(purged >= 9, "the old events went: {purged}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE at < $1")
        .bind(cutoff)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    // The rest verifies from the anchor, and a checkpoint of a purged place is no finding.
    let v = verify(&app, &[before_purge.clone(), head(&app).await]).await;
    assert!(v.intact(), "{:?}", v.problems);
    let anchor = v.anchor_seq.expect("an anchor");
    assert_eq!(v.first_seq, Some(anchor + 1));
    // Purging again with nothing older does nothing.
    let again = chain::purge_before(&app.state.db, &key(&app), cutoff, app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(again, 0);

    // Deleting the oldest remaining events without an anchor is found…
    sql(
        &app,
        &format!("DELETE FROM audit_events WHERE seq = {}", anchor + 1),
    )
    .await;
    let v = verify(&app, &[]).await;
    assert_eq!(
        v.problems,
        vec![Problem::Missing {
            from: anchor + 1,
            to: anchor + 1
        }]
    );
    // …and so is moving the anchor to cover them.
    sql(&app, "UPDATE audit_anchors SET seq = seq + 1").await;
    let v = verify(&app, &[]).await;
    assert!(
        v.problems
            .contains(&Problem::ForgedAnchor { seq: anchor + 1 }),
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn concurrent_sealing_rounds_never_fork_the_chain() {
    let app = spawn_app().await;
    for i in 0..3000 {
        app.state
            .audit
            .record(AuditEvent::failure("test_event", "burst").subject(format!("p{i}")))
            .await;
    }
    app.state.audit.flush().await;
    let db = app.state.db.clone();
    let master = app.state.master.clone();
    let rounds: Vec<_> = (0..4)
        .map(|_| {
            let (db, master) = (db.clone(), master.clone());
            tokio::spawn(async move {
                let key = ChainKey::from_master(&master);
                // A round that lost a race gives up its batch; the next one goes on.
                for _ in 0..20 {
                    if chain::seal(&db, &key).await.is_ok() {
                        break;
                    }
                }
            })
        })
        .collect();
    for r in rounds {
        r.await.unwrap();
    }
    chain::seal(&app.state.db, &key(&app)).await.unwrap();
    let v = verify(&app, &[]).await;
    assert!(v.intact(), "{:?}", v.problems);
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(v.checked as i64, total, "every event sealed exactly once");
}

/// The command line against the test server's database and master key.
struct Cli {
    config: std::path::PathBuf,
}

impl Cli {
    fn new(app: &TestApp, dir: &std::path::Path) -> Cli {
        let config = dir.join("trousseau.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{}\"\n[secrets]\nmaster_key_file = \"{}\"\n",
                app.database_url,
                app.state.settings.secrets.master_key_file.display()
            ),
        )
        .unwrap();
        Cli { config }
    }

    /// Runs without blocking the test's runtime, which also runs the server.
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config").arg(&self.config).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("TROUSSEAU__") {
                cmd.env_remove(k);
            }
        }
        cmd.output().await.expect("the binary runs")
    }
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn the_command_line_verifies_checkpoints_and_purges() {
    let app = spawn_app().await;
    events(&app, 8).await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&app, dir.path());

    // The SIEM formats: a JSON object per line, and RFC 5424 syslog lines.
    let o = cli
        .run(&[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--kind",
            "test_event",
        ])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    let jsonl = String::from_utf8(o.stdout).unwrap();
    assert_eq!(jsonl.lines().count(), 8, "{jsonl}");
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["kind"], "test_event");
        assert!(v["time_utc"].as_str().unwrap().ends_with('Z'));
        assert!(v["details"]["i"].is_number(), "details stay JSON: {line}");
    }
    let o = cli
        .run(&[
            "audit",
            "export",
            "--format",
            "syslog",
            "--kind",
            "test_event",
        ])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    let syslog = String::from_utf8(o.stdout).unwrap();
    for line in syslog.lines() {
        // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
        let parts: Vec<&str> = line.splitn(8, ' ').collect();
        assert_eq!(parts[0], "<86>1", "authpriv.info for a success: {line}");
        assert!(parts[1].len() == 20 && parts[1].ends_with('Z'), "{line}");
        assert!(!parts[2].is_empty() && parts[2].is_ascii(), "{line}");
        assert_eq!(
            &parts[3..7],
            ["trousseau", "-", "test_event", "-"],
            "{line}"
        );
        let msg: serde_json::Value = serde_json::from_str(parts[7]).unwrap();
        assert_eq!(msg["outcome"], "success");
    }
    assert_eq!(syslog.lines().count(), 8);

    let o = cli.run(&["audit", "checkpoint"]).await;
    assert!(o.status.success(), "{}", out(&o));
    let file = dir.path().join("checkpoints.jsonl");
    std::fs::write(&file, &o.stdout).unwrap();
    let line: Checkpoint = serde_json::from_slice(&o.stdout).unwrap();
    assert!(line.seq >= 8);

    let file_arg = file.to_str().unwrap();
    let o = cli
        .run(&["audit", "verify", "--checkpoints", file_arg])
        .await;
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("the audit trail is intact"), "{}", out(&o));

    sql(
        &app,
        "UPDATE audit_events SET actor = 'nobody' WHERE seq = 2",
    )
    .await;
    sql(
        &app,
        &format!("DELETE FROM audit_events WHERE seq >= {}", line.seq),
    )
    .await;
    let o = cli
        .run(&["audit", "verify", "--checkpoints", file_arg])
        .await;
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(text.contains("BROKEN: event #2"), "{text}");
    // The places emptied at the end were filled again by newer events (the verification's own
    // event among them): the checkpoint shows it either way.
    assert!(
        text.contains("newest events were deleted") || text.contains("its checkpoint saw"),
        "{text}"
    );
    assert!(text.contains("tampered with: 2 findings"), "{text}");
    // The verification itself is audited, with its outcome.
    let verified = app.audit("audit_verified").await;
    assert_eq!(verified[0].outcome, "failure");
    assert_eq!(verified[0].reason.as_deref(), Some("chain_broken"));

    let o = cli.run(&["audit", "purge", "--before", "tomorrow"]).await;
    assert!(!o.status.success());
    assert!(out(&o).contains("YYYY-MM-DD"), "{}", out(&o));
    let o = cli.run(&["audit", "purge", "--before", "2000-01-01"]).await;
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("0 audit events written before 2000-01-01 purged"));
}

#[tokio::test]
async fn the_server_seals_within_seconds_writes_checkpoints_and_purges_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.jsonl");
    let app = spawn_app_with(&format!(
        "[audit]\nseal_interval_secs = 1\ncheckpoint_interval_secs = 1\n\
         checkpoint_file = \"{}\"\nretention_days = 365\n",
        file.display()
    ))
    .await;
    app.state
        .audit
        .record(AuditEvent::success("test_event").subject("someone"))
        .await;
    app.state.audit.flush().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let sealed_and_checkpointed = loop {
        let unsealed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL")
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        let last = last_seq(&app).await;
        let checkpoints = chain::read_checkpoints(&file).unwrap_or_default();
        if unsealed == 0 && checkpoints.iter().any(|c| c.seq == last) {
            break checkpoints;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sealed and checkpointed within seconds"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let v = verify(&app, &sealed_and_checkpointed).await;
    assert!(v.intact(), "{:?}", v.problems);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the checkpoint file is the owner's alone");
    }

    // A year and a month later, the housekeeping node purges by retention.
    app.clock.advance(400 * 86_400);
    let purged = trousseau::workers::audit_retention_once(&app.state, "test-node")
        .await
        .unwrap();
    assert!(purged >= 1, "{purged}");
    app.state.audit.flush().await;
    chain::seal(&app.state.db, &key(&app)).await.unwrap();
    let v = verify(&app, &sealed_and_checkpointed).await;
    assert!(v.intact(), "{:?}", v.problems);
    assert!(v.anchor_seq.is_some());
    assert_eq!(app.audit("audit_purged").await.len(), 1);
}
