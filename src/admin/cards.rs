//! CPS cards: block one card at once (without waiting for the national CRL), bind a
//! structure card to an identity, pre-register the IdNat a first card login will link.

use serde_json::json;

use super::AdminError;
use super::users::find;
use crate::audit::{AuditEvent, RequestContext};
use crate::identity::IdNat;
use crate::session;
use crate::state::AppState;
use crate::storage::{cards, links};

/// A serial number as `cps list` prints it: upper-case hexadecimal, no separators, no
/// leading zeros.
pub fn normalise_serial(serial: &str) -> Result<String, AdminError> {
    let hex: String = serial
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect::<String>()
        .trim_start_matches("0x")
        .to_ascii_uppercase();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AdminError::Invalid(format!(
            "{serial:?} is not a hexadecimal serial number (as `trousseau cps list` prints it)"
        )));
    }
    let trimmed = hex.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    // Whole bytes, as the certificate's DER holds them.
    Ok(if trimmed.len() % 2 == 1 {
        format!("0{trimmed}")
    } else {
        trimmed.to_owned()
    })
}

/// Blocks a card and ends the sessions of the identity it reached; false when it was
/// already blocked.
pub async fn block(
    state: &AppState,
    issuer: &str,
    serial: &str,
    reason: &str,
    actor: &str,
) -> Result<bool, AdminError> {
    let serial = normalise_serial(serial)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let done = cards::block(&mut tx, issuer, &serial, actor, reason, now).await?;
    let ev = AuditEvent::success("card_blocked")
        .actor(actor)
        .reason(reason.to_owned())
        .details(json!({ "issuer": issuer, "serial": serial, "already": !done }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    if let Some(id) = cards::find(state.db.pool(), issuer, &serial)
        .await?
        .and_then(|c| c.identity_id)
    {
        session::end_all(
            &state.sessions(),
            &id,
            "card_blocked",
            &RequestContext::default(),
        )
        .await?;
    }
    Ok(done)
}

pub async fn unblock(
    state: &AppState,
    issuer: &str,
    serial: &str,
    actor: &str,
) -> Result<(), AdminError> {
    let serial = normalise_serial(serial)?;
    let mut tx = state.db.begin().await?;
    if !cards::unblock(&mut tx, issuer, &serial).await? {
        return Err(AdminError::NotFound(format!(
            "no blocked card {serial} of {issuer}: see `trousseau cps list`"
        )));
    }
    let ev = AuditEvent::success("card_unblocked")
        .actor(actor)
        .details(json!({ "issuer": issuer, "serial": serial }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// Binds a structure card (its `3<FINESS>/<id>` or `5<SIRET>/<id>` identifier) to an identity.
pub async fn bind(state: &AppState, idnat: &str, who: &str, actor: &str) -> Result<(), AdminError> {
    let idnat = IdNat::parse(idnat).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if idnat.is_personal() {
        return Err(AdminError::Invalid(format!(
            "{idnat} is a personal card's IdNat: link it with `trousseau user link-rpps` or \
             `trousseau cps expect`"
        )));
    }
    let i = find(state, who).await?;
    let mut tx = state.db.begin().await?;
    cards::bind(&mut tx, idnat.as_str(), &i.id, actor, state.clock.now()).await?;
    let ev = AuditEvent::success("card_bound")
        .actor(actor)
        .subject(&i.id)
        .details(json!({ "idnat": idnat }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// Pre-registers the IdNat whose first card login links this identity.
pub async fn expect(
    state: &AppState,
    who: &str,
    idnat: &str,
    actor: &str,
) -> Result<(), AdminError> {
    let idnat = IdNat::parse(idnat).map_err(|e| AdminError::Invalid(e.to_string()))?;
    if !idnat.is_personal() {
        return Err(AdminError::Invalid(format!(
            "{idnat} is a structure card's identifier: use `trousseau cps bind`"
        )));
    }
    let i = find(state, who).await?;
    if let Some(l) = links::of_identity(state.db.pool(), &i.id).await? {
        return Err(AdminError::Conflict(format!(
            "{} is already linked to {}",
            i.username, l.idnat
        )));
    }
    if let Some(l) = links::by_idnat(state.db.pool(), idnat.as_str()).await? {
        return Err(AdminError::Conflict(format!(
            "{idnat} is already linked to another identity ({})",
            l.identity_id
        )));
    }
    let mut tx = state.db.begin().await?;
    cards::expect(&mut tx, idnat.as_str(), &i.id, actor, state.clock.now()).await?;
    let ev = AuditEvent::success("card_expected")
        .actor(actor)
        .subject(&i.id)
        .details(json!({ "idnat": idnat }));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalise_serial;

    #[test]
    fn serials() {
        assert_eq!(normalise_serial("0a:1B:ff").unwrap(), "0A1BFF");
        assert_eq!(normalise_serial("00A1").unwrap(), "A1");
        assert_eq!(normalise_serial("abc").unwrap(), "0ABC");
        assert!(normalise_serial("xyz").is_err());
        assert!(normalise_serial("").is_err());
    }
}
