//! Scheduled sync jobs run by `serve`: the RPPS extraction (a path or an http(s) URL) and the
//! HR drop folder. With several nodes on one database, a lease row lets one node run each job
//! at a time; [`crate::workers`] runs them on schedule.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use super::hr;
use super::reconcile;
use crate::directory::Repository;
use crate::instruments::{SyncJob, SyncOutcome};
use crate::storage::leases;

pub const RPPS_JOB: &str = "rpps_sync";
pub const HR_JOB: &str = "hr_sync";
pub const HR_DATES_JOB: &str = "hr_dates";

/// What one run of a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Another node holds the lease.
    Busy,
    /// The source has not changed since the last import.
    Unchanged,
    /// Imported; a short summary.
    Done(String),
}

/// The RPPS import entry point the job calls with a local file (the RPPS side's
/// `directory::rpps::import_file`, wrapped to fit).
pub type RppsImporter = Arc<
    dyn for<'a> Fn(
            &'a Repository<'a>,
            &'a Path,
        ) -> Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>>
        + Send
        + Sync,
>;

/// Takes the lease of `job` for this node, or says another node has it.
pub async fn lease(state: &Repository<'_>, job: &str, holder: &str) -> anyhow::Result<bool> {
    let now = state.clock.now();
    Ok(leases::acquire(
        state.db.pool(),
        job,
        holder,
        now,
        state.settings.sync.lease_secs,
    )
    .await?)
}

/// Counts a run of `job` in the metrics (`trousseau_sync_runs_total`).
fn observe(state: &Repository<'_>, job: SyncJob, result: &anyhow::Result<JobOutcome>) {
    let outcome = match result {
        Ok(JobOutcome::Done(_)) => SyncOutcome::Success,
        Ok(JobOutcome::Unchanged) => SyncOutcome::Unchanged,
        Ok(JobOutcome::Busy) => SyncOutcome::Busy,
        Err(_) => SyncOutcome::Failure,
    };
    state.metrics.sync_run(job, outcome, state.clock.now());
}

/// One RPPS sync: fetch the source (download when it is a URL), skip it when its content is
/// unchanged, else import it and reconcile.
pub async fn run_rpps_once(
    state: &Repository<'_>,
    holder: &str,
    importer: &RppsImporter,
) -> anyhow::Result<JobOutcome> {
    let result = rpps_once(state, holder, importer).await;
    observe(state, SyncJob::Rpps, &result);
    result
}

async fn rpps_once(
    state: &Repository<'_>,
    holder: &str,
    importer: &RppsImporter,
) -> anyhow::Result<JobOutcome> {
    let source = state.settings.sync.rpps.source.trim().to_owned();
    if source.is_empty() {
        return Ok(JobOutcome::Unchanged);
    }
    if !lease(state, RPPS_JOB, holder).await? {
        return Ok(JobOutcome::Busy);
    }
    let result = async {
        let (path, temporary) = if source.starts_with("http://") || source.starts_with("https://") {
            (download(&source).await?, true)
        } else {
            (PathBuf::from(&source), false)
        };
        let outcome = async {
            let fingerprint = fingerprint(&path).await?;
            let pool = state.db.pool();
            if leases::fingerprint(pool, RPPS_JOB).await?.as_deref() == Some(fingerprint.as_str()) {
                return Ok(JobOutcome::Unchanged);
            }
            let summary = importer(state, &path).await?;
            let report = reconcile::reconcile(state).await?;
            leases::set_fingerprint(pool, RPPS_JOB, &fingerprint, state.clock.now()).await?;
            Ok::<_, anyhow::Error>(JobOutcome::Done(format!(
                "{summary}; reconciliation: {:?}",
                report.counts
            )))
        }
        .await;
        if temporary {
            let _ = tokio::fs::remove_file(&path).await;
        }
        outcome
    }
    .await;
    leases::release(state.db.pool(), RPPS_JOB, holder).await?;
    result
}

/// Streams a URL to a temporary file; its path.
async fn download(url: &str) -> anyhow::Result<PathBuf> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot fetch {url} (sync.rpps.source)"))?
        .error_for_status()
        .with_context(|| format!("{url} answered with an error (sync.rpps.source)"))?;
    let path =
        std::env::temp_dir().join(format!("trousseau-rpps-{}", uuid::Uuid::new_v4().simple()));
    let mut file = tokio::fs::File::create(&path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    use tokio::io::AsyncWriteExt;
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("the download of {url} broke off"))?
    {
        file.write_all(&chunk)
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.flush().await?;
    Ok(path)
}

/// SHA-256 of a file's content, read off the async threads.
async fn fingerprint(path: &Path) -> anyhow::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use std::io::Read;
        let mut f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(format!("sha256:{}", hex(&h.finalize())))
    })
    .await?
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One HR sync: imports every `*.csv` of the drop folder (oldest name first), moving each to
/// `done/` or `failed/`, then applies the departures that fell due.
pub async fn run_hr_once(state: &Repository<'_>, holder: &str) -> anyhow::Result<JobOutcome> {
    let result = hr_once(state, holder).await;
    observe(state, SyncJob::Hr, &result);
    result
}

