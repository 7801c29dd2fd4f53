//! Errors of the admin API as problem details (RFC 9457, `application/problem+json`).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::AdminError;

/// A problem detail: what went wrong, for a program and for a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:trousseau:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// The stable code, as in `type`.
    pub code: String,
    /// The fields at fault, when the body is refused field by field (boxed: most problems
    /// have none). Written as two more members of the problem, `field` and `errors` (see
    /// `Fields`); left out of the generated schema, where a flattened optional member would
    /// read as "null or these members" for the whole problem.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub fields: Option<Box<Fields>>,
}

/// The refused fields of a request's body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fields {
    /// The first field at fault.
    pub field: String,
    /// Every field at fault.
    pub errors: Vec<FieldProblem>,
}

/// One refused field of a request's body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field, as the body names it.
    pub field: String,
    /// A stable code of what is wrong with it.
    pub code: String,
    /// What is wrong, naming the value.
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:trousseau:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            fields: None,
        }
    }

    /// A body refused field by field (422): each field with its code and message.
    pub fn fields(errors: Vec<FieldProblem>) -> Problem {
        let detail: Vec<&str> = errors.iter().map(|e| e.detail.as_str()).collect();
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "Invalid field",
            detail.join("; "),
        );
        if let Some(first) = errors.first() {
            p.fields = Some(Box::new(Fields {
                field: first.field.clone(),
                errors,
            }));
        }
        p
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "Not allowed",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    pub fn unexpected() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Unexpected error",
            "the request could not be completed; the server log has the details",
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        r.content_type("application/problem+json")
            .insert_header((CACHE_CONTROL, "no-store"));
        match self.code.as_str() {
            "invalid_token" => {
                r.insert_header((WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            "insufficient_scope" => {
                r.insert_header((WWW_AUTHENTICATE, "Bearer error=\"insufficient_scope\""));
            }
            _ => {}
        }
        r.json(self)
    }
}

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Problem {
        match e {
            AdminError::Invalid(m) => Problem::bad_request(m),
            AdminError::NotFound(m) => Problem::not_found(m),
            AdminError::Conflict(m) => {
                Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", m)
            }
            other => {
                tracing::error!(error = %other, "admin API: unexpected error");
                Problem::unexpected()
            }
        }
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Problem {
        Problem::from(AdminError::from(e))
    }
}

/// Body and query errors of the API's extractors, as problems rather than HTML pages.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    Problem::bad_request(format!("the JSON body is not valid: {err}")).into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    Problem::bad_request(format!("the query string is not valid: {err}")).into()
}

pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    Problem::bad_request(format!("the path is not valid: {err}")).into()
}
