//! The clients pages: the list, a client's page with its edit form, registering one, rotating
//! its secret (shown once) and disabling it. Admins and auditors see them, admins alone change
//! them, through the functions the CLI and the admin API call (`admin::clients`).

mod act;
mod form;
mod list;
mod save;

use actix_web::{HttpRequest, web};
use serde_json::{Value, json};

use super::guard::{AdminSession, Power};
use crate::audit::AuditEvent;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::error::PageError;

/// Registers the page's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/clients", web::get().to(list::list))
        .route("/admin/clients/new", web::get().to(form::new))
        .route("/admin/clients/new", web::post().to(save::create))
        .route("/admin/clients/{id}", web::get().to(form::show))
        .route("/admin/clients/{id}", web::post().to(save::update))
        .route("/admin/clients/{id}/{action}", web::post().to(act::act));
}

/// Lets through those who may see the clients (`admin`, `auditor`); anyone else gets 403,
/// audited `admin_action_refused`.
async fn may_see(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminSession,
) -> Result<(), PageError> {
    if admin.may(Power::SeeClients) {
        return Ok(());
    }
    let ev = AuditEvent::failure("admin_action_refused", "role")
        .actor(admin.actor())
        .context(&context_of(req))
        .details(json!({ "action": "view_clients", "path": req.path(), "roles": admin.roles }));
    state.audit.record(ev).await;
    Err(PageError::Forbidden(|t| t.err_admin_read_only))
}

/// The client asked for, or the not-found page.
fn found(
    r: Result<crate::storage::clients::ClientRecord, crate::admin::AdminError>,
) -> Result<crate::storage::clients::ClientRecord, PageError> {
    match r {
        Ok(rec) => Ok(rec),
        Err(crate::admin::AdminError::NotFound(_)) => Err(PageError::NotFound),
        Err(e) => Err(anyhow::anyhow!("cannot read the client: {e}").into()),
    }
}

/// Audits a change made from these pages, or its refusal, as `admin_console_action`.
async fn audit(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminSession,
    client: &str,
    ev: AuditEvent,
) {
    let ev = ev
        .actor(admin.actor())
        .client(client)
        .context(&context_of(req));
    state.audit.record(ev).await;
}

/// A change done: the client before and after, as `describe` gives it (never a secret).
fn changed(action: &str, before: Value, after: Value) -> AuditEvent {
    AuditEvent::success("admin_console_action")
        .details(json!({ "action": action, "before": before, "after": after }))
}

/// A change refused for `reason`, with what was wrong (fields and codes, never a value typed
/// in a secret field: the forms have none).
fn refused(action: &str, reason: &str, what: Value) -> AuditEvent {
    AuditEvent::failure("admin_console_action", reason)
        .details(json!({ "action": action, "refused": what }))
}
