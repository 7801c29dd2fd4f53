//! e-CPS pairings: the list (by status, those expiring soon, paginated by cursor) for every
//! scope, and revoking one for the helpdesk and admins. The same functions as the CLI and the
//! console.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::authenticate;
use super::problem::Problem;
use crate::admin::pairings::{self as admin_pairings, ListError, ListRequest, RevokeError};
use crate::admin::users;
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::pairings::{ListedPairing, PairingRecord};
use crate::ui::context::context_of;

const READERS: &[AdminRole] = &[AdminRole::Helpdesk, AdminRole::Auditor];
const HELPDESK: &[AdminRole] = &[AdminRole::Helpdesk];

/// Filters of the pairings list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PairingsQuery {
    /// `all` (default), `active`, `expired` (active past its expiry) or `revoked`.
    pub status: Option<String>,
    /// Only active pairings that expire within this many days (1 to 366).
    #[param(minimum = 1, maximum = 366)]
    pub expiring_within_days: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A pairing of a hospital account with a professional's national identity (IdNat).
#[derive(Debug, Serialize, ToSchema)]
pub struct PairingView {
    pub id: String,
    /// The person (identity id).
    pub identity_id: String,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub idnat: String,
    /// How e-CPS proved it: `ciba` (a notification on the phone) or `redirect`.
    pub means: String,
    /// active, expired or revoked, now.
    pub status: String,
    pub validated_at: i64,
    pub expires_at: i64,
    /// The acr of the e-CPS validation, when recorded.
    pub acr: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
}

impl PairingView {
    fn of(p: PairingRecord, person: Option<(String, String, String)>, now: i64) -> PairingView {
        let (username, given_name, family_name) = match person {
            Some((u, g, f)) => (Some(u), Some(g), Some(f)),
            None => (None, None, None),
        };
        PairingView {
            status: p.status_at(now).to_owned(),
            id: p.id,
            identity_id: p.identity_id,
            username,
            given_name,
            family_name,
            idnat: p.idnat,
            means: p.means,
            validated_at: p.validated_at,
            expires_at: p.expires_at,
            acr: p.acr,
            revoked_at: p.revoked_at,
            revoked_by: p.revoked_by,
            revoked_reason: p.revoked_reason,
        }
    }

    fn listed(l: ListedPairing, now: i64) -> PairingView {
        PairingView::of(
            l.pairing,
            Some((l.username, l.given_name, l.family_name)),
            now,
        )
    }
}

/// A page of pairings, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pairings {
    pub items: Vec<PairingView>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<ListError> for Problem {
    fn from(e: ListError) -> Problem {
        match e {
            ListError::Storage(e) => Problem::from(e),
            other => Problem::bad_request(other.to_string()),
        }
    }
}

impl From<RevokeError> for Problem {
    fn from(e: RevokeError) -> Problem {
        match e {
            RevokeError::Reason => Problem::bad_request(format!("reason: {e}")),
            RevokeError::Unknown => Problem::not_found("no such pairing"),
            RevokeError::AlreadyRevoked => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                "the pairing is already revoked",
            ),
            RevokeError::Pairing(cause) => {
                tracing::error!(error = ?cause, "admin API: cannot revoke a pairing");
                Problem::unexpected()
            }
        }
    }
}

/// The pairings, newest first.
#[utoipa::path(
    get, path = "/admin/api/v1/pairings", tag = "pairings",
    params(PairingsQuery),
    responses(
        (status = 200, description = "a page of pairings", body = Pairings),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<PairingsQuery>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(READERS)?;
    let q = q.into_inner();
    let request = ListRequest {
        status: q.status,
        expiring_within_days: q.expiring_within_days,
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    let page = admin_pairings::list(&state, &request).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(Pairings {
        items: page
            .items
            .into_iter()
            .map(|l| PairingView::listed(l, now))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Why a pairing is revoked.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Kept with the pairing and in the audit trail.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
    )]
    pub reason: String,
}

/// A revoked pairing and how many federated sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedPairing {
    pub pairing: PairingView,
    pub sessions_ended: usize,
}

/// Revokes a pairing (active or expired): the person must pair again, and the sessions that
/// came through Pro Santé Connect end.
#[utoipa::path(
    post, path = "/admin/api/v1/pairings/{id}/revoke", tag = "pairings",
    params(("id" = String, Path, description = "pairing id")),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "revoked", body = RevokedPairing),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such pairing", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<RevokeBody>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(HELPDESK)?;
    let ctx = context_of(&req);
    let done = admin_pairings::revoke(&state, &id, &caller.actor(), &body.reason, &ctx).await?;
    let person = users::find(&state, &done.after.identity_id)
        .await
        .ok()
        .map(|i| (i.username, i.given_name, i.family_name));
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(RevokedPairing {
        pairing: PairingView::of(done.after, person, now),
        sessions_ended: done.sessions_ended,
    }))
}
