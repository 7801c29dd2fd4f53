//! Requests refused before their handler runs (a body too large or cut short, a query string
//! that misses a field), answered in the endpoint's own format: OAuth JSON (RFC 6749 §5.2) on
//! the token family, the HTML error page elsewhere.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, PayloadError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::audit::AuditEvent;
use crate::oidc::error::OAuthError;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::error::page;

/// How an endpoint answers errors, with the audit kind of its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    OAuth(&'static str),
    Page(&'static str),
}

fn family(path: &str) -> Family {
    match path {
        "/token" => Family::OAuth("token_refused"),
        "/introspect" => Family::OAuth("introspection_refused"),
        "/revoke" => Family::OAuth("revocation_refused"),
        "/par" => Family::OAuth("par_refused"),
        "/userinfo" => Family::OAuth("userinfo_refused"),
        "/logout" => Family::Page("logout_refused"),
        _ => Family::Page("request_refused"),
    }
}

/// The `QueryConfig` error handler: a query string without a required field (`/login`,
/// `/consent`, `/authorize/resume` without `flow`) gets the error page, not the parser's text.
pub fn query(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %err, "query string refused");
    InternalError::from_response(
        err,
        page(req, StatusCode::BAD_REQUEST, |t| t.err_bad_request),
    )
    .into()
}

/// Middleware: a body the extractor refused (over the 64 KiB limit, or unreadable) is answered
/// in the endpoint's format and audited.
pub async fn body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let too_large = match res.response().error() {
        Some(e) => match (
            e.as_error::<PayloadError>(),
            e.as_error::<UrlencodedError>(),
        ) {
            (Some(p), _) | (_, Some(UrlencodedError::Payload(p))) => {
                matches!(p, PayloadError::Overflow)
            }
            (None, Some(u)) => matches!(u, UrlencodedError::Overflow { .. }),
            (None, None) => return Ok(res.map_into_boxed_body()),
        },
        None => return Ok(res.map_into_boxed_body()),
    };
    let (req, _) = res.into_parts();
    let resp = refuse(&req, too_large).await;
    Ok(ServiceResponse::new(req, resp))
}

async fn refuse(req: &HttpRequest, too_large: bool) -> HttpResponse {
    let (reason, status) = if too_large {
        ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        ("unreadable_body", StatusCode::BAD_REQUEST)
    };
    let family = family(req.path());
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let kind = match family {
            Family::OAuth(k) | Family::Page(k) => k,
        };
        let route = req.match_pattern().unwrap_or_default();
        let ev = AuditEvent::failure(kind, reason)
            .context(&context_of(req))
            .details(json!({ "route": route }));
        state.audit.record(ev).await;
    }
    match family {
        Family::OAuth(_) => {
            let description = if too_large {
                "the request body is larger than 64 KiB"
            } else {
                "the request body could not be read"
            };
            let mut resp = OAuthError::invalid_request(description).error_response();
            *resp.status_mut() = status;
            resp
        }
        Family::Page(_) if too_large => page(req, status, |t| t.err_too_large),
        Family::Page(_) => page(req, status, |t| t.err_bad_request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_family_speaks_oauth() {
        for p in ["/token", "/introspect", "/revoke", "/par", "/userinfo"] {
            assert!(matches!(family(p), Family::OAuth(_)), "{p}");
        }
        for p in ["/logout", "/login", "/consent", "/keys/rename"] {
            assert!(matches!(family(p), Family::Page(_)), "{p}");
        }
    }
}
