//! Administration roles: assigned locally (`trousseau user role add|remove`) or mapped from
//! directory groups (`[admin.roles]`, resolved by the directory sync). The console and the
//! admin API ask [`effective`] what a person may do.

use serde_json::json;

use super::AdminError;
use crate::audit::AuditEvent;
use crate::identity::AdminRole;
use crate::state::AppState;
use crate::storage::roles::{self as store, RoleGrant};

/// Where a person's administration roles come from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleSummary {
    /// Assigned locally, with who granted them and when.
    pub local: Vec<RoleGrant>,
    /// From directory groups through `[admin.roles]`.
    pub directory: Vec<AdminRole>,
    /// Both together, without repeats.
    pub effective: Vec<AdminRole>,
}

/// The roles of an identity, by source.
pub async fn summary(state: &AppState, identity_id: &str) -> Result<RoleSummary, AdminError> {
    let pool = state.db.pool();
    let local = store::local_roles(pool, identity_id).await?;
    let directory: Vec<AdminRole> = store::directory_roles(pool, identity_id)
        .await?
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    let mut effective: Vec<AdminRole> = local
        .iter()
        .filter_map(|g| g.role.parse().ok())
        .chain(directory.iter().copied())
        .collect();
    effective.sort();
    effective.dedup();
    Ok(RoleSummary {
        local,
        directory,
        effective,
    })
}

/// The roles an identity holds now, whatever their source.
pub async fn effective(state: &AppState, identity_id: &str) -> Result<Vec<AdminRole>, AdminError> {
    Ok(summary(state, identity_id).await?.effective)
}

/// Assigns `role` to `who` locally; false when it was already assigned. Audited with the
/// roles before and after.
pub async fn add(
    state: &AppState,
    who: &str,
    role: AdminRole,
    actor: &str,
) -> Result<bool, AdminError> {
    change(state, who, role, actor, true).await
}

/// Withdraws a locally assigned `role` from `who`; false when it was not assigned locally (a
/// role that comes from a directory group is withdrawn in the directory).
pub async fn remove(
    state: &AppState,
    who: &str,
    role: AdminRole,
    actor: &str,
) -> Result<bool, AdminError> {
    change(state, who, role, actor, false).await
}

async fn change(
    state: &AppState,
    who: &str,
    role: AdminRole,
    actor: &str,
    grant: bool,
) -> Result<bool, AdminError> {
    let identity = super::users::find(state, who).await?;
    let current = summary(state, &identity.id).await?;
    let before = current.effective.clone();
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let changed = if grant {
        store::grant(
            &mut tx,
            &RoleGrant {
                identity_id: identity.id.clone(),
                role: role.as_str().to_owned(),
                granted_by: actor.to_owned(),
                granted_at: now,
            },
        )
        .await?
    } else {
        store::withdraw(&mut tx, &identity.id, role.as_str()).await?
    };
    let mut after: Vec<AdminRole> = current
        .local
        .iter()
        .filter_map(|g| g.role.parse().ok())
        .filter(|r| grant || *r != role)
        .chain(current.directory.iter().copied())
        .chain(grant.then_some(role))
        .collect();
    after.sort();
    after.dedup();
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success(if grant {
                "admin_role_granted"
            } else {
                "admin_role_withdrawn"
            })
            .actor(actor)
            .subject(&identity.id)
            .details(json!({
                "role": role, "changed": changed, "before": before, "after": after,
            })),
        )
        .await?;
    tx.commit().await?;
    Ok(changed)
}
