//! GET /admin/sync/findings (the reconciliation report: by category, by person, 50 a page by
//! cursor) and GET /admin/sync/findings.csv (the same filter, streamed a page at a time, in
//! the columns of `trousseau rpps report --format csv`).

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::stream;
use serde_json::json;

use crate::admin::console::guard::AdminSession;
use crate::admin::console::pages::Frame;
use crate::admin::console::texts::ConsoleTexts;
use crate::audit::AuditEvent;
use crate::directory::reconcile::Category;
use crate::directory::report;
use crate::state::AppState;
use crate::storage::findings::{self as store, FindingFilter, PAIRING_MISMATCH};
use crate::ui::context::context_of;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// Findings per page.
const PAGE: i64 = 50;
/// Findings per chunk of the CSV export.
const CHUNK: i64 = 500;

/// A category's label (`changed` names a counter too: its category label has its own key).
pub fn category_label<'a>(c: &ConsoleTexts, category: &'a str) -> &'a str {
    match category {
        "changed" => c.label("changed_rpps"),
        other => c.label(other),
    }
}

#[derive(serde::Deserialize)]
pub struct FindingsQuery {
    #[serde(default)]
    category: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    after: String,
}

impl FindingsQuery {
    /// The filter, bounded: a known category or none, a short search, a cursor
    /// `category:id`.
    fn filter(&self, limit: i64) -> FindingFilter {
        let category = categories()
            .into_iter()
            .find(|c| *c == self.category)
            .unwrap_or_default();
        let after = self
            .after
            .split_once(':')
            .map(|(c, i)| (c.chars().take(64).collect(), i.chars().take(64).collect()));
        FindingFilter {
            category: category.to_owned(),
            person: self.person.trim().chars().take(100).collect(),
            after,
            limit,
        }
    }
}

fn categories() -> Vec<&'static str> {
    let mut all: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    all.push(PAIRING_MISMATCH);
    all
}

struct FindingLine {
    category: String,
    user: String,
    idnat: String,
    first_seen: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/sync_findings.html")]
struct FindingsPage {
    f: Frame,
    chrome: Chrome,
    /// (code, label, selected).
    categories: Vec<(&'static str, String, bool)>,
    person: String,
    rows: Vec<FindingLine>,
    next: Option<String>,
    csv: String,
}

/// GET /admin/sync/findings
pub async fn findings(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<FindingsQuery>,
) -> Result<HttpResponse, PageError> {
    let filter = query.filter(PAGE + 1);
    let mut found = store::page(state.db.pool(), &filter)
        .await
        .map_err(anyhow::Error::from)?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let query_of = |after: Option<String>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("category", &filter.category);
        q.append_pair("person", &filter.person);
        if let Some(a) = after {
            q.append_pair("after", &a);
        }
        q.finish()
    };
    let next = match (more, found.last()) {
        (true, Some(l)) => Some(query_of(Some(format!("{}:{}", l.category, l.id)))),
        _ => None,
    };
    let f = Frame::new(&req, lang, &admin);
    let rows = found
        .into_iter()
        .map(|r| {
            let (r, user) = r.split();
            FindingLine {
                category: category_label(f.c, &r.category).to_owned(),
                user,
                idnat: r.idnat.unwrap_or_default(),
                first_seen: crate::admin::console::date(r.first_seen),
                detail: r.detail,
            }
        })
        .collect();
    let page = FindingsPage {
        chrome: f.chrome.clone(),
        categories: categories()
            .into_iter()
            .map(|c| (c, category_label(f.c, c).to_owned(), c == filter.category))
            .collect(),
        person: filter.person.clone(),
        rows,
        next,
        csv: query_of(None),
        f,
    };
    Ok(render_with(HttpResponse::Ok(), &page))
}

/// GET /admin/sync/findings.csv: streamed a chunk at a time; audited.
pub async fn findings_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminSession,
    query: web::Query<FindingsQuery>,
) -> Result<HttpResponse, PageError> {
    let filter = query.filter(CHUNK);
    let details = json!({ "action": "findings_export", "before": null,
        "after": { "category": filter.category, "person": filter.person } });
    let ev = AuditEvent::success("admin_console_action")
        .actor(admin.actor())
        .subject("sync:findings")
        .context(&context_of(&req))
        .details(details);
    state.audit.record(ev).await;
    // (filter with its cursor, header still to write, finished).
    let start = (state.into_inner(), filter, true, false);
    let body = stream::unfold(start, |(state, mut filter, header, done)| async move {
        if done {
            return None;
        }
        let chunk = async {
            let rows = store::page(state.db.pool(), &filter).await?;
            let full = rows.len() as i64 == filter.limit;
            filter.after = rows.last().map(|r| (r.category.clone(), r.id.clone()));
            let rows: Vec<_> = rows.into_iter().map(|r| r.split()).collect();
            Ok::<_, anyhow::Error>((report::csv(&rows, header)?, full))
        }
        .await;
        match chunk {
            Ok((bytes, full)) => Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(bytes)),
                (state, filter, false, !full),
            )),
            Err(e) => {
                // Headers are gone already: the export stops short, and says so in the log.
                tracing::error!(error = %format!("{e:#}"), "the findings export stopped");
                None
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"reconciliation.csv\"",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
