//! The audit trail, filtered and paginated by cursor (auditors and admins).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::authenticate;
use super::problem::Problem;
use crate::admin::audit::{
    AuditCriteria, ExportError, FilterError, Outcome, Requester, cursor_of, export_csv,
    parse_cursor, refuse_export,
};
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::audit::{self, AuditPage};
use crate::ui::context::context_of;

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

/// Filters of an export of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// A username or identity id: the events about that person or done by them; any other
    /// text is matched as it is against the subject and the actor (`api:<client>`, `cli`).
    pub person: Option<String>,
    pub client_id: Option<String>,
    /// Event kind, e.g. `login`, `user_disabled`.
    pub kind: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Unix time, inclusive.
    pub since: Option<i64>,
    /// Unix time, inclusive.
    pub until: Option<i64>,
}

/// The audit trail as CSV (`text/csv`), newest first, streamed: any size, one request. Cells
/// a spreadsheet would read as formulas start with an apostrophe. Audited `audit_exported`.
#[utoipa::path(
    get, path = "/admin/api/v1/audit/export", tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "the events as CSV: id, time_utc, kind, outcome, reason, actor, subject, client_id, source_ip, request_id, details", body = String, content_type = "text/csv"),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(&[AdminRole::Auditor])?;
    let q = q.into_inner();
    let requester = Requester {
        actor: caller.actor(),
        ctx: context_of(&req),
    };
    let outcome = match q.outcome.as_deref() {
        None => Ok(None),
        Some("success") => Ok(Some(Outcome::Success)),
        Some("failure") => Ok(Some(Outcome::Failure)),
        Some(_) => Err(FilterError::Outcome),
    };
    let criteria = outcome.and_then(|outcome| {
        AuditCriteria {
            person: q.person,
            client_id: q.client_id,
            kind: q.kind,
            outcome,
            since: q.since,
            until: q.until,
        }
        .checked()
    });
    let criteria = match criteria {
        Ok(c) => c,
        Err(e) => {
            refuse_export(&state, &requester, &e).await;
            return Err(Problem::bad_request(e.to_string()));
        }
    };
    let now = state.clock.now();
    let csv = export_csv(&state, &criteria, requester).await?;
    Ok(csv_response(now, csv))
}

/// A streamed CSV download named after the time of the export.
pub fn csv_response(
    now: i64,
    csv: impl futures_util::Stream<Item = Result<Vec<u8>, ExportError>> + 'static,
) -> HttpResponse {
    use futures_util::StreamExt;
    let name = jiff::Timestamp::from_second(now)
        .map(|t| t.strftime("audit-%Y%m%d-%H%M%S.csv").to_string())
        .unwrap_or_else(|_| "audit.csv".to_owned());
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .streaming(csv.map(|chunk| chunk.map(web::Bytes::from)))
}
