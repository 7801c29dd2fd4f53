//! People: read one, suspend, reactivate, end sessions, issue an enrolment code after the
//! identity check, assign or withdraw administration roles. Each calls the same function as
//! the CLI and the console.

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::authenticate;
use super::problem::Problem;
use crate::admin::{keys, roles, users};
use crate::authn::webauthn::enrolment::IdentityCheckInput;
use crate::identity::{AdminRole, IdentityDocument};
use crate::state::AppState;
use crate::storage::identities::IdentityRecord;

// Lines of text typed by a person (a reason, a name) have, in the schema, no control
// characters and at least one visible character: what the core functions accept.

const READERS: &[AdminRole] = &[AdminRole::Helpdesk, AdminRole::Auditor];
const HELPDESK: &[AdminRole] = &[AdminRole::Helpdesk];

/// A person as the admin API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    /// The immutable identifier (`sub`).
    pub id: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    /// active, pending, suspended or left.
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: i64,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    /// The national identifier the account is linked to.
    pub idnat: Option<String>,
    /// Administration roles, whatever their source.
    pub admin_roles: Vec<String>,
    pub security_keys: Vec<KeyView>,
}

/// A security key of a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub model: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// active, flagged or revoked.
    pub state: String,
}

async fn view(state: &AppState, i: IdentityRecord) -> Result<IdentityView, Problem> {
    let link = users::rpps_link(state, &i.id).await?;
    let summary = roles::summary(state, &i.id).await?;
    let security_keys = keys::list(state, Some(&i.id), false)
        .await?
        .into_iter()
        .map(|k| KeyView {
            state: if k.revoked_at.is_some() {
                "revoked"
            } else if k.flagged_at.is_some() {
                "flagged"
            } else {
                "active"
            }
            .to_owned(),
            id: k.id,
            name: k.name,
            model: k.model,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        })
        .collect();
    Ok(IdentityView {
        idnat: link.map(|l| l.idnat),
        admin_roles: summary.effective.iter().map(|r| r.to_string()).collect(),
        security_keys,
        status: i.status.to_string(),
        id: i.id,
        username: i.username,
        given_name: i.given_name,
        family_name: i.family_name,
        email: i.email,
        status_reason: i.status_reason,
        created_at: i.created_at,
        employee_number: i.employee_number,
        department: i.department,
    })
}

/// Search over people.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The start of a family or given name, username, email, employee number or IdNat;
    /// accents and case are ignored. Empty: everyone, by identifier.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 64)]
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A line of the search's results.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentitySummary {
    pub id: String,
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    /// active, pending, suspended or left.
    pub status: String,
    pub employee_number: Option<String>,
}

/// A page of people, by identifier.
#[derive(Debug, Serialize, ToSchema)]
pub struct Identities {
    pub items: Vec<IdentitySummary>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Searches people, 50 a page by default, paginated by cursor.
#[utoipa::path(
    get, path = "/admin/api/v1/identities", tag = "identities",
    params(SearchQuery),
    responses(
        (status = 200, description = "a page of people", body = Identities),
        (status = 400, description = "a malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(READERS)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 500"));
    }
    let q = query.q.as_deref().unwrap_or_default();
    let after = query.cursor.as_deref().unwrap_or_default();
    if q.chars().count() > 100 || after.chars().count() > 64 {
        return Err(Problem::bad_request(
            "q is at most 100 characters, cursor at most 64",
        ));
    }
    let mut found = users::search(&state, q, after, limit).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor = more.then(|| found.last().map(|i| i.id.clone())).flatten();
    let items = found
        .into_iter()
        .map(|i| IdentitySummary {
            status: i.status.to_string(),
            id: i.id,
            username: i.username,
            given_name: i.given_name,
            family_name: i.family_name,
            employee_number: i.employee_number,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Identities { items, next_cursor }))
}

/// One person, by id or username.
#[utoipa::path(
    get, path = "/admin/api/v1/identities/{id}", tag = "identities",
    params(("id" = String, Path, description = "identity id or username")),
    responses(
        (status = 200, description = "the person", body = IdentityView),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_identity(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    authenticate(&state, &req).await?.require(READERS)?;
    let i = users::find(&state, &id).await?;
    Ok(HttpResponse::Ok().json(view(&state, i).await?))
}

/// Why a person is suspended.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// Kept in the audit trail.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
    )]
    pub reason: String,
}

/// Suspends a person: their sessions end (back-channel logout to every client), their tokens
/// stop working.
#[utoipa::path(
    post, path = "/admin/api/v1/identities/{id}/suspend", tag = "identities",
    params(("id" = String, Path, description = "identity id or username")),
    request_body = SuspendBody,
    responses(
        (status = 200, description = "suspended", body = IdentityView),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn suspend(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<SuspendBody>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(HELPDESK)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "reason: 1 to 500 characters, no control characters",
        ));
    }
    let i = users::disable(&state, &id, reason, &caller.actor()).await?;
    Ok(HttpResponse::Ok().json(view(&state, i).await?))
}

