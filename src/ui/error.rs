//! The HTML error page, with the request id to give the helpdesk, and [`PageError`], what a page
//! handler answers when it does not render its own page.

use std::cell::RefCell;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
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

/// A message of the page's language, chosen when the language is known.
pub type Message = fn(&Texts) -> &'static str;

/// An error page whose message is chosen from the page's language.
pub fn page(req: &HttpRequest, status: StatusCode, message: Message) -> HttpResponse {
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

/// Why a page handler did not render its page. The error page is drawn by [`render_errors`],
/// which knows the request (language, request id); the cause of an unexpected error is logged,
/// never shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("bad request")]
    BadRequest(Message),
    #[error("forbidden")]
    Forbidden(Message),
    /// A page for signed-in people, opened without a session: off to `login`.
    #[error("a session is required")]
    SessionRequired { login: String },
    /// An answer already made (another browser's flow started again here, a refused flow).
    #[error("answered")]
    Answered(Prepared),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

/// A prepared answer, handed over once (as actix's own `InternalError` does).
pub struct Prepared(RefCell<Option<Box<HttpResponse>>>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared")
    }
}

impl From<HttpResponse> for PageError {
    fn from(resp: HttpResponse) -> Self {
        PageError::Answered(Prepared(RefCell::new(Some(Box::new(resp)))))
    }
}

impl PageError {
    /// The status and message of the error page, for the errors that show one.
    fn shown(&self) -> Option<(StatusCode, Message)> {
        match self {
            PageError::NotFound => Some((StatusCode::NOT_FOUND, |t| t.not_found)),
            PageError::BadRequest(m) => Some((StatusCode::BAD_REQUEST, *m)),
            PageError::Forbidden(m) => Some((StatusCode::FORBIDDEN, *m)),
            PageError::Unexpected(_) => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, |t| t.server_error))
            }
            PageError::SessionRequired { .. } | PageError::Answered(_) => None,
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SessionRequired { .. } => StatusCode::SEE_OTHER,
            PageError::Answered(p) => {
                p.0.borrow()
                    .as_ref()
                    .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status())
            }
            other => other
                .shown()
                .map_or(StatusCode::INTERNAL_SERVER_ERROR, |(s, _)| s),
        }
    }

    /// The answer without the request: a redirect, the prepared answer, or a bare status that
    /// [`render_errors`] turns into the error page.
    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SessionRequired { login } => HttpResponse::SeeOther()
                .insert_header((LOCATION, login.as_str()))
                .finish(),
            PageError::Answered(p) => {
                p.0.borrow_mut()
                    .take()
                    .map_or_else(|| HttpResponse::InternalServerError().finish(), |r| *r)
            }
            PageError::Unexpected(cause) => {
                tracing::error!(error = ?cause, "page failed");
                HttpResponse::InternalServerError().finish()
            }
            other => HttpResponse::new(other.status_code()),
        }
    }
}

/// Middleware: a [`PageError`] that shows the error page gets it, in the request's language
/// and with its request id.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let shown = res
        .response()
        .error()
        .and_then(|e| e.as_error::<PageError>())
        .and_then(PageError::shown);
    let Some((status, message)) = shown else {
        return Ok(res.map_into_boxed_body());
    };
    let (req, _) = res.into_parts();
    let resp = page(&req, status, message);
    Ok(ServiceResponse::new(req, resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    async fn answer(e: fn() -> PageError) -> (StatusCode, Option<String>, String) {
        let app = test::init_service(App::new().wrap(from_fn(render_errors)).route(
            "/",
            web::get().to(move || async move { Err::<HttpResponse, _>(e()) }),
        ))
        .await;
        let req = test::TestRequest::get()
            .uri("/?lang=en")
            .insert_header(("accept-language", "fr"))
            .to_request();
        let resp = test::call_service(&app, req).await;
        let status = resp.status();
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = test::read_body(resp).await;
        (status, location, String::from_utf8(body.to_vec()).unwrap())
    }

    #[actix_web::test]
    async fn each_error_has_its_status_and_page() {
        let (s, _, body) = answer(|| PageError::NotFound).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(body.contains("This page does not exist."), "{body}");
        let (s, _, body) = answer(|| PageError::BadRequest(|t| t.err_flow)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains(crate::ui::i18n::Lang::En.t().err_flow));
        let (s, _, body) = answer(|| PageError::Forbidden(|t| t.err_csrf)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body.contains("The form has expired."));
    }

    #[actix_web::test]
    async fn a_missing_session_goes_to_the_login() {
        let (s, location, _) = answer(|| PageError::SessionRequired {
            login: "/login?flow=abc".into(),
        })
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/login?flow=abc"));
    }

    #[actix_web::test]
    async fn an_unexpected_error_never_shows_its_cause() {
        let (s, _, body) = answer(|| {
            PageError::Unexpected(
                anyhow::anyhow!("password=hunter2 at db.internal").context("cannot read"),
            )
        })
        .await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("The service could not handle the request."));
        assert!(!body.contains("hunter2") && !body.contains("db.internal"));
        assert!(!body.contains("cannot read"));
    }

    #[actix_web::test]
    async fn a_prepared_answer_is_given_as_it_is() {
        let (s, location, _) = answer(|| {
            HttpResponse::SeeOther()
                .insert_header((LOCATION, "/login?flow=new"))
                .finish()
                .into()
        })
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/login?flow=new"));
    }
}
