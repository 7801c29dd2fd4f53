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
    /// Days before the person's pairing expires, within `psc.pairing.warn_days`.
    pairing_warn: Option<i64>,
    pairing_text: &'static super::pairing_texts::PairingTexts,
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    current: CurrentSession,
) -> HttpResponse {
    let (mut who, mut acr, mut amr, mut until) =
        (None, String::new(), String::new(), String::new());
    let mut pairing_warn = None;
    if let Some(s) = &current.0 {
        pairing_warn = crate::psc::pairing::view(&state.ecps(), &s.identity_id)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.warn_days_left);
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
        pairing_warn,
        pairing_text: lang.pairing(),
    };
    render_with(b, &page)
}
