//! The RPPS national index: import of generated extractions (both layouts, BOM, CRLF, broken
//! lines), refusals, re-import, snapshot switch, search, runs and audit (issue 3).

use std::path::{Path, PathBuf};
use std::process::Output;
use trousseau::directory::rpps::header::HEADER_56;
use trousseau::directory::rpps::{
    self, Event, ImportError, ImportOptions, ImportReport, Professional, scan,
};
use trousseau::storage::rpps as store;

use crate::helpers::{TestApp, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_trousseau");
const GEN: &str = env!("CARGO_BIN_EXE_trousseau-rpps-gen");

/// A data line of the 56-column layout.
pub(crate) fn line(idnat: &str, last: &str, first: &str, profession: &str, finess: &str) -> String {
    let mut f = vec![String::new(); 56];
    f[0] = idnat[..1].to_owned();
    f[1] = idnat[1..].to_owned();
    f[2] = idnat.to_owned();
    f[5] = "M".into();
    f[7] = last.into();
    f[8] = first.into();
    f[9] = profession.into();
    f[10] = "Médecin".into();
    f[17] = "S".into();
    f[21] = finess.into();
    f[23] = format!("F{finess}");
    f[48] = "SA01".into();
    format!("{}|", f.join("|"))
}

pub(crate) fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = format!("{HEADER_56}\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) async fn import(app: &TestApp, path: &Path) -> Result<ImportReport, ImportError> {
    let options = ImportOptions {
        batch: 7,
        ..ImportOptions::default()
    };
    rpps::import_file(
        &app.state.db,
        &app.state.audit,
        &app.state.clock,
        path,
        &options,
        |_| {},
    )
    .await
}

async fn search(app: &TestApp, text: &str) -> Vec<String> {
    rpps::search(&app.state.db, text, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.idnat)
        .collect()
}

const A: &str = "810001045367";
const B: &str = "810002000003";
const C: &str = "0012600631";
const D: &str = "810003000001";

fn base_file() -> Vec<String> {
    vec![
        line(C, "LEFÈVRE", "Zoé", "60", ""),
        line(A, "DUPONT", "Jean", "10", "750000001"),
        line(A, "DUPONT", "Jean", "10", "750000002"),
        line(B, "MARTIN", "Anne", "10", "750000001"),
    ]
}

#[tokio::test]
async fn generated_files_in_both_layouts_import_with_their_quirks() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    for (layout, bom, crlf) in [("52", true, false), ("56", false, true)] {
        let path = dir
            .path()
            .join(format!("PS_LibreAcces_Personne_activite_{layout}.txt"));
        let mut args = vec![
            "--lines",
            "300",
            "--layout",
            layout,
            "--broken-every",
            "50",
            "--seed",
            layout,
        ];
        if bom {
            args.push("--bom");
        }
        if crlf {
            args.push("--crlf");
        }
        let out = std::process::Command::new(GEN)
            .args(&args)
            .arg("--out")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = import(&app, &path).await.unwrap();
        let c = report.counts;
        assert_eq!(c.lines, 300);
        assert_eq!(c.rejected, 6);
        assert_eq!(c.activities, 294);
        let lines: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![51, 101, 151, 201, 251, 301]);
        let reasons: Vec<&str> = report.rejections.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                "invalid_idnat",
                "invalid_utf8",
                "field_count",
                "invalid_idnat",
                "invalid_utf8",
                "field_count"
            ]
        );
        assert!(c.professionals > 100 && c.professionals < 294, "{c:?}");
        let (pros, acts) = store::counts(app.state.db.pool()).await.unwrap();
        assert_eq!((pros, acts), (c.professionals, c.activities));
    }
}

#[tokio::test]
async fn a_file_missing_a_required_column_is_refused_with_nothing_written() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.txt", &base_file());
    import(&app, &good).await.unwrap();
    let text =
        std::fs::read_to_string(&good)
            .unwrap()
            .replacen("Code profession|", "Code prof|", 1);
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, text).unwrap();
    let err = import(&app, &bad).await.unwrap_err();
    assert!(
        matches!(&err, ImportError::Refused(why) if why.contains("\"Code profession\"")),
        "{err:?}"
    );
    // An unreadable file and a file with no valid line are refused too.
    let missing = import(&app, &dir.path().join("nope.txt"))
        .await
        .unwrap_err();
    assert!(matches!(missing, ImportError::Refused(_)), "{missing:?}");
    let empty = write(dir.path(), "empty.txt", &["1|2|".to_owned()]);
    assert!(matches!(
        import(&app, &empty).await,
        Err(ImportError::Refused(_))
    ));
    // The index is the first import's.
    assert_eq!(store::counts(app.state.db.pool()).await.unwrap(), (3, 4));
    let runs = store::runs(app.state.db.pool(), 10).await.unwrap();
    assert_eq!(runs[runs.len() - 1].status, "succeeded");
    let audit = app.audit(rpps::import::AUDIT_KIND).await;
    assert_eq!(audit.iter().filter(|e| e.outcome == "failure").count(), 3);
}

