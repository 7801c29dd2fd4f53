//! The HTML error page, with the request id to give the helpdesk.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::context::context_of;
use super::i18n::{Lang, Texts};
use super::page::{Chrome, render};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    message: String,
    request_id: Option<String>,
}

/// An error page whose message is chosen from the page's language.
pub fn page(
    req: &HttpRequest,
    status: StatusCode,
    message: fn(&Texts) -> &'static str,
) -> HttpResponse {
    let lang = Lang::negotiate(req, None, req_lang(req).as_deref());
    let chrome = Chrome::new(req, lang);
    let message = message(chrome.t).to_owned();
    render(
        status,
        &ErrorPage {
            chrome,
            message,
            request_id: context_of(req).request_id,
        },
    )
}

/// The explicit `lang` query parameter, if any.
pub fn req_lang(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned())
}

pub async fn not_found(req: HttpRequest) -> HttpResponse {
    page(&req, StatusCode::NOT_FOUND, |t| t.not_found)
}

pub fn server_error(req: &HttpRequest) -> HttpResponse {
    page(req, StatusCode::INTERNAL_SERVER_ERROR, |t| t.server_error)
}
