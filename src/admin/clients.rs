//! Registering and changing relying parties: strict redirect URIs, random secrets of 256 bits
//! stored as SHA-256, audited changes.

use serde_json::{Value, json};

use super::AdminError;
use crate::audit::AuditEvent;
use crate::crypto::{hash_secret, random_token};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::protocol::{ClientId, Scope};
use crate::state::AppState;
use crate::storage::clients::{self, ClientRecord};
use crate::storage::{is_unique_violation, to_json_list};

/// Everything that describes a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grants: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub signing_alg: SigningAlg,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub require_pkce: bool,
    pub jwks: Option<Value>,
    pub min_acr: Option<String>,
    pub max_auth_age: Option<i64>,
    /// A resource server, allowed to introspect every client's access tokens.
    pub introspect: bool,
    /// Pro Santé Connect's broker: the federation profile and claims apply.
    pub psc_broker: bool,
}

/// Checks a redirect-type URI: absolute, no fragment, HTTPS except on loopback hosts.
pub fn check_uri(uri: &str, what: &str) -> Result<(), AdminError> {
    let url = url::Url::parse(uri)
        .map_err(|_| AdminError::Invalid(format!("{what} {uri} is not an absolute URL")))?;
    if url.fragment().is_some() {
        return Err(AdminError::Invalid(format!(
            "{what} {uri} must not contain a fragment (#)"
        )));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(AdminError::Invalid(format!(
            "{what} {uri} must use https (http is allowed only on localhost)"
        ))),
        other => Err(AdminError::Invalid(format!(
            "{what} {uri} uses the scheme {other}: use https"
        ))),
    }
}

fn check_id(id: &str) -> Result<ClientId, AdminError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    let refused = || {
        AdminError::Invalid(format!(
            "the client id {id:?} must be 1 to 128 characters among letters, digits and - . _ :"
        ))
    };
    if !ok {
        return Err(refused());
    }
    ClientId::new(id).map_err(|_| refused())
}

