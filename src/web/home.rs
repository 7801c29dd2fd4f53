//! The home page: who is signed in on this browser, at which level, until when.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::state::AppState;
use crate::ui::cookies;
use crate::ui::extract::{CurrentSession, PageLang};
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    who: Option<String>,
    acr: String,
    amr: String,
    until: String,
    csrf: String,
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    current: CurrentSession,
) -> HttpResponse {
    let (mut who, mut acr, mut amr, mut until) =
        (None, String::new(), String::new(), String::new());
    if let Some(s) = &current.0 {
        who = super::login::who(&state, Some(s)).await;
        let claims = s.claims(&state.settings.session.levels);
        acr = claims.acr;
        amr = claims
            .amr
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        until = time::OffsetDateTime::from_unix_timestamp(s.expires_at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc2822)
                    .ok()
            })
            .unwrap_or_default();
    }
    let (csrf, cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = cookie {
        b.cookie(c);
    }
    let page = Home {
        chrome: Chrome::new(&req, lang),
        who,
        acr,
        amr,
        until,
        csrf,
    };
    render_with(b, &page)
}
