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

/// One refused field of a client's description: the field as the API and the console name it
/// (the keys of [`describe`]), a stable code (audited, translated by the console) and a message
/// naming the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
    /// The value refused, when the field holds several (a URI, a scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl SpecError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> SpecError {
        SpecError {
            field,
            code,
            message: message.into(),
            value: None,
        }
    }

    fn of(mut self, value: &str) -> SpecError {
        self.value = Some(value.to_owned());
        self
    }
}

/// Every refusal of a spec in one message, as the CLI prints it.
fn invalid(errors: Vec<SpecError>) -> AdminError {
    let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
    AdminError::Invalid(messages.join("; "))
}

/// Why a redirect-type URI is refused, if it is: it must be absolute, without a fragment or a
/// wildcard (matching is exact), and HTTPS except on loopback hosts.
fn uri_refusal(uri: &str, what: &str) -> Option<(&'static str, String)> {
    let Ok(url) = url::Url::parse(uri) else {
        return Some((
            "uri_not_absolute",
            format!("{what} {uri} is not an absolute URL"),
        ));
    };
    if url.fragment().is_some() {
        let msg = format!("{what} {uri} must not contain a fragment (#)");
        return Some(("uri_fragment", msg));
    }
    if uri.contains('*') {
        let msg = format!("{what} {uri} must not contain a wildcard (*): URIs match exactly");
        return Some(("uri_wildcard", msg));
    }
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        "http" => Some((
            "uri_http",
            format!("{what} {uri} must use https (http is allowed only on localhost)"),
        )),
        other => Some((
            "uri_scheme",
            format!("{what} {uri} uses the scheme {other}: use https"),
        )),
    }
}

/// Checks a redirect-type URI: absolute, no fragment, no wildcard, HTTPS except on loopback
/// hosts.
pub fn check_uri(uri: &str, what: &str) -> Result<(), AdminError> {
    match uri_refusal(uri, what) {
        Some((_, message)) => Err(AdminError::Invalid(message)),
        None => Ok(()),
    }
}

fn check_id(id: &str) -> Result<ClientId, SpecError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    let refused = || {
        SpecError::new(
            "client_id",
            "id_invalid",
            format!(
                "the client id {id:?} must be 1 to 128 characters among letters, digits and - . _ :"
            ),
        )
    };
    if !ok {
        return Err(refused());
    }
    ClientId::new(id).map_err(|_| refused())
}

/// Every scope is known: a person scope (shown on the consent page), or an API scope of a
/// client allowed `client_credentials` (the code flow never grants those).
fn check_scopes(spec: &ClientSpec, errors: &mut Vec<SpecError>) {
    use crate::oidc::scope::{PERSON_SCOPES, is_person_scope};
    let machine = spec.grants.contains(&GrantType::ClientCredentials);
    for s in &spec.scopes {
        if !Scope::is_token(s) {
            errors.push(
                SpecError::new(
                    "scopes",
                    "scope_invalid",
                    format!(
                        "the scope {s:?} is not a valid scope name (1 to 128 printable ASCII \
                     characters, no space, quote or backslash)"
                    ),
                )
                .of(s),
            );
        } else if !is_person_scope(s) && !machine {
            errors.push(
                SpecError::new(
                    "scopes",
                    "scope_unknown",
                    format!(
                        "unknown scope {s}: a client signing people in may have {}; other (API) \
                     scopes are for clients with --grant client_credentials",
                        PERSON_SCOPES.join(", ")
                    ),
                )
                .of(s),
            );
        }
    }
}

/// The redirect-type URIs of a spec, each refused one reported on its field.
fn check_uris(spec: &ClientSpec, errors: &mut Vec<SpecError>) {
    let lists = [
        ("redirect_uris", "redirect URI", &spec.redirect_uris),
        (
            "post_logout_redirect_uris",
            "post-logout redirect URI",
            &spec.post_logout_redirect_uris,
        ),
    ];
    for (field, what, uris) in lists {
        for u in uris {
            if let Some((code, message)) = uri_refusal(u, what) {
                errors.push(SpecError::new(field, code, message).of(u));
            }
        }
    }
    if let Some(u) = &spec.backchannel_logout_uri
        && let Some((code, message)) = uri_refusal(u, "back-channel logout URI")
    {
        errors.push(SpecError::new("backchannel_logout_uri", code, message).of(u));
    }
}

