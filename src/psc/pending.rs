//! Authorizations sent to PSC and waiting for the browser to come back to `/psc/callback`:
//! bound to the browser that started them (the same binding cookie as authorization flows,
//! docs/security.md), single use, short-lived, with the nonce and the sealed PKCE verifier
//! kept server-side.

use url::Url;

use super::{PendingAuthorization, PscError};
use crate::crypto::{ct_eq, hash_secret};
use crate::psc::Ecps;
use crate::storage::psc::{self, PendingRecord};

const VERIFIER_AAD: &[u8] = b"trousseau psc pkce verifier v1";
/// The path PSC sends the browser back to.
pub const CALLBACK_PATH: &str = "/psc/callback";

/// What an authorization to PSC is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// "Se connecter avec e-CPS": continues the authorization flow `flow_id`.
    Login { flow_id: String },
    /// Pairing of the identity with the IdNat PSC proves.
    Pairing { identity_id: String },
}

impl Purpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::Login { .. } => "login",
            Purpose::Pairing { .. } => "pairing",
        }
    }
}

/// A pending authorization taken back at the callback.
#[derive(Debug)]
pub struct Returned {
    pub purpose: Purpose,
    pub authorization: PendingAuthorization,
    pub redirect_uri: String,
    pub source_ip: Option<String>,
}

/// Why a callback matches no pending authorization of this browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRefusal {
    /// No state, an unknown or already used state, or an expired one.
    UnknownState,
    /// The state was started in another browser.
    NotBound,
}

impl CallbackRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            CallbackRefusal::UnknownState => "psc_state_unknown",
            CallbackRefusal::NotBound => "psc_not_bound",
        }
    }
}

/// The callback URL registered with PSC.
pub fn redirect_uri(state: &Ecps<'_>) -> String {
    format!("{}{CALLBACK_PATH}", state.settings.issuer())
}

/// Starts an authorization to PSC for `purpose`, bound to the browser whose binding cookie
/// value is `binding`: the URL to send the browser to.
pub async fn start(
    state: &Ecps<'_>,
    binding: &str,
    purpose: Purpose,
    source_ip: Option<String>,
) -> Result<Url, PscError> {
    let client = state.psc.as_ref().ok_or(PscError::DiscoveryMalformed)?;
    let redirect = redirect_uri(state);
    let (url, auth) = client.authorization_request(&redirect).await?;
    let now = state.clock.now();
    let (flow_id, identity_id) = match &purpose {
        Purpose::Login { flow_id } => (Some(flow_id.clone()), None),
        Purpose::Pairing { identity_id } => (None, Some(identity_id.clone())),
    };
    let record = PendingRecord {
        state_hash: hash_secret(&auth.state),
        purpose: purpose.as_str().to_owned(),
        nonce: auth.nonce,
        pkce_verifier: state
            .master
            .seal(auth.pkce_verifier.as_bytes(), VERIFIER_AAD)?,
        redirect_uri: redirect,
        binding_hash: hash_secret(binding),
        flow_id,
        identity_id,
        source_ip,
        created_at: now,
        expires_at: now + state.settings.psc.pending_ttl_secs,
    };
    psc::insert_pending(state.db.pool(), &record)
        .await
        .map_err(|e| PscError::Unexpected(e.into()))?;
    Ok(url)
}

/// Takes the pending authorization of `state_param` (used once, whatever follows) and checks
/// that this browser (its binding cookie value `binding`) started it.
pub async fn take(
    state: &Ecps<'_>,
    state_param: Option<&str>,
    binding: Option<&str>,
) -> anyhow::Result<Result<Returned, CallbackRefusal>> {
    let Some(s) = state_param.filter(|s| !s.is_empty() && s.len() <= 256) else {
        return Ok(Err(CallbackRefusal::UnknownState));
    };
    let Some(r) = psc::take_pending(state.db.pool(), &hash_secret(s), state.clock.now()).await?
    else {
        return Ok(Err(CallbackRefusal::UnknownState));
    };
    if !binding.is_some_and(|b| ct_eq(&hash_secret(b), &r.binding_hash)) {
        return Ok(Err(CallbackRefusal::NotBound));
    }
    let purpose = match (r.purpose.as_str(), r.flow_id, r.identity_id) {
        ("login", Some(flow_id), _) => Purpose::Login { flow_id },
        ("pairing", _, Some(identity_id)) => Purpose::Pairing { identity_id },
        _ => anyhow::bail!("a pending PSC authorization without its purpose's subject"),
    };
    let verifier = String::from_utf8(state.master.open(&r.pkce_verifier, VERIFIER_AAD)?)?;
    Ok(Ok(Returned {
        purpose,
        authorization: PendingAuthorization {
            state: s.to_owned(),
            nonce: r.nonce,
            pkce_verifier: verifier,
        },
        redirect_uri: r.redirect_uri,
        source_ip: r.source_ip,
    }))
}
