//! `trousseau hr`: import the HR export and list past runs.

use clap::Subcommand;
use std::path::PathBuf;

use super::output::{table, time};
use crate::directory::hr::{self, HrReport};
use crate::state::AppState;
use crate::storage::hr as store;

#[derive(Debug, Subcommand)]
pub enum HrCommand {
    /// Import an HR export (CSV, columns named in `[hr.columns]`): create and update
    /// identities keyed on the employee number, apply past departures.
    Import {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the last HR import runs.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

pub async fn run(state: &AppState, cmd: HrCommand) -> anyhow::Result<()> {
    match cmd {
        HrCommand::Import { file, json } => {
            let report = hr::import_file(&state.repository(), &file, "cli").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            if !report.imported_anything() {
                anyhow::bail!(
                    "nothing was imported from {}: every line was refused (see above)",
                    file.display()
                );
            }
        }
        HrCommand::Runs { limit } => {
            let rows = store::runs(state.db.pool(), limit)
                .await?
                .into_iter()
                .map(|r| {
                    vec![
                        time(r.started_at),
                        r.lines.to_string(),
                        r.created.to_string(),
                        r.updated.to_string(),
                        r.unchanged.to_string(),
                        r.departed.to_string(),
                        r.rejected.to_string(),
                        r.source,
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "STARTED",
                    "LINES",
                    "CREATED",
                    "UPDATED",
                    "UNCHANGED",
                    "DEPARTED",
                    "REJECTED",
                    "SOURCE",
                ],
                &rows,
            );
        }
    }
    Ok(())
}

/// The report on standard error (skipped lines) and standard output (counts).
pub fn print_report(r: &HrReport) {
    for i in &r.issues {
        eprintln!("line {}: skipped: {}", i.line, i.reason);
    }
    let more = r.run.rejected - r.issues.len() as i64;
    if more > 0 {
        eprintln!("… and {more} more skipped lines");
    }
    for w in &r.warnings {
        eprintln!("line {}: warning: {}", w.line, w.reason);
    }
    println!(
        "HR import {}: {} lines, {} created, {} updated, {} unchanged, {} departed, {} rejected",
        r.run.id,
        r.run.lines,
        r.run.created,
        r.run.updated,
        r.run.unchanged,
        r.run.departed,
        r.run.rejected
    );
}