#[tokio::test]
async fn a_reimport_writes_nothing_and_a_changed_file_updates_and_removes() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "1.txt", &base_file());
    let r = import(&app, &first).await.unwrap().counts;
    assert_eq!(
        (r.professionals, r.activities, r.added, r.changed, r.removed),
        (3, 4, 3, 0, 0)
    );

    let again = import(&app, &first).await.unwrap().counts;
    assert_eq!((again.added, again.changed, again.removed), (0, 0, 0));

    let changed = write(
        dir.path(),
        "2.txt",
        &[
            line(C, "LEFÈVRE", "Zoé", "60", ""),
            line(A, "DUPONT", "Jean", "10", "750000001"),
            line(A, "DUPONT", "Jean", "10", "750000009"),
            line(D, "NGUYEN", "Loïc", "70", ""),
        ],
    );
    let r = import(&app, &changed).await.unwrap().counts;
    assert_eq!((r.added, r.changed, r.removed), (1, 1, 1));
    assert!(search(&app, B).await.is_empty());
    assert_eq!(search(&app, D).await, vec![D]);
    let acts = store::activities(app.state.db.pool(), A).await.unwrap();
    let sites: Vec<_> = acts
        .iter()
        .map(|a| a.finess_site.clone().unwrap())
        .collect();
    assert_eq!(sites, ["750000001", "750000009"]);
    assert_eq!(store::counts(app.state.db.pool()).await.unwrap(), (3, 4));
}

#[tokio::test]
async fn professionals_are_found_by_name_and_idnat() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    import(&app, &write(dir.path(), "1.txt", &base_file()))
        .await
        .unwrap();
    assert_eq!(search(&app, "dupont").await, vec![A]);
    assert_eq!(search(&app, "Jean Dupont").await, vec![A]);
    assert_eq!(search(&app, "lefevre zo").await, vec![C]);
    assert_eq!(search(&app, "Lefèvre").await, vec![C]);
    assert_eq!(search(&app, A).await, vec![A]);
    assert!(search(&app, "DURAND").await.is_empty());
    let found = rpps::search(&app.state.db, B, 5).await.unwrap();
    assert_eq!(found[0].professions, ["10 Médecin"]);
    assert_eq!(found[0].last_name, "MARTIN");
}

/// Builds the professionals of a file in memory (for writing a half-done import by hand).
fn professionals(lines: &[String]) -> Vec<Professional> {
    let text = format!("{HEADER_56}\n{}\n", lines.join("\n"));
    let mut out = Vec::new();
    scan(text.as_bytes(), |e| {
        if let Event::Professional(p) = e {
            out.push(p);
        }
        true
    })
    .unwrap();
    out
}

#[tokio::test]
async fn an_interrupted_import_stays_invisible_and_is_cleaned_by_the_next() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "1.txt", &base_file());
    import(&app, &first).await.unwrap();
    // An import that wrote a batch and died before switching.
    let db = &app.state.db;
    let now = app.state.clock.now();
    crash_after_a_batch(db, "crashed", now, &[A]).await;
    assert!(search(&app, D).await.is_empty());
    assert_eq!(search(&app, A).await, vec![A]);
    // While its lease lasts, another import is refused…
    let busy = import(&app, &first).await.unwrap_err();
    assert!(
        matches!(&busy, ImportError::Refused(w) if w.contains("another")),
        "{busy:?}"
    );
    // …then the lease expires and the next import drops the half-written rows.
    app.clock.advance(301);
    let r = import(&app, &first).await.unwrap().counts;
    assert_eq!((r.added, r.changed, r.removed), (0, 0, 0));
    assert!(search(&app, D).await.is_empty());
    assert_eq!(store::counts(db.pool()).await.unwrap(), (3, 4));
    let runs = store::runs(db.pool(), 10).await.unwrap();
    assert!(
        runs.iter()
            .any(|r| r.id == "crashed" && r.status == "abandoned")
    );
}

