//! Who may open the console: a live session at the phishing-resistant level (loa3) of a person
//! holding an administration role. Without a session the login opens; below loa3 the step-up
//! screen asks for a key or a card; without a role the answer is 403, audited
//! `admin_access_refused`.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use anyhow::Context;
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use crate::audit::{AuditEvent, RequestContext};
use crate::authn::Level;
use crate::endpoint::authorize::{AccountLoginReason, start_account_login_because};
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::identities::{self, IdentityRecord};
use crate::ui::context::context_of;
use crate::ui::error::PageError;
use crate::ui::extract::CurrentSession;

/// A person admitted to the console.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub identity: IdentityRecord,
    pub roles: Vec<AdminRole>,
    pub level: Level,
    pub auth_time: i64,
    pub session_id: String,
}

/// What the console's actions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// People, keys, enrolment codes, sessions, pairings: `admin` and `helpdesk`.
    People,
    /// Seeing the clients: `admin` and `auditor` (not `helpdesk`).
    SeeClients,
    /// Creating, editing, disabling clients and rotating their secrets: `admin` only.
    Clients,
    /// Starting a synchronisation run: `admin` only.
    Sync,
    /// Exporting the audit trail: `admin` and `auditor`.
    AuditExport,
}

impl AdminSession {
    /// Whether the roles grant `power` (`auditor` alone grants none: read only).
    pub fn may(&self, power: Power) -> bool {
        match power {
            Power::People => self
                .roles
                .iter()
                .any(|r| matches!(r, AdminRole::Admin | AdminRole::Helpdesk)),
            Power::SeeClients | Power::AuditExport => self
                .roles
                .iter()
                .any(|r| matches!(r, AdminRole::Admin | AdminRole::Auditor)),
            Power::Clients | Power::Sync => self.roles.contains(&AdminRole::Admin),
        }
    }

    /// The actor written in the audit trail.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.identity.username)
    }

    /// Checks that the roles allow `action` (refusals audited `admin_action_refused`) and that
    /// the last authentication is recent enough (`admin.reauth_idle_secs`): otherwise the
    /// login screen asks to sign in again and comes back to `back`.
    pub async fn allow(
        &self,
        state: &AppState,
        req: &HttpRequest,
        power: Power,
        action: &str,
        subject: &str,
        back: &str,
    ) -> Result<(), PageError> {
        let ctx = context_of(req);
        if !self.may(power) {
            let ev = AuditEvent::failure("admin_action_refused", "role")
                .actor(self.actor())
                .subject(subject)
                .context(&ctx)
                .details(json!({ "action": action, "roles": self.roles }));
            state.audit.record(ev).await;
            return Err(PageError::Forbidden(|t| t.err_admin_read_only));
        }
        let idle = state.clock.now() - self.auth_time;
        if idle > state.settings.admin.reauth_idle_secs {
            let ev = AuditEvent::failure("admin_action_refused", "reauthentication_required")
                .actor(self.actor())
                .subject(subject)
                .context(&ctx)
                .details(json!({ "action": action, "auth_age_secs": idle }));
            state.audit.record(ev).await;
            let login = AccountLoginReason::Reauthenticate;
            return Err(start_account_login_because(state, req, back, Some(login))
                .await
                .into());
        }
        Ok(())
    }
}

/// Where the login sends the person back: the page asked (a GET), or the page a form was
/// posted from.
fn back_of(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        return match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
    }
    match req.path().rsplit_once('/') {
        Some((parent, _)) if parent.starts_with("/admin") => parent.to_owned(),
        _ => "/admin".to_owned(),
    }
}

async fn admit(req: &HttpRequest) -> Result<AdminSession, PageError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .context("the application state is not registered")?;
    let CurrentSession(session) = CurrentSession::extract(req).await?;
    let back = back_of(req);
    let Some(s) = session else {
        return Err(start_account_login_because(&state, req, &back, None)
            .await
            .into());
    };
    if s.level < Level::Loa3 {
        let step_up = AccountLoginReason::StepUp;
        return Err(
            start_account_login_because(&state, req, &back, Some(step_up))
                .await
                .into(),
        );
    }
    let identity = identities::by_id(state.db.pool(), &s.identity_id)
        .await
        .context("cannot read the administrator's identity")?
        .context("the session's identity is gone")?;
    let roles = crate::admin::roles::effective(&state, &identity.id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the administration roles: {e}"))?;
    if roles.is_empty() {
        refuse(&state, &context_of(req), &identity, req.path()).await;
        return Err(PageError::Forbidden(|t| t.err_admin_denied));
    }
    Ok(AdminSession {
        identity,
        roles,
        level: s.level,
        auth_time: s.auth_time,
        session_id: s.id,
    })
}

async fn refuse(state: &AppState, ctx: &RequestContext, who: &IdentityRecord, path: &str) {
    let ev = AuditEvent::failure("admin_access_refused", "no_role")
        .actor(&who.id)
        .subject(&who.id)
        .context(ctx)
        .details(json!({ "path": path, "username": who.username }));
    state.audit.record(ev).await;
}

impl FromRequest for AdminSession {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<AdminSession, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { admit(&req).await })
    }
}
