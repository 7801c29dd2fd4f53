//! `trousseau rpps`: import the national extraction, search the index, list import runs.

use anyhow::Context as _;
use anyhow::bail;
use clap::Subcommand;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::output::{table, time};
use crate::directory::rpps::{self, ImportError, ImportOptions, Progress};
use crate::state::AppState;
use crate::storage::rpps as store;

#[derive(Debug, Subcommand)]
pub enum RppsCommand {
    /// Import a PS_LibreAcces_Personne_activite_*.txt extraction (or the zip holding it).
    Import {
        path: PathBuf,
        /// Professionals written per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Find professionals by IdNat or by name ("DUPONT", "dupont jean", "Jean Dupont").
    Search {
        text: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
        /// Run the search this many times and print the latency (benchmarks).
        #[arg(long, hide = true, default_value_t = 0)]
        time: u32,
    },
    /// Reconciliation findings of local identities against the RPPS (last run).
    Report(super::reconcile::ReportArgs),
    /// List import runs, newest first.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(state: &AppState, command: RppsCommand) -> anyhow::Result<()> {
    match command {
        RppsCommand::Import { path, batch, json } => import(state, path, batch, json).await,
        RppsCommand::Search {
            text,
            limit,
            json,
            time,
        } => search(state, &text, limit, json, time).await,
        RppsCommand::Runs { limit, json } => runs(state, limit, json).await,
        RppsCommand::Report(args) => super::reconcile::report(state, args).await,
    }
}

async fn import(state: &AppState, path: PathBuf, batch: usize, json: bool) -> anyhow::Result<()> {
    let options = ImportOptions {
        batch,
        ..ImportOptions::default()
    };
    let mut bar = Bar::new();
    let result = rpps::import_file(
        &state.db,
        &state.audit,
        &state.clock,
        &path,
        &options,
        |p| bar.show(p),
    )
    .await;
    bar.finish();
    let report = match result {
        Ok(r) => r,
        Err(ImportError::Refused(why)) => bail!("nothing imported from {}: {why}", path.display()),
        Err(e @ ImportError::Failed(_)) => return Err(anyhow::Error::new(e)),
    };
    // Every import is followed by reconciliation against the local identities (issue: "after
    // each import"); its findings are read with `trousseau rpps report`.
    let findings = crate::directory::reconcile::reconcile(&state.repository())
        .await
        .context("the import succeeded but reconciliation against local identities failed")?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let c = &report.counts;
    println!(
        "imported {} in {:.1} s: {} lines, {} professionals, {} activities; \
         {} added, {} changed, {} removed, {} lines rejected",
        path.display(),
        c.duration_ms as f64 / 1000.0,
        c.lines,
        c.professionals,
        c.activities,
        c.added,
        c.changed,
        c.removed,
        c.rejected
    );
    for r in &report.rejections {
        println!("rejected line {}: {} ({})", r.line, r.reason, r.detail);
    }
    if report.more_rejections > 0 {
        println!("… and {} more rejected lines", report.more_rejections);
    }
    let summary: Vec<String> = findings
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "reconciliation: {} (details: trousseau rpps report)",
        summary.join(", ")
    );
    Ok(())
}

/// A progress bar on a terminal, a line every 5 s otherwise (logs, CI).
struct Bar {
    tty: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    fn show(&mut self, p: Progress) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|l| l.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = p.lines as f64 / secs;
        let pct = if p.total_bytes > 0 {
            (p.bytes as f64 * 100.0 / p.total_bytes as f64).min(100.0)
        } else {
            0.0
        };
        let mut err = std::io::stderr().lock();
        if self.tty {
            let filled = (pct / 5.0) as usize;
            let _ = write!(
                err,
                "\r[{}{}] {pct:5.1}%  {} lines  {:.0} lines/s ",
                "#".repeat(filled),
                " ".repeat(20 - filled.min(20)),
                p.lines,
                rate
            );
            self.drawn = true;
        } else {
            let _ = writeln!(
                err,
                "rpps import: {pct:.1}%, {} lines, {rate:.0} lines/s",
                p.lines
            );
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.drawn {
            eprintln!();
        }
    }
}

async fn search(
    state: &AppState,
    text: &str,
    limit: i64,
    json: bool,
    repeat: u32,
) -> anyhow::Result<()> {
    if repeat > 0 {
        let mut times = Vec::with_capacity(repeat as usize);
        let mut found = 0;
        for i in 0..repeat {
            // Vary the prefix so that the engines' caches do not answer every query.
            let letter = char::from(b'A' + (i % 26) as u8);
            let query = if text == "*" {
                letter.to_string()
            } else {
                text.to_owned()
            };
            let t = Instant::now();
            found += rpps::search(&state.db, &query, limit).await?.len();
            times.push(t.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / repeat;
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        println!(
            "{repeat} searches: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms, {found} results",
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        return Ok(());
    }
    let found = rpps::search(&state.db, text, limit).await?;
    if json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    for f in &found {
        println!(
            "{}  {} {}  {}",
            f.idnat,
            f.last_name,
            f.first_name,
            f.professions.join(", ")
        );
    }
    if found.is_empty() {
        println!("(nobody)");
    }
    Ok(())
}

async fn runs(state: &AppState, limit: i64, json: bool) -> anyhow::Result<()> {
    let runs = store::runs(state.db.pool(), limit).await?;
    if json {
        println!("{}", serde_json::to_string(&runs)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                time(r.started_at),
                r.status.clone(),
                r.lines.to_string(),
                r.professionals.to_string(),
                r.activities.to_string(),
                r.added.to_string(),
                r.changed.to_string(),
                r.removed.to_string(),
                r.rejected.to_string(),
                format!("{:.1}", r.duration_ms as f64 / 1000.0),
                r.file.clone(),
            ]
        })
        .collect();
    table(
        &[
            "started", "status", "lines", "pros", "acts", "added", "changed", "removed",
            "rejected", "secs", "file",
        ],
        &rows,
    );
    Ok(())
}