/// Every scope is known: a person scope (shown on the consent page), or an API scope of a
/// client allowed `client_credentials` (the code flow never grants those).
fn check_scopes(spec: &ClientSpec) -> Result<(), AdminError> {
    use crate::oidc::scope::{PERSON_SCOPES, is_person_scope};
    let machine = spec.grants.contains(&GrantType::ClientCredentials);
    for s in &spec.scopes {
        if !Scope::is_token(s) {
            return Err(AdminError::Invalid(format!(
                "the scope {s:?} is not a valid scope name (1 to 128 printable ASCII \
                 characters, no space, quote or backslash)"
            )));
        }
        if !is_person_scope(s) && !machine {
            return Err(AdminError::Invalid(format!(
                "unknown scope {s}: a client signing people in may have {}; other (API) \
                 scopes are for clients with --grant client_credentials",
                PERSON_SCOPES.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks a spec; gives its client id.
fn validate(state: &AppState, spec: &ClientSpec) -> Result<ClientId, AdminError> {
    let id = check_id(&spec.id)?;
    if spec.name.trim().is_empty() {
        return Err(AdminError::Invalid(
            "the client name is empty: give --name".into(),
        ));
    }
    for u in &spec.redirect_uris {
        check_uri(u, "redirect URI")?;
    }
    for u in &spec.post_logout_redirect_uris {
        check_uri(u, "post-logout redirect URI")?;
    }
    if let Some(u) = &spec.backchannel_logout_uri {
        check_uri(u, "back-channel logout URI")?;
    }
    if spec.grants.contains(&GrantType::AuthorizationCode) && spec.redirect_uris.is_empty() {
        return Err(AdminError::Invalid(
            "a client using authorization_code needs at least one --redirect-uri".into(),
        ));
    }
    if spec.public && !spec.require_pkce {
        return Err(AdminError::Invalid(
            "a public client cannot go without PKCE: remove --no-pkce".into(),
        ));
    }
    if spec.public && spec.introspect {
        return Err(AdminError::Invalid(
            "a public client cannot introspect tokens: remove --introspect".into(),
        ));
    }
    if spec.public && spec.grants.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::Invalid(
            "a public client cannot use client_credentials".into(),
        ));
    }
    if spec.psc_broker && spec.public {
        return Err(AdminError::Invalid(
            "Pro Santé Connect is a confidential client: remove --public or --psc-broker".into(),
        ));
    }
    if spec.psc_broker && !spec.grants.contains(&GrantType::AuthorizationCode) {
        return Err(AdminError::Invalid(
            "Pro Santé Connect's broker uses the authorization code flow: add --grant \
             authorization_code"
                .into(),
        ));
    }
    if spec.grants.is_empty() {
        return Err(AdminError::Invalid("give at least one --grant".into()));
    }
    check_scopes(spec)?;
    if let Some(jwks) = &spec.jwks
        && jwks
            .get("keys")
            .and_then(Value::as_array)
            .is_none_or(|k| k.is_empty())
    {
        return Err(AdminError::Invalid(
            "the JWKS must be an object with a non-empty \"keys\" array".into(),
        ));
    }
    if let Some(acr) = &spec.min_acr
        && !state.settings.session.levels.contains(acr)
    {
        return Err(AdminError::Invalid(format!(
            "unknown level {acr}: use one of {}",
            state.settings.session.levels.join(", ")
        )));
    }
    Ok(id)
}

fn record(
    id: ClientId,
    spec: &ClientSpec,
    secret_hash: Option<String>,
    created_at: i64,
    now: i64,
) -> ClientRecord {
    ClientRecord {
        id,
        name: spec.name.clone(),
        secret_hash,
        public: i64::from(spec.public),
        auth_method: if spec.public {
            "none"
        } else if spec.jwks.is_some() {
            "private_key_jwt"
        } else {
            "client_secret_basic"
        }
        .to_owned(),
        jwks: spec.jwks.as_ref().map(Value::to_string),
        redirect_uris: to_json_list(&spec.redirect_uris),
        post_logout_redirect_uris: to_json_list(&spec.post_logout_redirect_uris),
        grants: to_json_list(
            &spec
                .grants
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect::<Vec<_>>(),
        ),
        scopes: to_json_list(&spec.scopes),
        signing_alg: spec.signing_alg.as_str().to_owned(),
        backchannel_logout_uri: spec.backchannel_logout_uri.clone(),
        first_party: i64::from(spec.first_party),
        require_pkce: i64::from(spec.require_pkce || spec.public),
        min_acr: spec.min_acr.clone(),
        max_auth_age: spec.max_auth_age,
        introspect: i64::from(spec.introspect),
        psc_broker: i64::from(spec.psc_broker),
        created_at,
        updated_at: now,
    }
}

/// Registers a client; returns its secret (shown once) when it is confidential with a secret.
pub async fn create(
    state: &AppState,
    spec: &ClientSpec,
    actor: &str,
) -> Result<Option<String>, AdminError> {
    let id = validate(state, spec)?;
    let now = state.clock.now();
    let secret = (!spec.public && spec.jwks.is_none()).then(|| random_token(32));
    let rec = record(id, spec, secret.as_deref().map(hash_secret), now, now);
    let mut tx = state.db.begin().await?;
    match clients::insert(&mut tx, &rec).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(AdminError::Conflict(format!(
                "a client with id {} already exists: choose another --id or use `client update`",
                spec.id
            )));
        }
        other => other?,
    }
    let ev = AuditEvent::success("client_created")
        .actor(actor)
        .client(&spec.id)
        .details(describe(&rec));
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(secret)
}

/// Rewrites a client from a full spec (the CLI merges the changes into the current spec).
pub async fn update(state: &AppState, spec: &ClientSpec, actor: &str) -> Result<(), AdminError> {
    let id = validate(state, spec)?;
    let current = get(state, &spec.id).await?;
    let now = state.clock.now();
    let keep_secret = if spec.public || spec.jwks.is_some() {
        None
    } else {
        current.secret_hash.clone()
    };
    if !spec.public && spec.jwks.is_none() && keep_secret.is_none() {
        return Err(AdminError::Invalid(
            "this client has no secret yet: run `client rotate-secret` after the change".into(),
        ));
    }
    let rec = record(id, spec, keep_secret, current.created_at, now);
    let mut tx = state.db.begin().await?;
    clients::update(&mut tx, &rec).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("client_updated")
                .actor(actor)
                .client(&spec.id)
                .details(describe(&rec)),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the secret of a confidential client; the old one stops working at once.
pub async fn rotate_secret(state: &AppState, id: &str, actor: &str) -> Result<String, AdminError> {
    let mut rec = get(state, id).await?;
    if rec.public != 0 || rec.auth_method == "private_key_jwt" {
        return Err(AdminError::Invalid(format!(
            "the client {id} does not authenticate with a secret"
        )));
    }
    let secret = random_token(32);
    rec.secret_hash = Some(hash_secret(&secret));
    rec.auth_method = "client_secret_basic".into();
    rec.updated_at = state.clock.now();
    let mut tx = state.db.begin().await?;
    clients::update(&mut tx, &rec).await?;
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("client_secret_rotated")
                .actor(actor)
                .client(id),
        )
        .await?;
    tx.commit().await?;
    Ok(secret)
}

pub async fn delete(state: &AppState, id: &str, actor: &str) -> Result<(), AdminError> {
    let mut tx = state.db.begin().await?;
    if !clients::delete(&mut tx, id).await? {
        return Err(AdminError::NotFound(format!(
            "no client with id {id}: see `trousseau client list`"
        )));
    }
    state
        .audit
        .in_tx(
            &mut tx,
            AuditEvent::success("client_deleted")
                .actor(actor)
                .client(id),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(state: &AppState, id: &str) -> Result<ClientRecord, AdminError> {
    clients::by_id(state.db.pool(), id).await?.ok_or_else(|| {
        AdminError::NotFound(format!(
            "no client with id {id}: see `trousseau client list`"
        ))
    })
}

pub async fn list(state: &AppState) -> Result<Vec<ClientRecord>, AdminError> {
    Ok(clients::list(state.db.pool()).await?)
}

/// A client as JSON for `show --json` and audit details (never the secret hash).
pub fn describe(r: &ClientRecord) -> Value {
    json!({
        "client_id": r.id,
        "name": r.name,
        "public": r.public != 0,
        "token_endpoint_auth_method": r.auth_method,
        "redirect_uris": crate::storage::from_json_list(&r.redirect_uris),
        "post_logout_redirect_uris": crate::storage::from_json_list(&r.post_logout_redirect_uris),
        "grant_types": crate::storage::from_json_list(&r.grants),
        "scopes": crate::storage::from_json_list(&r.scopes),
        "signing_alg": r.signing_alg,
        "backchannel_logout_uri": r.backchannel_logout_uri,
        "first_party": r.first_party != 0,
        "require_pkce": r.require_pkce != 0,
        "min_acr": r.min_acr,
        "max_auth_age": r.max_auth_age,
        "introspect": r.introspect != 0,
        "psc_broker": r.psc_broker != 0,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

/// The spec a stored client was created from, for partial updates.
pub fn spec_of(r: &ClientRecord) -> ClientSpec {
    ClientSpec {
        id: r.id.to_string(),
        name: r.name.clone(),
        redirect_uris: crate::storage::from_json_list(&r.redirect_uris),
        post_logout_redirect_uris: crate::storage::from_json_list(&r.post_logout_redirect_uris),
        public: r.public != 0,
        grants: crate::storage::from_json_list(&r.grants)
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect(),
        scopes: crate::storage::from_json_list(&r.scopes),
        signing_alg: r.signing_alg.parse().unwrap_or(SigningAlg::Rs256),
        backchannel_logout_uri: r.backchannel_logout_uri.clone(),
        first_party: r.first_party != 0,
        require_pkce: r.require_pkce != 0,
        jwks: r.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
        min_acr: r.min_acr.clone(),
        max_auth_age: r.max_auth_age,
        introspect: r.introspect != 0,
        psc_broker: r.psc_broker != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_strict() {
        assert!(check_uri("https://dpi.chu.fr/cb", "x").is_ok());
        assert!(check_uri("http://localhost:3000/cb", "x").is_ok());
        assert!(check_uri("http://127.0.0.1/cb", "x").is_ok());
        assert!(check_uri("http://dpi.chu.fr/cb", "x").is_err());
        assert!(check_uri("https://dpi.chu.fr/cb#frag", "x").is_err());
        assert!(check_uri("/relative", "x").is_err());
        assert!(check_uri("javascript:alert(1)", "x").is_err());
    }
}