/// Starts an import, writes one batch (D, replacing `replaced`) and stops there.
async fn crash_after_a_batch(db: &trousseau::storage::Db, run: &str, now: i64, replaced: &[&str]) {
    let started = store::begin(db, run, "x.txt", now, now + 300)
        .await
        .unwrap()
        .unwrap();
    let mut writer = store::Writer::open(db, started).await.unwrap();
    let rows = writer
        .rows()
        .rows(professionals(&[line(D, "NGUYEN", "Loïc", "70", "")]));
    writer
        .write_batch(now + 300, vec![rows], replaced)
        .await
        .unwrap();
}

async fn has_name_index(db: &trousseau::storage::Db) -> bool {
    let sql = match db.backend() {
        trousseau::storage::Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND name = 'rpps_professionals_name'"
        }
        trousseau::storage::Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'rpps_professionals_name'"
        }
    };
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    n == 1
}

#[tokio::test]
async fn a_first_import_builds_the_name_index_at_the_end_even_after_a_crash() {
    let app = spawn_app().await;
    let db = &app.state.db;
    assert!(has_name_index(db).await);
    // A first import (empty index) drops the name index while it writes, then dies.
    let now = app.state.clock.now();
    crash_after_a_batch(db, "crashed-first", now, &[]).await;
    assert!(!has_name_index(db).await);
    assert!(search(&app, D).await.is_empty());
    // The next one (once the lease is over) starts again from an empty table and builds it.
    app.clock.advance(301);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "1.txt", &base_file());
    let r = import(&app, &path).await.unwrap();
    assert_eq!(r.counts.added, 3);
    assert!(has_name_index(db).await);
    assert!(search(&app, D).await.is_empty());
    assert_eq!(search(&app, "dupont").await, vec![A]);
    // A later import keeps it all along.
    crash_after_a_batch(db, "crashed-later", app.state.clock.now(), &[A]).await;
    assert!(has_name_index(db).await);
}

#[tokio::test]
async fn runs_are_recorded_and_audited() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "1.txt", &base_file());
    let one = import(&app, &path).await.unwrap();
    let two = import(&app, &path).await.unwrap();
    let runs = store::runs(app.state.db.pool(), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == "succeeded" && r.lines == 4));
    assert_eq!(runs.iter().map(|r| r.added).sum::<i64>(), 3);
    let audit = app.audit(rpps::import::AUDIT_KIND).await;
    let subjects: Vec<_> = audit.iter().filter_map(|e| e.subject.clone()).collect();
    assert!(subjects.contains(&one.run_id) && subjects.contains(&two.run_id));
    assert!(audit.iter().all(|e| e.outcome == "success"));
}

fn config(app: &TestApp, dir: &Path) -> PathBuf {
    let toml = format!(
        "[database]\nurl = \"{}\"\n\n[secrets]\nmaster_key_file = \"{}\"\n",
        app.database_url,
        app.state.settings.secrets.master_key_file.display()
    );
    let path = dir.join("trousseau.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// Runs the binary, awaited: this runtime also drives the in-process server's background tasks
/// (its audit writer must be able to commit while the command waits for the database).
async fn cli(config: &Path, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config").arg(config).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("TROUSSEAU__") {
            cmd.env_remove(k);
        }
    }
    cmd.output().await.unwrap()
}

#[tokio::test]
async fn the_command_line_imports_searches_and_lists_runs() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&app, dir.path());
    let path = write(dir.path(), "1.txt", &base_file());
    let out = cli(&config, &["rpps", "import", path.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 professionals") && stdout.contains("3 added"),
        "{stdout}"
    );
    assert!(
        stdout.contains("reconciliation:"),
        "the import reconciles: {stdout}"
    );
    assert_eq!(
        app.audit("rpps_reconciled").await.len(),
        1,
        "one reconciliation per import"
    );

    let out = cli(&config, &["rpps", "search", "dupont"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), format!("{A}  DUPONT Jean  10 Médecin"));

    let out = cli(&config, &["rpps", "runs"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "Nom d'exercice|\nX|\n").unwrap();
    let out = cli(&config, &["rpps", "import", bad.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing imported") && stderr.contains("Identification nationale PP"),
        "{stderr}"
    );
}