async fn hr_once(state: &Repository<'_>, holder: &str) -> anyhow::Result<JobOutcome> {
    let folder = state.settings.sync.hr.folder.trim().to_owned();
    if folder.is_empty() {
        return Ok(JobOutcome::Unchanged);
    }
    if !lease(state, HR_JOB, holder).await? {
        return Ok(JobOutcome::Busy);
    }
    let result = hr_folder(state, Path::new(&folder)).await;
    leases::release(state.db.pool(), HR_JOB, holder).await?;
    result
}

async fn hr_folder(state: &Repository<'_>, folder: &Path) -> anyhow::Result<JobOutcome> {
    // Under the lease, a run still marked running was cut short by a stopped process.
    crate::storage::hr::abandon_running(state.db.pool(), state.clock.now()).await?;
    let mut files = Vec::new();
    let mut dir = tokio::fs::read_dir(folder).await.with_context(|| {
        format!(
            "cannot read the HR drop folder {} (sync.hr.folder)",
            folder.display()
        )
    })?;
    while let Some(entry) = dir.next_entry().await? {
        let path = entry.path();
        if entry.file_type().await?.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            files.push(path);
        }
    }
    files.sort();
    let mut done = Vec::new();
    for path in files {
        let outcome = hr::import_file(state, &path, "sync").await;
        let (sub, note) = match &outcome {
            Ok(r) if r.imported_anything() => ("done", format!("{} lines", r.run.lines)),
            Ok(_) => ("failed", "nothing imported".to_owned()),
            Err(e) => ("failed", e.to_string()),
        };
        if sub == "failed" {
            tracing::warn!(file = %path.display(), reason = %note, "HR file not imported");
        }
        let target = folder.join(sub);
        tokio::fs::create_dir_all(&target).await?;
        if let Some(name) = path.file_name() {
            tokio::fs::rename(&path, target.join(name))
                .await
                .with_context(|| format!("cannot move {} to {sub}/", path.display()))?;
        }
        done.push(format!("{}: {sub} ({note})", path.display()));
    }
    let today = hr::local_today(state);
    let departed = hr::apply_departures(state, &today, "sync").await?;
    if done.is_empty() && departed == 0 {
        return Ok(JobOutcome::Unchanged);
    }
    Ok(JobOutcome::Done(format!(
        "{}; {departed} departures applied",
        done.join(", ")
    )))
}

/// One run of the HR dates job: pending identities whose arrival day came become active,
/// identities whose departure day came are marked left (days in `establishment.time_zone`, at
/// the injected clock's time). It needs no HR file, so arrivals happen on their day even when
/// the drop folder is not watched.
pub async fn run_hr_dates_once(state: &Repository<'_>, holder: &str) -> anyhow::Result<JobOutcome> {
    let result = hr_dates_once(state, holder).await;
    observe(state, SyncJob::HrDates, &result);
    result
}

async fn hr_dates_once(state: &Repository<'_>, holder: &str) -> anyhow::Result<JobOutcome> {
    if !lease(state, HR_DATES_JOB, holder).await? {
        return Ok(JobOutcome::Busy);
    }
    let result = async {
        let today = hr::local_today(state);
        let arrived = hr::apply_arrivals(state, &today, "hr_dates").await?;
        let departed = hr::apply_departures(state, &today, "hr_dates").await?;
        Ok::<_, anyhow::Error>(if arrived + departed == 0 {
            JobOutcome::Unchanged
        } else {
            JobOutcome::Done(format!(
                "{today}: {arrived} arrivals, {departed} departures applied"
            ))
        })
    }
    .await;
    leases::release(state.db.pool(), HR_DATES_JOB, holder).await?;
    result
}

/// One directory sync: incremental, or full when none of the last `full_every` runs was a
/// successful full one.
pub async fn run_ldap_once(state: &Repository<'_>, holder: &str) -> anyhow::Result<JobOutcome> {
    if state.directory.is_none() {
        return Ok(JobOutcome::Unchanged);
    }
    let every = i64::from(state.settings.sync.ldap.full_every);
    let recent = crate::storage::directory::runs(state.db.pool(), every).await;
    let full = match recent {
        Ok(runs) => !runs.iter().any(|r| r.mode == "full" && r.error.is_none()),
        Err(_) => true,
    };
    let r = match super::ldap::sync_as(
        state,
        holder,
        super::ldap::SyncOptions {
            full,
            allow_mass_delete: false,
        },
    )
    .await
    {
        Err(e) if e.downcast_ref::<super::ldap::Busy>().is_some() => return Ok(JobOutcome::Busy),
        other => other?,
    };
    Ok(JobOutcome::Done(format!(
        "directory {} sync: {} read, {} created, {} updated, {} disabled, {} deleted",
        r.mode, r.seen, r.created, r.updated, r.disabled, r.deleted
    )))
}

/// The RPPS side's import, run with the job's options (small batches: logins keep flowing).
pub fn rpps_importer() -> RppsImporter {
    Arc::new(import_for_job)
}

fn import_for_job<'a>(
    state: &'a Repository<'a>,
    path: &'a Path,
) -> Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>> {
    Box::pin(async move {
        let options = super::rpps::ImportOptions {
            actor: "sync".to_owned(),
            batch: 500,
            ..super::rpps::ImportOptions::default()
        };
        let report =
            super::rpps::import_file(state.db, state.audit, state.clock, path, &options, |_| {})
                .await?;
        let c = &report.counts;
        Ok(format!(
            "RPPS run {}: {} lines, {} added, {} changed, {} removed, {} rejected",
            report.run_id, c.lines, c.added, c.changed, c.removed, c.rejected
        ))
    })
}
