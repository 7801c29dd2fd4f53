//! What every page shares (language, switch link) and how templates become responses.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::i18n::{Lang, Texts};

/// The frame around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub switch_href: String,
    pub switch_lang: &'static str,
}

impl Chrome {
    /// The chrome for `lang`, with a link to this same page in the other language (GET pages).
    pub fn new(req: &HttpRequest, lang: Lang) -> Chrome {
        let other = lang.other();
        let switch_href = if req.method() == actix_web::http::Method::GET {
            let mut pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(req.query_string().as_bytes())
                    .filter(|(k, _)| k != "lang")
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            pairs.push(("lang".into(), other.code().into()));
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            format!("{}?{}", req.path(), query)
        } else {
            String::new()
        };
        Chrome {
            lang: lang.code(),
            t: lang.t(),
            switch_href,
            switch_lang: other.code(),
        }
    }
}

/// Renders a template with a status; pages are never cached.
pub fn render<T: Template>(status: StatusCode, template: &T) -> HttpResponse {
    render_with(HttpResponse::build(status), template)
}

/// Renders into a prepared builder (to add cookies or headers first).
pub fn render_with<T: Template>(mut builder: HttpResponseBuilder, template: &T) -> HttpResponse {
    match template.render() {
        Ok(html) => builder
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError().body("Erreur interne / Internal error")
        }
    }
}
