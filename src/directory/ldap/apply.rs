//! Applying a plan: one transaction per page for the rows and their audit, then the
//! withdrawals (sessions ended, clients notified); accounts gone from the directory marked
//! deleted.

use serde_json::json;
use std::collections::HashSet;

use super::ACTOR;
use super::plan::{DELETED_REASON, Plan, Tally, plan};
use super::read::RoleMaps;
use crate::audit::AuditEvent;
use crate::config::LdapSettings;
use crate::directory::Repository;
use crate::directory::users::withdraw;
use crate::identity::Status;
use crate::ldap::DirEntry;
use crate::storage::directory::{self as store, AccountRecord};
use crate::storage::identities;

/// Compares a page with the repository and writes the differences in one transaction.
pub(super) async fn apply(
    state: &Repository<'_>,
    s: &LdapSettings,
    roles_map: &RoleMaps,
    tally: &mut Tally,
    entries: &[DirEntry],
) -> anyhow::Result<()> {
    let plan = plan(state, s, roles_map, tally, entries).await?;
    write(state, &plan).await
}

/// Writes a plan: one transaction for the rows, then the withdrawals (each audited, sessions
/// ended and their clients notified).
async fn write(state: &Repository<'_>, plan: &Plan) -> anyhow::Result<()> {
    let now = plan.now;
    let backend = state.db.backend();
    let mut tx = state.db.begin().await?;
    store::insert_identities(&mut tx, backend, &plan.new_identities, now).await?;
    store::insert_many(&mut tx, backend, &plan.new_accounts).await?;
    for r in &plan.updates {
        store::update(&mut tx, r).await?;
    }
    for (id, given, family, email) in &plan.names {
        store::update_identity_names(&mut tx, id, given, family, email.as_deref(), now).await?;
    }
    for (id, finess) in &plan.establishments {
        identities::set_establishment(&mut tx, id, Some(finess)).await?;
    }
    let touched: Vec<&str> = plan.touched.iter().map(String::as_str).collect();
    store::touch_many(&mut tx, backend, &touched, now).await?;
    for id in &plan.reenable {
        identities::set_status(&mut tx, id, Status::Active, None, now).await?;
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::success("user_enabled")
                    .actor(ACTOR)
                    .subject(id)
                    .reason("directory_enabled"),
            )
            .await?;
    }
    for c in &plan.conflicts {
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::failure("directory_account_conflict", "directory_link_conflict")
                    .actor(ACTOR)
                    .details(json!({ "account": c })),
            )
            .await?;
    }
    tx.commit().await?;
    for (id, reason) in &plan.withdraw {
        withdraw(
            state,
            id,
            Status::Suspended,
            reason,
            ACTOR,
            json!({ "source": "directory" }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot suspend identity {id}: {e}"))?;
    }
    Ok(())
}

/// Marks accounts deleted; suspends identities left with no live account.
pub(super) async fn mark_deleted(
    state: &Repository<'_>,
    gone: &[AccountRecord],
) -> anyhow::Result<i64> {
    let now = state.clock.now();
    let gone_ids: HashSet<&str> = gone.iter().map(|a| a.unique_id.as_str()).collect();
    let mut count = 0;
    for a in gone {
        let mut r = a.clone();
        r.deleted = 1;
        r.enabled = 0;
        r.updated_at = now;
        let mut tx = state.db.begin().await?;
        store::update(&mut tx, &r).await?;
        state
            .audit
            .in_tx(
                &mut tx,
                AuditEvent::success("directory_account_deleted")
                    .actor(ACTOR)
                    .subject(&a.identity_id)
                    .details(json!({ "dn": a.dn, "unique_id": a.unique_id })),
            )
            .await?;
        tx.commit().await?;
        count += 1;
        let other_live = store::of_identity(state.db.pool(), &a.identity_id)
            .await?
            .iter()
            .any(|o| o.deleted == 0 && !gone_ids.contains(o.unique_id.as_str()));
        let identity = identities::by_id(state.db.pool(), &a.identity_id).await?;
        if !other_live && identity.is_some_and(|i| i.status == Status::Active) {
            withdraw(
                state,
                &a.identity_id,
                Status::Suspended,
                DELETED_REASON,
                ACTOR,
                json!({ "dn": a.dn }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot suspend identity {}: {e}", a.identity_id))?;
        }
    }
    Ok(count)
}