/// Reactivates a suspended person.
#[utoipa::path(
    post, path = "/admin/api/v1/identities/{id}/reactivate", tag = "identities",
    params(("id" = String, Path, description = "identity id or username")),
    responses(
        (status = 200, description = "active again", body = IdentityView),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn reactivate(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(HELPDESK)?;
    let i = users::enable(&state, &id, &caller.actor()).await?;
    Ok(HttpResponse::Ok().json(view(&state, i).await?))
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedSessions {
    pub sessions_ended: usize,
}

/// Ends every session of a person (back-channel logout to each client, Pro Santé Connect
/// included); the account stays active.
#[utoipa::path(
    post, path = "/admin/api/v1/identities/{id}/end-sessions", tag = "identities",
    params(("id" = String, Path, description = "identity id or username")),
    responses(
        (status = 200, description = "sessions ended", body = EndedSessions),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn end_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(HELPDESK)?;
    let sessions_ended = users::end_sessions(&state, &id, &caller.actor()).await?;
    Ok(HttpResponse::Ok().json(EndedSessions { sessions_ended }))
}

/// The identity check made before the code is handed over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCodeBody {
    /// The person who checked the identity.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
    )]
    pub checked_by: String,
    pub document: IdentityDocument,
    /// Checked remotely (video) rather than in person.
    #[serde(default)]
    pub remote: bool,
    /// Lifetime in hours (default: the configured one, 24 h). A whole number (`24` or `24.0`).
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 720)]
    pub ttl_hours: Option<f64>,
}

/// A one-time enrolment code, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentCode {
    pub code: String,
    pub expires_at: i64,
}

/// Records the identity check and issues a one-time code to enrol a security key (the
/// previous unused code stops working).
#[utoipa::path(
    post, path = "/admin/api/v1/identities/{id}/enrolment-codes", tag = "identities",
    params(("id" = String, Path, description = "identity id or username")),
    request_body = EnrolmentCodeBody,
    responses(
        (status = 201, description = "the code, shown once", body = EnrolmentCode),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn enrolment_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<EnrolmentCodeBody>,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(&state, &req).await?;
    caller.require(HELPDESK)?;
    let ttl = match body.ttl_hours {
        Some(h) if h.fract() != 0.0 || !(1.0..=720.0).contains(&h) => {
            return Err(Problem::bad_request(
                "ttl_hours: a whole number from 1 to 720",
            ));
        }
        // A whole number from 1 to 720: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        other => other.map(|h| h as i64 * 3600),
    };
    let check = IdentityCheckInput {
        checked_by: body.checked_by.trim().to_owned(),
        document: body.document,
        remote: body.remote,
    };
    let issued = keys::enrolment_code(&state, &id, ttl, &caller.actor(), Some(&check)).await?;
    Ok(HttpResponse::Created()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(EnrolmentCode {
            code: issued.code,
            expires_at: issued.expires_at,
        }))
}

/// Whether a role assignment changed anything.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleChange {
    pub role: String,
    pub changed: bool,
}

/// Assigns an administration role locally (admin only).
#[utoipa::path(
    put, path = "/admin/api/v1/identities/{id}/roles/{role}", tag = "identities",
    params(
        ("id" = String, Path, description = "identity id or username"),
        ("role" = AdminRole, Path, description = "admin, helpdesk or auditor"),
    ),
    responses(
        (status = 200, description = "assigned (changed: false when it already was)", body = RoleChange),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn put_role(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, AdminRole)>,
) -> Result<HttpResponse, Problem> {
    change_role(&state, &req, &path, true).await
}

/// Withdraws a locally assigned administration role (admin only).
#[utoipa::path(
    delete, path = "/admin/api/v1/identities/{id}/roles/{role}", tag = "identities",
    params(
        ("id" = String, Path, description = "identity id or username"),
        ("role" = AdminRole, Path, description = "admin, helpdesk or auditor"),
    ),
    responses(
        (status = 200, description = "withdrawn (changed: false when it was not assigned locally)", body = RoleChange),
        (status = 400, description = "invalid request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "scope missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such person", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_role(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, AdminRole)>,
) -> Result<HttpResponse, Problem> {
    change_role(&state, &req, &path, false).await
}

/// Assigns (`grant`) or withdraws a local role: admins only.
async fn change_role(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    path: &(String, AdminRole),
    grant: bool,
) -> Result<HttpResponse, Problem> {
    let caller = authenticate(state, req).await?;
    caller.require(&[])?;
    let (who, role) = (path.0.as_str(), path.1);
    let changed = if grant {
        roles::add(state, who, role, &caller.actor()).await?
    } else {
        roles::remove(state, who, role, &caller.actor()).await?
    };
    Ok(HttpResponse::Ok().json(RoleChange {
        role: role.to_string(),
        changed,
    }))
}
