//! GET /admin/sync (each synchronisation, its last runs) and POST /admin/sync/{kind}/run.

use std::time::Duration;

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::{RunRow, title};
use crate::admin::console::actions::ConsoleForm;
use crate::admin::console::guard::{AdminSession, Power};
use crate::admin::console::pages::Frame;
use crate::admin::console::texts::ConsoleTexts;
use crate::admin::sync::{self as core, Opened, StartError, SyncKind};
use crate::audit::AuditEvent;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, PageLang};
use crate::ui::page::{Chrome, render_with};

/// Runs listed per synchronisation.
const RUNS: i64 = 10;
/// How long a start waits for its run to be recorded before showing the list instead.
const WAIT: Duration = Duration::from_secs(3);

struct Section {
    kind: &'static str,
    title: &'static str,
    configured: bool,
    directory: bool,
    runs: Vec<RunRow>,
}

#[derive(Template)]
#[template(path = "admin/sync.html")]
struct SyncPage {
    f: Frame,
    chrome: Chrome,
    csrf: String,
    may_run: bool,
    sections: Vec<Section>,
    notice: Option<&'static str>,
    error: Option<&'static str>,
}

#[derive(serde::Deserialize)]
pub struct SyncQuery {
    #[serde(default)]
    notice: String,
}

/// What a `?notice=` says: (a message, whether it is a refusal).
fn notice(c: &ConsoleTexts, code: &str) -> Option<(&'static str, bool)> {
    Some(match code {
        "busy" => (c.sync_busy, true),
        "not_configured" => (c.sync_not_configured, true),
        "unexpected" => (c.sync_cannot_run, true),
        "nothing" => (c.sync_nothing, false),
        "started" => (c.sync_started, false),
        _ => return None,
    })
}

/// GET /admin/sync
pub async fn sync(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<SyncQuery>,
) -> Result<HttpResponse, PageError> {
    let f = Frame::new(&req, lang, &admin);
    let now = state.clock.now();
    let mut sections = Vec::new();
    for kind in SyncKind::ALL {
        let runs = core::recent(&state, kind, RUNS).await?;
        sections.push(Section {
            kind: kind.as_str(),
            title: title(f.c, kind),
            configured: kind.configured(&state),
            directory: kind == SyncKind::Directory,
            runs: runs.iter().map(|r| RunRow::new(f.c, r, now)).collect(),
        });
    }
    let said = notice(f.c, &query.notice);
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let page = SyncPage {
        chrome: f.chrome.clone(),
        may_run: admin.may(Power::Sync),
        csrf,
        sections,
        notice: said.filter(|n| !n.1).map(|n| n.0),
        error: said.filter(|n| n.1).map(|n| n.0),
        f,
    };
    Ok(render_with(b, &page))
}

/// POST /admin/sync/{kind}/run: starts a run in the background under the job's lease, then
/// shows it (or says why not).
pub async fn run_now(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let kind = SyncKind::parse(&path).ok_or(PageError::NotFound)?;
    let subject = format!("sync:{}", kind.as_str());
    admin
        .allow(
            &state,
            &req,
            Power::Sync,
            "sync_run",
            &subject,
            "/admin/sync",
        )
        .await?;
    let full = kind == SyncKind::Directory && form.get("mode") == Some("full");
    let before = core::recent(&state, kind, 1).await?.pop();
    let before = json!({ "last_run": before.map(|r| json!({ "id": r.id, "status": r.status })) });
    let outcome = match core::start(state.clone().into_inner(), kind, full).await {
        Ok(started) => started
            .opened_run(&state, WAIT)
            .await
            .map_err(StartError::from),
        Err(e) => Err(e),
    };
    let (ev, target) = outcome_of(kind, full, before, &outcome);
    let ctx = context_of(&req);
    state
        .audit
        .record(ev.actor(admin.actor()).subject(&subject).context(&ctx))
        .await;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, target))
        .finish())
}

/// The audit event of a start, and where the browser goes next: the run's page, or the list
/// with a notice.
fn outcome_of(
    kind: SyncKind,
    full: bool,
    before: serde_json::Value,
    outcome: &Result<Opened, StartError>,
) -> (AuditEvent, String) {
    let mode = full.then_some("full");
    match outcome {
        Ok(opened) => {
            let (run, target) = match opened {
                Opened::Run(id) => (Some(id), format!("/admin/sync/runs/{}/{id}", kind.as_str())),
                Opened::Nothing => (None, "/admin/sync?notice=nothing".to_owned()),
                Opened::NotYet => (None, "/admin/sync?notice=started".to_owned()),
            };
            let after = json!({ "started": true, "run": run, "mode": mode });
            let details =
                json!({ "action": "sync_run", "kind": kind, "before": before, "after": after });
            let ev = AuditEvent::success("admin_console_action").details(details);
            (ev, target)
        }
        Err(e) => {
            if let StartError::Other(e) = e {
                tracing::warn!(error = %format!("{e:#}"), "cannot start a sync run");
            }
            let details = json!({ "action": "sync_run", "kind": kind, "mode": mode });
            let ev = AuditEvent::failure("admin_console_action", e.code()).details(details);
            (ev, format!("/admin/sync?notice={}", e.code()))
        }
    }
}

/// The dashboard's view of the synchronisations: the last run of each, the findings left.
pub struct DashboardSync {
    /// (synchronisation, its last run if any).
    pub last: Vec<(&'static str, Option<RunRow>)>,
    /// (category label, count).
    pub findings: Vec<(String, i64)>,
}

/// Gathers [`DashboardSync`].
pub async fn dashboard_sync(
    state: &AppState,
    c: &ConsoleTexts,
) -> Result<DashboardSync, PageError> {
    let now = state.clock.now();
    let runs = SyncKind::ALL.map(|kind| core::recent(state, kind, 1));
    let (runs, findings) = tokio::join!(
        futures_util::future::try_join_all(runs),
        crate::storage::findings::to_handle(state.db.pool())
    );
    let last = SyncKind::ALL
        .into_iter()
        .zip(runs?)
        .map(|(kind, mut run)| (title(c, kind), run.pop().map(|r| RunRow::new(c, &r, now))))
        .collect();
    let findings = findings
        .map_err(anyhow::Error::from)?
        .into_iter()
        .map(|(cat, n)| (super::findings::category_label(c, &cat).to_owned(), n))
        .collect();
    Ok(DashboardSync { last, findings })
}
