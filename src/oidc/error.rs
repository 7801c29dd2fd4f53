//! OAuth 2.0 error responses (RFC 6749 §5.2, RFC 6750 §3): a stable code, a human description,
//! never an internal cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

pub use crate::protocol::ErrorCode;

/// An error for a client, with how to render it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// `Basic` for failed client authentication by HTTP Basic, `Bearer` for resource requests.
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            challenge: None,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        OAuthError {
            challenge: Some("Bearer"),
            ..Self::new(ErrorCode::InvalidToken, d)
        }
    }
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request; try again later",
        )
    }
    pub fn with_challenge(mut self, scheme: &'static str) -> Self {
        self.challenge = Some(scheme);
        self
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server is temporarily unavailable; try again",
        )
    }
}

impl From<anyhow::Error> for OAuthError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = ?e, "internal error");
        OAuthError::server_error()
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(scheme) = self.challenge {
            let value = if scheme == "Bearer" {
                format!(
                    "Bearer error=\"{}\", error_description=\"{}\"",
                    self.code.as_str(),
                    self.description.replace(['"', '\\'], "'")
                )
            } else {
                format!("{scheme} realm=\"trousseau\"")
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.insert_header((WWW_AUTHENTICATE, v));
            }
        }
        resp.json(json!({ "error": self.code.as_str(), "error_description": self.description }))
    }
}
