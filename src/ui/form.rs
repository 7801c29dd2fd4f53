//! Posted forms: parsed once, CSRF-checked, a refusal audited and answered with the error page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::context::context_of;
use super::cookies;
use super::error::page;
use crate::audit::{Audit, AuditEvent};
use crate::oidc::params::Params;

/// The form of a POST whose CSRF token matches (and whose `Origin`, when sent, is `origin`);
/// otherwise the answer to send, after an audit event of `kind` with reason `csrf`.
pub async fn checked(
    req: &HttpRequest,
    audit: &Audit,
    origin: &str,
    body: &[u8],
    kind: &'static str,
) -> Result<Params, HttpResponse> {
    let Ok(form) = Params::parse(body) else {
        return Err(page(req, StatusCode::BAD_REQUEST, |t| t.err_csrf));
    };
    if !cookies::csrf_ok(req, form.get("csrf"), origin) {
        audit
            .record(AuditEvent::failure(kind, "csrf").context(&context_of(req)))
            .await;
        return Err(page(req, StatusCode::FORBIDDEN, |t| t.err_csrf));
    }
    Ok(form)
}
