//! The list of registered clients, 50 a page by cursor.

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;

use super::super::date;
use super::super::guard::{AdminSession, Power};
use super::super::pages::{Frame, PAGE_SIZE};
use super::super::texts::{ClientsTexts, clients_texts};
use super::may_see;
use crate::state::AppState;
use crate::storage::clients::{self, ClientRecord};
use crate::storage::from_json_list;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// One line of the list.
struct Row {
    id: String,
    name: String,
    public: bool,
    grants: String,
    level: String,
    psc_broker: bool,
    disabled: bool,
    rotated: Option<String>,
}

impl Row {
    fn of(r: ClientRecord) -> Row {
        Row {
            name: r.name,
            public: r.public != 0,
            grants: from_json_list(&r.grants).join(", "),
            level: r.min_acr.unwrap_or_default(),
            psc_broker: r.psc_broker != 0,
            disabled: r.disabled_at.is_some(),
            rotated: r.secret_rotated_at.map(date),
            id: r.id.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage {
    f: Frame,
    chrome: Chrome,
    t: &'static ClientsTexts,
    may_change: bool,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    after: String,
}

/// GET /admin/clients?after=
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    may_see(&state, &req, &admin).await?;
    let after: String = query.after.chars().take(128).collect();
    let mut found = clients::page(state.db.pool(), &after, PAGE_SIZE + 1)
        .await
        .context("cannot list the clients")?;
    let more = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    let next = match (more, found.last()) {
        (true, Some(last)) => Some(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("after", last.id.as_str())
                .finish(),
        ),
        _ => None,
    };
    let f = Frame::new(&req, lang, &admin);
    let page = ClientsPage {
        chrome: f.chrome.clone(),
        f,
        t: clients_texts(lang),
        may_change: admin.may(Power::Clients),
        rows: found.into_iter().map(Row::of).collect(),
        next,
    };
    Ok(render_with(HttpResponse::Ok(), &page))
}
