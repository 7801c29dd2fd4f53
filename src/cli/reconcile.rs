//! `trousseau rpps report`: the reconciliation findings of the last run.

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::output::{table, time};
use crate::directory::reconcile;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Reconcile now instead of showing the findings of the last run.
    #[arg(long)]
    refresh: bool,
}

pub async fn report(state: &AppState, args: ReportArgs) -> anyhow::Result<()> {
    if args.refresh {
        reconcile::reconcile(&state.repository()).await?;
    }
    let findings = reconcile::last_findings(&state.repository()).await?;
    let usernames: std::collections::HashMap<String, String> =
        crate::storage::identities::list(state.db.pool())
            .await?
            .into_iter()
            .map(|i| (i.id, i.username))
            .collect();
    let user = |id: &Option<String>| {
        id.as_ref()
            .map(|i| usernames.get(i).cloned().unwrap_or_else(|| i.clone()))
            .unwrap_or_default()
    };
    match args.format {
        ReportFormat::Json => {
            let list: Vec<Value> = findings
                .iter()
                .map(|f| {
                    json!({
                        "category": f.category, "user": user(&f.identity_id),
                        "identity_id": f.identity_id, "idnat": f.idnat,
                        "detail": serde_json::from_str::<Value>(&f.detail).unwrap_or(Value::Null),
                        "first_seen": f.first_seen, "seen_at": f.seen_at,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        ReportFormat::Csv => {
            let rows: Vec<_> = findings
                .iter()
                .map(|f| (f.clone(), user(&f.identity_id)))
                .collect();
            use std::io::Write;
            std::io::stdout().write_all(&crate::directory::report::csv(&rows, true)?)?;
        }
        ReportFormat::Table => {
            let rows: Vec<Vec<String>> = findings
                .iter()
                .map(|f| {
                    vec![
                        f.category.clone(),
                        user(&f.identity_id),
                        f.idnat.clone().unwrap_or_default(),
                        time(f.first_seen),
                        summary(&f.category, &f.detail),
                    ]
                })
                .collect();
            table(
                &["CATEGORY", "USER", "IDNAT", "FIRST SEEN", "DETAIL"],
                &rows,
            );
        }
    }
    Ok(())
}

/// A one-line reading of a finding's detail.
fn summary(category: &str, detail: &str) -> String {
    let d: Value = serde_json::from_str(detail).unwrap_or(Value::Null);
    let name = |v: &Value| {
        format!(
            "{} {}",
            v["first_name"].as_str().unwrap_or(""),
            v["last_name"].as_str().unwrap_or("")
        )
    };
    match category {
        "unlinked_regulated" => d["suggestions"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|s| {
                        format!(
                            "{} {} (score {})",
                            s["idnat"].as_str().unwrap_or(""),
                            name(s),
                            s["score"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
        "changed" => format!("was {}, now {}", d["before"], d["rpps"]),
        _ => name(&d["rpps"]).trim().to_owned(),
    }
}
