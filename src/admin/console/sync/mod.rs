//! The synchronisation page: each synchronisation's last runs and a button to start one now,
//! a run's progress, and the reconciliation report with its CSV export.

mod findings;
mod page;
mod progress;

use actix_web::web;

pub use page::{DashboardSync, dashboard_sync};

use super::date;
use super::texts::ConsoleTexts;
use crate::admin::sync::{RunView, SyncKind};

/// Registers the page's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sync", web::get().to(page::sync))
        .route("/admin/sync/findings", web::get().to(findings::findings))
        .route(
            "/admin/sync/findings.csv",
            web::get().to(findings::findings_csv),
        )
        .route("/admin/sync/{kind}/run", web::post().to(page::run_now))
        .route("/admin/sync/runs/{kind}/{id}", web::get().to(progress::run));
}

/// A synchronisation's name on the page.
fn title(c: &ConsoleTexts, kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Rpps => c.sync_rpps,
        SyncKind::Hr => c.sync_hr,
        SyncKind::Directory => c.sync_directory,
    }
}

/// A run as a line of a table (or the figures of a run's page).
pub struct RunRow {
    pub href: String,
    pub source: String,
    pub started: String,
    pub finished: String,
    pub duration: String,
    pub status: String,
    pub running: bool,
    pub counts: String,
    pub error: String,
}

impl RunRow {
    fn new(c: &ConsoleTexts, r: &RunView, now: i64) -> RunRow {
        let source = match r.kind {
            SyncKind::Directory => c.label(&r.source).to_owned(),
            _ => r.source.clone(),
        };
        RunRow {
            href: format!("/admin/sync/runs/{}/{}", r.kind.as_str(), r.id),
            source,
            started: date(r.started_at),
            finished: r.finished_at.map(date).unwrap_or_default(),
            duration: duration(r.duration(now)),
            status: c.label(&r.status).to_owned(),
            running: r.running(),
            counts: r
                .counts
                .iter()
                .map(|(k, n)| format!("{n} {}", c.label(k)))
                .collect::<Vec<_>>()
                .join(", "),
            error: r.error.clone().unwrap_or_default(),
        }
    }
}

/// `75` → `1 min 15 s`.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_well() {
        assert_eq!(super::duration(0), "0 s");
        assert_eq!(super::duration(75), "1 min 15 s");
        assert_eq!(super::duration(3_720), "1 h 02 min");
    }
}