/// The rules that tie the fields together: what a public client or PSC's broker may be.
fn check_profile(spec: &ClientSpec, errors: &mut Vec<SpecError>) {
    let code_flow = spec.grants.contains(&GrantType::AuthorizationCode);
    let rules: [(bool, &'static str, &'static str, &str); 7] = [
        (
            spec.grants.is_empty(),
            "grant_types",
            "grants_empty",
            "give at least one --grant",
        ),
        (
            code_flow && spec.redirect_uris.is_empty(),
            "redirect_uris",
            "redirect_uri_missing",
            "a client using authorization_code needs at least one --redirect-uri",
        ),
        (
            spec.public && !spec.require_pkce,
            "require_pkce",
            "public_without_pkce",
            "a public client cannot go without PKCE: remove --no-pkce",
        ),
        (
            spec.public && spec.introspect,
            "introspect",
            "public_introspect",
            "a public client cannot introspect tokens: remove --introspect",
        ),
        (
            spec.public && spec.grants.contains(&GrantType::ClientCredentials),
            "grant_types",
            "public_client_credentials",
            "a public client cannot use client_credentials",
        ),
        (
            spec.psc_broker && spec.public,
            "psc_broker",
            "psc_broker_public",
            "Pro Santé Connect is a confidential client: remove --public or --psc-broker",
        ),
        (
            spec.psc_broker && !code_flow,
            "psc_broker",
            "psc_broker_code_flow",
            "Pro Santé Connect's broker uses the authorization code flow: add --grant \
             authorization_code",
        ),
    ];
    for (broken, field, code, message) in rules {
        if broken {
            errors.push(SpecError::new(field, code, message));
        }
    }
}

/// Checks a spec: its client id, or every field refused (the CLI, the console and the admin API
/// all call this, through [`create`] and [`update`] or directly to show each field's refusal).
pub fn check(state: &AppState, spec: &ClientSpec) -> Result<ClientId, Vec<SpecError>> {
    let mut errors = Vec::new();
    let id = check_id(&spec.id).map_err(|e| errors.push(e)).ok();
    if spec.name.trim().is_empty() {
        errors.push(SpecError::new(
            "name",
            "name_empty",
            "the client name is empty: give --name",
        ));
    }
    check_uris(spec, &mut errors);
    check_profile(spec, &mut errors);
    check_scopes(spec, &mut errors);
    if let Some(jwks) = &spec.jwks
        && jwks
            .get("keys")
            .and_then(Value::as_array)
            .is_none_or(|k| k.is_empty())
    {
        errors.push(SpecError::new(
            "jwks",
            "jwks_invalid",
            "the JWKS must be an object with a non-empty \"keys\" array",
        ));
    }
    if let Some(acr) = &spec.min_acr
        && !state.settings.session.levels.contains(acr)
    {
        errors.push(SpecError::new(
            "min_acr",
            "level_unknown",
            format!(
                "unknown level {acr}: use one of {}",
                state.settings.session.levels.join(", ")
            ),
        ));
    }
    if spec.max_auth_age.is_some_and(|a| a <= 0) {
        errors.push(SpecError::new(
            "max_auth_age",
            "max_auth_age_invalid",
            "the maximum authentication age is a number of seconds above 0",
        ));
    }
    match id {
        Some(id) if errors.is_empty() => Ok(id),
        _ => Err(errors),
    }
}

/// Checks a spec; gives its client id.
fn validate(state: &AppState, spec: &ClientSpec) -> Result<ClientId, AdminError> {
    check(state, spec).map_err(invalid)
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
        disabled_at: None,
        secret_rotated_at: None,
    }
}

