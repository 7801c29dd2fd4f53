//! The synchronisations on demand, for the console and the admin API: their runs (RPPS, HR,
//! directory) in one shape, and a run started now through the scheduled job's own code, under
//! the job's lease (rpps.md, ldap.md, docs/admin.md "Synchronisation").

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::directory::ldap::{self, SyncOptions};
use crate::directory::sync::{self as jobs, HR_JOB, RPPS_JOB};
use crate::state::AppState;
use crate::storage::{directory, hr, leases, rpps};

/// The three synchronisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Rpps,
    Hr,
    Directory,
}

impl SyncKind {
    pub const ALL: [SyncKind; 3] = [SyncKind::Rpps, SyncKind::Hr, SyncKind::Directory];

    pub fn parse(s: &str) -> Option<SyncKind> {
        SyncKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Rpps => "rpps",
            SyncKind::Hr => "hr",
            SyncKind::Directory => "directory",
        }
    }

    /// The lease its runs hold.
    pub fn job(self) -> &'static str {
        match self {
            SyncKind::Rpps => RPPS_JOB,
            SyncKind::Hr => HR_JOB,
            SyncKind::Directory => ldap::JOB,
        }
    }

    /// Whether it can run here without a file upload: an RPPS source, an HR drop folder, a
    /// directory.
    pub fn configured(self, state: &AppState) -> bool {
        let sync = &state.settings.sync;
        match self {
            SyncKind::Rpps => !sync.rpps.source.trim().is_empty(),
            SyncKind::Hr => !sync.hr.folder.trim().is_empty(),
            SyncKind::Directory => state.directory.is_some(),
        }
    }
}

/// One run of any synchronisation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunView {
    pub kind: SyncKind,
    pub id: String,
    /// The file or folder read (RPPS, HR), or the mode (`full`, `incremental`) of a directory
    /// sync.
    pub source: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `running`, `succeeded`, `failed` or `abandoned`.
    pub status: String,
    /// Counters by name (`lines`, `added`, `created`, `seen`…), in the order shown.
    pub counts: Vec<(&'static str, i64)>,
    pub error: Option<String>,
}

impl RunView {
    pub fn running(&self) -> bool {
        self.status == "running"
    }

    /// Seconds from start to end, or to `now` while running.
    pub fn duration(&self, now: i64) -> i64 {
        (self.finished_at.unwrap_or(now) - self.started_at).max(0)
    }
}

fn of_rpps(r: rpps::RunRecord) -> RunView {
    RunView {
        kind: SyncKind::Rpps,
        counts: vec![
            ("lines", r.lines),
            ("professionals", r.professionals),
            ("activities", r.activities),
            ("added", r.added),
            ("changed", r.changed),
            ("removed", r.removed),
            ("rejected", r.rejected),
        ],
        id: r.id,
        source: r.file,
        started_at: r.started_at,
        finished_at: r.finished_at,
        status: r.status,
        error: r.error,
    }
}

fn of_hr(r: hr::HrRunRecord) -> RunView {
    RunView {
        kind: SyncKind::Hr,
        counts: vec![
            ("lines", r.lines),
            ("created", r.created),
            ("updated", r.updated),
            ("unchanged", r.unchanged),
            ("departed", r.departed),
            ("rejected", r.rejected),
        ],
        finished_at: (r.status != "running").then_some(r.finished_at),
        id: r.id,
        source: r.source,
        started_at: r.started_at,
        status: r.status,
        error: r.error,
    }
}

fn of_directory(r: directory::SyncRun) -> RunView {
    let status = match (r.finished_at, &r.error) {
        (None, _) => "running",
        (Some(_), Some(e)) if e.starts_with("abandoned") => "abandoned",
        (Some(_), Some(_)) => "failed",
        (Some(_), None) => "succeeded",
    };
    RunView {
        kind: SyncKind::Directory,
        counts: vec![
            ("seen", r.seen),
            ("created", r.created),
            ("linked", r.linked),
            ("updated", r.updated),
            ("unchanged", r.unchanged),
            ("disabled", r.disabled),
            ("enabled", r.enabled),
            ("deleted", r.deleted),
            ("conflicts", r.conflicts),
        ],
        status: status.to_owned(),
        id: r.id,
        source: r.mode,
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error,
    }
}

