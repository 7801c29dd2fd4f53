//! GET /admin/sync/runs/{kind}/{id}: one run, followed while it goes on (the page reloads
//! itself every 2 seconds with a `<meta http-equiv="refresh">`: no script needed).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{RunRow, title};
use crate::admin::console::guard::AdminSession;
use crate::admin::console::pages::Frame;
use crate::admin::sync::{self as core, SyncKind};
use crate::state::AppState;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "admin/sync_run.html")]
struct RunPage {
    f: Frame,
    chrome: Chrome,
    title: &'static str,
    id: String,
    run: RunRow,
    /// (counter label, value).
    counts: Vec<(String, i64)>,
}

/// GET /admin/sync/runs/{kind}/{id}
pub async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (kind, id) = path.into_inner();
    let kind = SyncKind::parse(&kind).ok_or(PageError::NotFound)?;
    let id: String = id.chars().take(64).collect();
    let view = core::run(&state, kind, &id)
        .await?
        .ok_or(PageError::NotFound)?;
    let f = Frame::new(&req, lang, &admin);
    let counts = view
        .counts
        .iter()
        .map(|(k, n)| (f.c.label(k).to_owned(), *n))
        .collect();
    let page = RunPage {
        chrome: f.chrome.clone(),
        title: title(f.c, kind),
        run: RunRow::new(f.c, &view, state.clock.now()),
        counts,
        id: view.id,
        f,
    };
    Ok(render_with(HttpResponse::Ok(), &page))
}
