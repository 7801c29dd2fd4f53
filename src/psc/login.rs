//! "Se connecter avec e-CPS": the professional PSC proved must be exactly one active identity
//! through its RPPS link. The decision takes typed values and audits each refusal with a
//! stable reason; the page renders it.

use serde_json::json;

use super::{ProvenIdentity, PscError};
use crate::audit::{AuditEvent, RequestContext};
use crate::identity::Status;
use crate::psc::Ecps;
use crate::storage::{identities, links};

/// Why an e-CPS login is refused.
#[derive(Debug)]
pub enum EcpsRefusal {
    /// The exchange with PSC failed or its answer was refused.
    Psc(PscError),
    /// No identity is linked to the proven IdNat.
    NotLinked,
    /// The linked identity is suspended or has left.
    Inactive,
    /// The callback matches no pending login of this browser.
    Callback(super::pending::CallbackRefusal),
    Unavailable,
}

impl EcpsRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            EcpsRefusal::Psc(e) => e.reason(),
            EcpsRefusal::NotLinked => "ecps_not_linked",
            EcpsRefusal::Inactive => "ecps_identity_inactive",
            EcpsRefusal::Callback(c) => c.reason(),
            EcpsRefusal::Unavailable => "unavailable",
        }
    }

    /// The i18n key of the person's message (`web::psc_texts`).
    pub fn message_key(&self) -> &'static str {
        match self {
            EcpsRefusal::Psc(e) => e.message_key(),
            EcpsRefusal::NotLinked => "ecps_not_linked",
            EcpsRefusal::Inactive => "ecps_identity_inactive",
            EcpsRefusal::Callback(_) => "psc_callback_unknown",
            EcpsRefusal::Unavailable => "psc_misconfigured",
        }
    }
}

/// The identity an e-CPS login opens a session for, or the refusal (audited).
pub async fn decide(
    state: &Ecps<'_>,
    proven: &ProvenIdentity,
    ctx: &RequestContext,
) -> Result<String, EcpsRefusal> {
    let pool = state.db.pool();
    let outcome = async {
        let Some(link) = links::by_idnat(pool, proven.idnat.as_str()).await? else {
            return Ok(Err(EcpsRefusal::NotLinked));
        };
        let Some(identity) = identities::by_id(pool, &link.identity_id).await? else {
            return Ok(Err(EcpsRefusal::NotLinked));
        };
        if identity.status != Status::Active {
            return Ok(Err(EcpsRefusal::Inactive));
        }
        Ok::<_, sqlx::Error>(Ok(identity.id))
    }
    .await;
    match outcome {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(refusal)) => {
            refused(state, &refusal, Some(proven), ctx).await;
            Err(refusal)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look up the e-CPS identity");
            Err(EcpsRefusal::Unavailable)
        }
    }
}

/// Audits a refused e-CPS login.
pub async fn refused(
    state: &Ecps<'_>,
    refusal: &EcpsRefusal,
    proven: Option<&ProvenIdentity>,
    ctx: &RequestContext,
) {
    let mut event = AuditEvent::failure("login", refusal.reason())
        .context(ctx)
        .details(json!({
            "method": "ecps",
            "idnat": proven.map(|p| p.idnat.as_str()),
            "psc_sub": proven.map(|p| p.sub.as_str()),
        }));
    if let Some(p) = proven
        && let Ok(Some(link)) = links::by_idnat(state.db.pool(), p.idnat.as_str()).await
    {
        event = event.subject(link.identity_id);
    }
    state.audit.record(event).await;
}
