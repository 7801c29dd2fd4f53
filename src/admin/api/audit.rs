//! The audit trail, filtered and paginated by cursor (auditors and admins).

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::authenticate;
use super::problem::Problem;
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::audit::{self, AuditPage};

const MAX_LIMIT: i64 = 500;

/// Filters of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Event kind, e.g. `login`, `user_disabled`.
    pub kind: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// The person (identity id) the event is about.
    pub subject: Option<String>,
    pub client_id: Option<String>,
    /// Unix time, inclusive.
    pub since: Option<i64>,
    /// Unix time, inclusive.
    pub until: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    /// The event's details, a JSON object.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvents {
    pub items: Vec<AuditEventView>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn cursor_of(at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}:{id}"))
}

fn parse_cursor(text: &str) -> Option<(i64, String)> {
    let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (at, id) = raw.split_once(':')?;
    (id.len() <= 64).then_some(())?;
    Some((at.parse().ok()?, id.to_owned()))
}

/// The audit trail, newest first.
#[utoipa::path(
    get, path = "/admin/api/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "a page of events", body = AuditEvents),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req)
        .await?
        .require(&[AdminRole::Auditor])?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request("limit: 1 to 500"));
    }
    let before = match &q.cursor {
        Some(c) => Some(
            parse_cursor(c).ok_or_else(|| Problem::bad_request("cursor: not one this API gave"))?,
        ),
        None => None,
    };
    let rows = audit::page(
        state.db.pool(),
        &AuditPage {
            kind: q.kind.clone(),
            outcome: q.outcome.clone(),
            subject: q.subject.clone(),
            person: None,
            client_id: q.client_id.clone(),
            since: q.since,
            until: q.until,
            before,
            limit: limit + 1,
        },
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<AuditEventView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| AuditEventView {
            details: r
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
            id: r.id,
            at: r.at,
            kind: r.kind,
            outcome: r.outcome,
            reason: r.reason,
            actor: r.actor,
            subject: r.subject,
            client_id: r.client_id,
            source_ip: r.source_ip,
            request_id: r.request_id,
        })
        .collect();
    let next_cursor = if more {
        items.last().map(|e| cursor_of(e.at, &e.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(AuditEvents { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_forged_ones_are_refused() {
        let c = cursor_of(1_700_000_000, "0191-abc");
        assert_eq!(parse_cursor(&c), Some((1_700_000_000, "0191-abc".into())));
        for bad in [
            "",
            "!!",
            &URL_SAFE_NO_PAD.encode("x:y"),
            &URL_SAFE_NO_PAD.encode("12"),
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
