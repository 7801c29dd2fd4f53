//! The home page: who is signed in on this browser, at which level, until when.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::session;
use crate::state::AppState;
use crate::storage::identities;
use crate::ui::cookies;
use crate::ui::error::req_lang;
use crate::ui::i18n::Lang;
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

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = Lang::negotiate(&req, None, req_lang(&req).as_deref());
    let current = session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    let (mut who, mut acr, mut amr, mut until) =
        (None, String::new(), String::new(), String::new());
    if let Some(s) = &current {
        if let Ok(Some(i)) = identities::by_id(state.db.pool(), &s.identity_id).await {
            who = Some(format!(
                "{} {} ({})",
                i.given_name, i.family_name, i.username
            ));
        }
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
    render_with(
        b,
        &Home {
            chrome: Chrome::new(&req, lang),
            who,
            acr,
            amr,
            until,
            csrf,
        },
    )
}
