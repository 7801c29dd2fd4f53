//! The audit page: the trail filtered by person, client, kind, outcome and period, 50 events
//! per page by cursor, and its streamed CSV export (`admin` and `auditor`).

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::json;

use super::guard::{AdminSession, Power};
use super::pages::{Frame, PAGE_SIZE};
use super::texts::ConsoleTexts;
use crate::admin::api::csv_response;
use crate::admin::audit::{
    AuditCriteria, CriteriaText, FilterError, Requester, cursor_of, export_csv, parse_cursor,
    refuse_export,
};
use crate::audit::AuditEvent;
use crate::state::AppState;
use crate::storage::audit::{self as store, AuditRecord};
use crate::ui::context::context_of;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// Registers the page's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/audit", web::get().to(audit_page))
        .route("/admin/audit.csv", web::get().to(audit_csv));
}

/// Characters of the details shown in the table before the full text.
const SHORT_DETAILS: usize = 80;

/// The query of the page: the filters and the cursor of the page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    #[serde(flatten)]
    filters: CriteriaText,
    #[serde(default)]
    before: String,
}

/// One event of the table.
struct Row {
    at: String,
    at_iso: String,
    kind: String,
    success: bool,
    reason: String,
    actor: String,
    subject: String,
    /// The username when the subject is an identity (its page is linked).
    subject_name: Option<String>,
    client: String,
    source: String,
    details_short: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    f: Frame,
    chrome: Chrome,
    q: CriteriaText,
    kinds: Vec<String>,
    rows: Vec<Row>,
    error: Option<&'static str>,
    next: Option<String>,
    export: Option<String>,
}

/// GET /admin/audit: every role may read the trail.
pub async fn audit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let AuditQuery { filters, before } = query.into_inner();
    let f = Frame::new(&req, lang, &admin);
    let kinds = store::kinds(state.db.pool(), 200)
        .await
        .context("cannot read the kinds of event")?;
    let checked = filters.parse().and_then(|c| Ok((c, cursor(&before)?)));
    let (criteria, before) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            let ev = AuditEvent::failure("admin_console_action", e.code())
                .details(json!({ "action": "audit_search", "error": e.to_string() }));
            let ctx = context_of(&req);
            state
                .audit
                .record(ev.actor(admin.actor()).context(&ctx))
                .await;
            let page = page_of(f, filters, kinds, Vec::new(), Some(&e), None, false);
            return Ok(render_with(HttpResponse::BadRequest(), &page));
        }
    };
    let query = criteria
        .resolve(&state, before, PAGE_SIZE + 1)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the person filtered: {e}"))?;
    let mut events = store::page(state.db.pool(), &query)
        .await
        .context("cannot read the audit trail")?;
    let more = events.len() as i64 > PAGE_SIZE;
    events.truncate(PAGE_SIZE as usize);
    let next = match (more, events.last()) {
        (true, Some(last)) => Some(cursor_of(last.at, &last.id)),
        _ => None,
    };
    let rows = rows_of(&state, events).await?;
    let may_export = admin.may(Power::AuditExport);
    let page = page_of(f, filters, kinds, rows, None, next, may_export);
    Ok(render_with(HttpResponse::Ok(), &page))
}

/// GET /admin/audit.csv: the same filters, the whole result streamed as CSV.
pub async fn audit_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let AuditQuery { filters, .. } = query.into_inner();
    let back = format!("/admin/audit?{}", link(&filters, ""));
    admin
        .allow(&state, &req, Power::AuditExport, "audit_export", "", &back)
        .await?;
    let requester = Requester {
        actor: admin.actor(),
        ctx: context_of(&req),
    };
    let criteria: AuditCriteria = match filters.parse() {
        Ok(c) => c,
        Err(e) => {
            refuse_export(&state, &requester, &e).await;
            let f = Frame::new(&req, lang, &admin);
            let page = page_of(f, filters, Vec::new(), Vec::new(), Some(&e), None, true);
            return Ok(render_with(HttpResponse::BadRequest(), &page));
        }
    };
    let csv = export_csv(&state, &criteria, requester)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the export: {e}"))?;
    Ok(csv_response(state.clock.now(), csv))
}

fn cursor(before: &str) -> Result<Option<(i64, String)>, FilterError> {
    match before.trim() {
        "" => Ok(None),
        c => parse_cursor(c).map(Some).ok_or(FilterError::Cursor),
    }
}

/// The query string of these filters (and of a page's cursor).
fn link(q: &CriteriaText, before: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("person", &q.person),
        ("client_id", &q.client_id),
        ("kind", &q.kind),
        ("outcome", &q.outcome),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if !v.trim().is_empty() {
            s.append_pair(k, v.trim());
        }
    }
    if !before.is_empty() {
        s.append_pair("before", before);
    }
    s.finish()
}

fn message(c: &'static ConsoleTexts, e: &FilterError) -> &'static str {
    match e {
        FilterError::Date(_) => c.err_filter_date,
        FilterError::Outcome => c.err_filter_outcome,
        FilterError::Range => c.err_filter_range,
        FilterError::TooLong(_) => c.err_filter_long,
        FilterError::Cursor => c.err_filter_cursor,
    }
}

fn page_of(
    f: Frame,
    q: CriteriaText,
    kinds: Vec<String>,
    rows: Vec<Row>,
    error: Option<&FilterError>,
    next: Option<String>,
    may_export: bool,
) -> AuditPage {
    AuditPage {
        chrome: f.chrome.clone(),
        error: error.map(|e| message(f.c, e)),
        next: next.map(|n| link(&q, &n)),
        export: may_export.then(|| link(&q, "")),
        f,
        q,
        kinds,
        rows,
    }
}

async fn rows_of(state: &AppState, events: Vec<AuditRecord>) -> Result<Vec<Row>, PageError> {
    let mut subjects: Vec<String> = events.iter().filter_map(|e| e.subject.clone()).collect();
    subjects.sort();
    subjects.dedup();
    let names: std::collections::HashMap<String, String> =
        store::identities_among(state.db.pool(), &subjects)
            .await
            .context("cannot read the identities of the page")?
            .into_iter()
            .collect();
    Ok(events.into_iter().map(|e| row(e, &names)).collect())
}

fn row(e: AuditRecord, names: &std::collections::HashMap<String, String>) -> Row {
    let details = e.details.unwrap_or_default();
    let details_short = if details.chars().count() > SHORT_DETAILS {
        let cut: String = details.chars().take(SHORT_DETAILS).collect();
        format!("{cut}…")
    } else {
        details.clone()
    };
    let subject = e.subject.unwrap_or_default();
    Row {
        at: time(e.at, "%Y-%m-%d %H:%M:%S"),
        at_iso: time(e.at, "%Y-%m-%dT%H:%M:%SZ"),
        kind: e.kind,
        success: e.outcome == "success",
        reason: e.reason.unwrap_or_default(),
        actor: e.actor.unwrap_or_default(),
        subject_name: names.get(&subject).cloned(),
        subject,
        client: e.client_id.unwrap_or_default(),
        source: e.source_ip.unwrap_or_default(),
        details_short,
        details,
    }
}

fn time(at: i64, format: &str) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| t.strftime(format).to_string())
        .unwrap_or_default()
}
