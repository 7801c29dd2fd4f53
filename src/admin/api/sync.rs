//! The synchronisations: their last runs, a run started now (RPPS, HR, directory) under the
//! job's lease, and the reconciliation findings by cursor. The same core functions as the
//! console (`admin::sync`, the findings store).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::caller::authenticate;
use super::problem::Problem;
use crate::admin::sync::{self as core, Opened, RunView, StartError, SyncKind};
use crate::audit::AuditEvent;
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::findings::{self, FindingFilter};

const READERS: &[AdminRole] = &[AdminRole::Helpdesk, AdminRole::Auditor];

fn kind_of(s: &str) -> Result<SyncKind, Problem> {
    SyncKind::parse(s).ok_or_else(|| Problem::not_found("kind: rpps, hr or directory"))
}

/// Filters of the runs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// `rpps`, `hr` or `directory`; every one when absent.
    pub kind: Option<String>,
    /// The latest runs of each kind, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

/// One run of a synchronisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunItem {
    /// `rpps`, `hr` or `directory`.
    pub kind: String,
    pub id: String,
    /// The file or folder read, or the directory sync's mode (`full`, `incremental`).
    pub source: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `running`, `succeeded`, `failed` or `abandoned`.
    pub status: String,
    /// Counters by name (`lines`, `added`, `created`, `seen`…), written as the run goes.
    pub counts: BTreeMap<String, i64>,
    pub error: Option<String>,
}

impl From<RunView> for RunItem {
    fn from(r: RunView) -> RunItem {
        RunItem {
            kind: r.kind.as_str().to_owned(),
            counts: r
                .counts
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
            id: r.id,
            source: r.source,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status,
            error: r.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Runs {
    /// Newest first within each kind.
    pub items: Vec<RunItem>,
}

/// The latest runs of the synchronisations.
#[utoipa::path(
    get, path = "/admin/api/v1/sync/runs", tag = "sync",
    params(RunsQuery),
    responses(
        (status = 200, description = "the latest runs", body = Runs),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn runs(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<RunsQuery>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(READERS)?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(Problem::bad_request("limit: 1 to 50"));
    }
    let kinds = match &q.kind {
        Some(k) => vec![
            SyncKind::parse(k)
                .ok_or_else(|| Problem::bad_request("kind: rpps, hr or directory"))?,
        ],
        None => SyncKind::ALL.to_vec(),
    };
    let mut items = Vec::new();
    for kind in kinds {
        let runs = core::recent(&state, kind, limit)
            .await
            .map_err(unexpected)?;
        items.extend(runs.into_iter().map(RunItem::from));
    }
    Ok(HttpResponse::Ok().json(Runs { items }))
}

fn unexpected(e: anyhow::Error) -> Problem {
    tracing::error!(error = %format!("{e:#}"), "admin API: unexpected error");
    Problem::unexpected()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// The directory only: `full` reads every user, `incremental` (default) what changed.
    pub mode: Option<String>,
}

/// What became of a start.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedRun {
    pub kind: String,
    /// `started` (its run is `run`), `nothing` (ended without a run: an unchanged source, an
    /// empty drop folder) or `pending` (still preparing: see the runs).
    pub state: String,
    pub run: Option<String>,
}

/// Starts a synchronisation now, through the scheduled job's code, under its lease.
#[utoipa::path(
    post, path = "/admin/api/v1/sync/{kind}/run", tag = "sync",
    params(("kind" = String, Path, description = "rpps, hr or directory"), RunQuery),
    responses(
        (status = 202, description = "started", body = StartedRun),
        (status = 400, description = "a malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such synchronisation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "a run holds the lease, or it is not configured", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn run(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: web::Path<String>,
    q: web::Query<RunQuery>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(&[])?;
    let kind = kind_of(&kind)?;
    let full = match q.mode.as_deref() {
        None | Some("incremental") => false,
        Some("full") if kind == SyncKind::Directory => true,
        Some(_) => {
            return Err(Problem::bad_request(
                "mode: full or incremental, directory only",
            ));
        }
    };
    let outcome = match core::start(state.clone().into_inner(), kind, full).await {
        Ok(s) => s
            .opened_run(&state, Duration::from_secs(3))
            .await
            .map_err(StartError::from),
        Err(e) => Err(e),
    };
    let ev = match &outcome {
        Ok(_) => AuditEvent::success("sync_run_requested"),
        Err(e) => AuditEvent::failure("sync_run_requested", e.code()),
    };
    let ev = ev
        .actor(caller.actor())
        .subject(format!("sync:{}", kind.as_str()))
        .details(json!({ "kind": kind, "full": full }));
    state.audit.record(ev).await;
    let (state_of, run) = match outcome {
        Ok(Opened::Run(id)) => ("started", Some(id)),
        Ok(Opened::Nothing) => ("nothing", None),
        Ok(Opened::NotYet) => ("pending", None),
        Err(StartError::Other(e)) => return Err(unexpected(e)),
        Err(e) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                e.code(),
                "Conflict",
                e.to_string(),
            ));
        }
    };
    Ok(HttpResponse::Accepted().json(StartedRun {
        kind: kind.as_str().to_owned(),
        state: state_of.to_owned(),
        run,
    }))
}

/// Filters of the findings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// A category (`linked_idnat_unknown`, `changed`, `onboarding_candidate`…).
    pub category: Option<String>,
    /// The start of the person's username, family or given name, or IdNat.
    pub person: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One reconciliation finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingItem {
    pub id: String,
    pub category: String,
    pub identity_id: Option<String>,
    pub username: Option<String>,
    pub idnat: Option<String>,
    /// What the finding says, a JSON object.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub first_seen: i64,
    pub seen_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Findings {
    /// By category, then id.
    pub items: Vec<FindingItem>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn parse_cursor(text: &str) -> Option<(String, String)> {
    crate::admin::cursor::decode(text)
}

/// The reconciliation findings, by cursor.
#[utoipa::path(
    get, path = "/admin/api/v1/findings", tag = "sync",
    params(FindingsQuery),
    responses(
        (status = 200, description = "a page of findings", body = Findings),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_findings(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<FindingsQuery>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(READERS)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit: 1 to 500"));
    }
    let after = match &q.cursor {
        Some(c) => Some(
            parse_cursor(c).ok_or_else(|| Problem::bad_request("cursor: not one this API gave"))?,
        ),
        None => None,
    };
    let filter = FindingFilter {
        category: q
            .category
            .clone()
            .unwrap_or_default()
            .chars()
            .take(64)
            .collect(),
        person: q
            .person
            .clone()
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect(),
        after,
        limit: limit + 1,
    };
    let mut rows = findings::page(state.db.pool(), &filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some(l)) => Some(crate::admin::cursor::encode(&l.category, &l.id)),
        _ => None,
    };
    let items = rows
        .into_iter()
        .map(|r| FindingItem {
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            id: r.id,
            category: r.category,
            identity_id: r.identity_id,
            username: r.username,
            idnat: r.idnat,
            first_seen: r.first_seen,
            seen_at: r.seen_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Findings { items, next_cursor }))
}
