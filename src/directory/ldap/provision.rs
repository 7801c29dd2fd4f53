//! Provisioning at login: the identity of a directory account that signs in before (or
//! between) synchronisations.

use serde_json::json;

use super::plan::{Index, new_identity, page_keys, record};
use super::read::{Groups, role_maps};
use crate::audit::{AuditEvent, RequestContext};
use crate::directory::Repository;
use crate::ldap::DirEntry;
use crate::storage::directory as store;

/// The identity of a directory account at its login: the account known from a sync, or
/// provisioned now (linked by the configured key, or a new identity). Returns the identity id.
pub async fn provision(
    state: &Repository<'_>,
    e: &DirEntry,
    ctx: &RequestContext,
) -> anyhow::Result<Option<String>> {
    let s = &state.settings.ldap;
    let pool = state.db.pool();
    if let Some(a) = store::by_unique_id(pool, &e.unique_id).await? {
        if a.deleted == 1 || a.dn != e.dn || a.username != e.username {
            // Back from the dead or renamed: the next sync fills the rest in.
            let mut r = a.clone();
            r.deleted = 0;
            r.enabled = 1;
            r.dn = e.dn.clone();
            r.username = e.username.clone();
            r.upn = e.upn.clone();
            r.updated_at = state.clock.now();
            let mut tx = state.db.begin().await?;
            store::update(&mut tx, &r).await?;
            tx.commit().await?;
        }
        return Ok(Some(a.identity_id));
    }
    let index = Index::new(page_keys(pool, state.db.backend(), &[], &[e]).await?);
    let now = state.clock.now();
    let linked = index.link(e, s.link_by);
    let (identity_id, new) = match linked {
        Some(id) => (id, None),
        None if !s.create_identities || index.by_username.contains_key(&e.username) => {
            state
                .audit
                .record(
                    AuditEvent::failure("directory_account_conflict", "directory_link_conflict")
                        .context(ctx)
                        .details(json!({ "account": e.username, "dn": e.dn })),
                )
                .await;
            return Ok(None);
        }
        None => {
            let n = new_identity(e, true);
            (n.id.clone(), Some(n))
        }
    };
    let mut tx = state.db.begin().await?;
    if let Some(n) = &new {
        store::insert_identities(&mut tx, state.db.backend(), std::slice::from_ref(n), now).await?;
    }
    // Roles from the direct groups only until the next sync resolves nesting.
    let mut groups = Groups::default();
    let roles = groups.account_roles(&e.member_of, &role_maps(s, &state.settings.admin));
    let fp = e.fingerprint(&roles.fingerprinted());
    // The fingerprint is left stale on purpose so the next sync rewrites the account.
    let mut r = record(e, &identity_id, &roles, fp, now);
    r.fingerprint = String::from("login");
    store::insert_many(&mut tx, state.db.backend(), std::slice::from_ref(&r)).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success(if new.is_some() {
                "directory_identity_created"
            } else {
                "directory_account_linked"
            })
            .subject(&identity_id)
            .context(ctx)
            .details(json!({ "dn": e.dn, "username": e.username })),
        )
        .await?;
    tx.commit().await?;
    Ok(Some(identity_id))
}
