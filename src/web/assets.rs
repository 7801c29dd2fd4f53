//! Static files, compiled into the binary so that it runs from anywhere.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};

const FILES: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
    (
        "webauthn.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/webauthn.js"),
    ),
    (
        "form_post.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/form_post.js"),
    ),
    (
        "pairing.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/pairing.js"),
    ),
];

pub async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, mime, body)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, *mime))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(*body),
        None => crate::ui::error::not_found(req).await,
    }
}