/// The latest `limit` runs of `kind`, newest first.
pub async fn recent(state: &AppState, kind: SyncKind, limit: i64) -> anyhow::Result<Vec<RunView>> {
    let pool = state.db.pool();
    Ok(match kind {
        SyncKind::Rpps => rpps::runs(pool, limit)
            .await?
            .into_iter()
            .map(of_rpps)
            .collect(),
        SyncKind::Hr => hr::runs(pool, limit)
            .await?
            .into_iter()
            .map(of_hr)
            .collect(),
        SyncKind::Directory => directory::runs(pool, limit)
            .await?
            .into_iter()
            .map(of_directory)
            .collect(),
    })
}

/// One run of `kind`.
pub async fn run(state: &AppState, kind: SyncKind, id: &str) -> anyhow::Result<Option<RunView>> {
    let pool = state.db.pool();
    Ok(match kind {
        SyncKind::Rpps => rpps::run(pool, id).await?.map(of_rpps),
        SyncKind::Hr => hr::run(pool, id).await?.map(of_hr),
        SyncKind::Directory => directory::run(pool, id).await?.map(of_directory),
    })
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("this synchronisation is not configured")]
    NotConfigured,
    /// A run (scheduled, from the command line or started by someone else) holds the lease.
    #[error("a run already holds the lease `{0}`; try again when it has finished")]
    Busy(&'static str),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StartError {
    /// A stable code, shared with the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::NotConfigured => "not_configured",
            StartError::Busy(_) => "busy",
            StartError::Other(_) => "unexpected",
        }
    }
}

/// A run started in the background; [`Started::opened_run`] says which run it recorded.
#[derive(Debug, Clone)]
pub struct Started {
    pub kind: SyncKind,
    holder: String,
    /// The newest run before this one.
    before: Option<String>,
}

/// Starts `kind` now in the background, with the code of the scheduled job (the directory:
/// `full` or incremental, as `trousseau ldap sync [--full]`). The job's lease is taken here
/// first, so that a run already going on is reported at once instead of skipped silently.
pub async fn start(
    state: Arc<AppState>,
    kind: SyncKind,
    full: bool,
) -> Result<Started, StartError> {
    if !kind.configured(&state) {
        return Err(StartError::NotConfigured);
    }
    let before = recent(&state, kind, 1).await?.pop().map(|r| r.id);
    let holder = format!("console-{}", uuid::Uuid::new_v4().simple());
    if !jobs::lease(&state.repository(), kind.job(), &holder).await? {
        return Err(StartError::Busy(kind.job()));
    }
    let job_holder = holder.clone();
    tokio::spawn(async move {
        let repo = state.repository();
        // Each job renews the lease this holder took, and gives it back when done.
        let outcome = match kind {
            SyncKind::Rpps => jobs::run_rpps_once(&repo, &job_holder, &jobs::rpps_importer())
                .await
                .map(|o| format!("{o:?}")),
            SyncKind::Hr => jobs::run_hr_once(&repo, &job_holder)
                .await
                .map(|o| format!("{o:?}")),
            SyncKind::Directory => {
                let opts = SyncOptions {
                    full,
                    allow_mass_delete: false,
                };
                ldap::sync_as(&repo, &job_holder, opts)
                    .await
                    .map(|r| format!("directory {} sync {}", r.mode, r.id))
            }
        };
        match outcome {
            Ok(o) => {
                tracing::info!(job = kind.job(), outcome = %o, "sync run started on demand ended")
            }
            Err(e) => {
                tracing::warn!(job = kind.job(), error = %format!("{e:#}"), "sync run started on demand failed")
            }
        }
    });
    Ok(Started {
        kind,
        holder,
        before,
    })
}

/// What became of a run started on demand, a moment after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// It recorded this run (going on, or already over).
    Run(String),
    /// The job ended without recording a run: an unchanged RPPS source, an empty drop folder.
    Nothing,
    /// Still preparing (a download, a large folder): its run will appear in the list.
    NotYet,
}

impl Started {
    /// The run this start recorded, waiting at most `wait` for it.
    pub async fn opened_run(&self, state: &AppState, wait: Duration) -> anyhow::Result<Opened> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // The lease first: once the job gave it back, the run it recorded is visible.
            let holder = leases::holder(state.db.pool(), self.kind.job(), state.clock.now())
                .await
                .context("cannot read the job's lease")?;
            let latest = recent(state, self.kind, 1).await?.pop().map(|r| r.id);
            if let Some(id) = latest.filter(|id| Some(id) != self.before.as_ref()) {
                return Ok(Opened::Run(id));
            }
            if holder.as_deref() != Some(self.holder.as_str()) {
                return Ok(Opened::Nothing);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Opened::NotYet);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
