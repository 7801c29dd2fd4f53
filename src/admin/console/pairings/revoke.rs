//! POST /admin/pairings/{id}/revoke: revokes a pairing from the list, with a reason, for
//! `admin` and `helpdesk` after a recent authentication; audited `admin_console_action` with
//! the pairing before and after. The list opens again with its filters and what happened.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use serde_json::json;

use super::list::{Filters, query_of};
use crate::admin::console::actions::ConsoleForm;
use crate::admin::console::guard::{AdminSession, Power};
use crate::admin::pairings::{self as admin_pairings, RevokeError};
use crate::audit::AuditEvent;
use crate::state::AppState;
use crate::storage::pairings::{self, PairingRecord};
use crate::ui::context::context_of;
use crate::ui::error::PageError;
use crate::ui::extract::CheckedForm;

const ACTION: &str = "revoke_pairing";

fn view(p: &PairingRecord, now: i64) -> serde_json::Value {
    json!({ "pairing": p.id, "idnat": p.idnat, "status": p.status_at(now),
            "expires_at": p.expires_at })
}

/// POST /admin/pairings/{id}/revoke (csrf, reason; the list's status and expiring_within_days)
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    // What the audit trail keeps of an id typed by hand.
    let shown: String = id.chars().take(64).collect();
    let known = pairings::by_id(state.db.pool(), &shown)
        .await
        .context("cannot read the pairing")?
        .filter(|p| p.id == id);
    let subject = known
        .as_ref()
        .map_or(shown.as_str(), |p| p.identity_id.as_str());
    let filters = Filters {
        status: form.get("status").unwrap_or_default().to_owned(),
        expiring_within_days: form
            .get("expiring_within_days")
            .unwrap_or_default()
            .to_owned(),
        ..Default::default()
    };
    let list = filters.request(1).unwrap_or_default();
    let back = format!("/admin/pairings?{}", query_of(&list, &[]));
    admin
        .allow(&state, &req, Power::People, ACTION, subject, &back)
        .await?;
    let (ctx, actor) = (context_of(&req), admin.actor());
    let reason = form.get("reason").unwrap_or_default();
    let outcome = admin_pairings::revoke(&state, &id, &actor, reason, &ctx).await;
    let now = state.clock.now();
    let (ev, status) = match &outcome {
        Ok(done) => {
            let mut after = view(&done.after, now);
            after["sessions_ended"] = json!(done.sessions_ended);
            let details = json!({ "action": ACTION, "before": view(&done.before, now),
                                  "after": after });
            (
                AuditEvent::success("admin_console_action").details(details),
                ("done", ACTION),
            )
        }
        Err(e) => {
            if let RevokeError::Pairing(cause) = e {
                tracing::error!(error = ?cause, "the console could not revoke a pairing");
            }
            let details = json!({ "action": ACTION, "pairing": shown });
            let ev = AuditEvent::failure("admin_console_action", e.code()).details(details);
            (ev, ("error", e.code()))
        }
    };
    state
        .audit
        .record(ev.actor(&actor).subject(subject).context(&ctx))
        .await;
    let target = format!("/admin/pairings?{}", query_of(&list, &[status]));
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, target))
        .finish())
}