/// A new client's spec as the CLI's defaults make it: confidential, the code flow with
/// refresh tokens, every person scope, RS256, PKCE required.
pub fn default_spec(id: &str) -> ClientSpec {
    ClientSpec {
        id: id.to_owned(),
        name: String::new(),
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        public: false,
        grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: crate::oidc::scope::PERSON_SCOPES
            .map(str::to_owned)
            .to_vec(),
        signing_alg: SigningAlg::Rs256,
        backchannel_logout_uri: None,
        first_party: false,
        require_pkce: true,
        jwks: None,
        min_acr: None,
        max_auth_age: None,
        introspect: false,
        psc_broker: false,
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
    let mut rec = record(id, spec, secret.as_deref().map(hash_secret), now, now);
    rec.secret_rotated_at = secret.is_some().then_some(now);
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
    state.clients.forget(&spec.id);
    Ok(secret)
}

/// Rewrites a client from a full spec (the CLI merges the changes into the current spec);
/// gives the client as stored. Whether it is disabled does not change.
pub async fn update(
    state: &AppState,
    spec: &ClientSpec,
    actor: &str,
) -> Result<ClientRecord, AdminError> {
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
    let with_secret = keep_secret.is_none();
    let mut rec = record(id, spec, keep_secret, current.created_at, now);
    rec.disabled_at = current.disabled_at;
    rec.secret_rotated_at = rec
        .secret_hash
        .is_some()
        .then_some(current.secret_rotated_at)
        .flatten();
    let mut tx = state.db.begin().await?;
    if !clients::update(&mut tx, &rec, with_secret).await? {
        return Err(gone(&spec.id));
    }
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
    state.clients.forget(&spec.id);
    Ok(rec)
}

/// Replaces the secret of a confidential client; the old one stops working at once.
pub async fn rotate_secret(state: &AppState, id: &str, actor: &str) -> Result<String, AdminError> {
    let rec = get(state, id).await?;
    let no_secret = || {
        AdminError::Invalid(format!(
            "the client {id} does not authenticate with a secret"
        ))
    };
    if rec.public != 0 || rec.auth_method == "private_key_jwt" {
        return Err(no_secret());
    }
    let secret = random_token(32);
    let mut tx = state.db.begin().await?;
    // Only the secret's columns: an edit or a disabling landing meanwhile is kept.
    if !clients::set_secret(&mut tx, id, &hash_secret(&secret), state.clock.now()).await? {
        return Err(no_secret());
    }
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
    state.clients.forget(id);
    Ok(secret)
}

/// Disables a client (it can no longer start a login nor obtain tokens) or enables it again;
/// gives the client before and after. Asking for the state it already has changes nothing.
pub async fn set_disabled(
    state: &AppState,
    id: &str,
    disabled: bool,
    actor: &str,
) -> Result<(ClientRecord, ClientRecord), AdminError> {
    let before = get(state, id).await?;
    if before.disabled_at.is_some() == disabled {
        return Ok((before.clone(), before));
    }
    let now = state.clock.now();
    let mut after = before.clone();
    after.disabled_at = disabled.then_some(now);
    after.updated_at = now;
    let kind = if disabled {
        "client_disabled"
    } else {
        "client_enabled"
    };
    let mut tx = state.db.begin().await?;
    if !clients::set_disabled(&mut tx, id, after.disabled_at, now).await? {
        // Another administrator did the same meanwhile: nothing changes twice.
        let now_rec = get(state, id).await?;
        return Ok((now_rec.clone(), now_rec));
    }
    let ev = AuditEvent::success(kind).actor(actor).client(id);
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    state.clients.forget(id);
    Ok((before, after))
}

pub async fn delete(state: &AppState, id: &str, actor: &str) -> Result<(), AdminError> {
    let mut tx = state.db.begin().await?;
    if !clients::delete(&mut tx, id).await? {
        return Err(gone(id));
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
    state.clients.forget(id);
    Ok(())
}

pub async fn get(state: &AppState, id: &str) -> Result<ClientRecord, AdminError> {
    clients::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| gone(id))
}

/// The refusal for a client id that does not exist (or no longer does).
fn gone(id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "no client with id {id}: see `trousseau client list`"
    ))
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
        "disabled": r.disabled_at.is_some(),
        "disabled_at": r.disabled_at,
        "secret_rotated_at": r.secret_rotated_at,
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
        assert!(check_uri("https://*.chu.fr/cb", "x").is_err());
        assert!(check_uri("https://dpi.chu.fr/*", "x").is_err());
    }
}
