//! Parsing of authorization requests (OIDC Core §3.1.2.1, RFC 7636, RFC 9126) and the one
//! decision function that compares a session with what the client and request demand.

use std::sync::Arc;

use super::client::{Client, GrantType};
use super::params::Params;
use super::refusal::AuthzRefusal;
use crate::authn::{Level, Method};
use crate::config::FederationSettings;
use crate::protocol::{AcrLadder, Prompt, PromptSet, RedirectUri, Scope, ScopeSet};
use crate::session::Session;

/// How the response goes back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Arc<Client>,
    pub redirect_uri: RedirectUri,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: ScopeSet,
    pub code_challenge: Option<String>,
    pub prompt: PromptSet,
    pub max_age: Option<i64>,
    pub min_level: Option<Level>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// Pro Santé Connect's profile, when the client is its broker (see
    /// [`AuthRequest::with_federation`]).
    pub federation: Option<FederationRule>,
}

/// What Pro Santé Connect's broker demands of every login on top of the client policy (psc.md,
/// "Trousseau as third-party IdP of PSC"; `[psc.federation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FederationRule {
    /// The oldest authentication accepted, in seconds.
    pub max_auth_age: i64,
    /// Only an account with a valid pairing is federated.
    pub require_pairing: bool,
}

/// Where an error can be sent back, once the redirect URI is known to be registered.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    pub redirect_uri: RedirectUri,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub client_id: String,
}

/// Why a request cannot be served.
#[derive(Debug)]
pub enum RequestError {
    /// No trustworthy redirect URI: show the HTML error page.
    Page {
        reason: AuthzRefusal,
        bad_redirect: bool,
        client_id: Option<String>,
    },
    /// Report to the client at its registered redirect URI.
    Redirect {
        to: Box<ReplyTo>,
        reason: AuthzRefusal,
        description: String,
    },
}

/// The authorization request parameters Trousseau reads, each with the longest value it
/// accepts, in bytes (docs/oidc.md lists them). Others are ignored and never stored.
pub const PARAMETER_BOUNDS: &[(&str, usize)] = &[
    ("client_id", 255),
    ("redirect_uri", 2048),
    ("response_type", 64),
    ("response_mode", 32),
    ("scope", 1024),
    ("state", 512),
    ("nonce", 512),
    ("code_challenge", 128),
    ("code_challenge_method", 16),
    ("prompt", 64),
    ("max_age", 10),
    ("acr_values", 256),
    ("login_hint", 256),
    ("ui_locales", 64),
    ("request_uri", 256),
];

fn bound_of(name: &str) -> Option<usize> {
    PARAMETER_BOUNDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, max)| *max)
}

/// The first known parameter longer than its bound, with that bound.
fn oversized(params: &Params) -> Option<(&'static str, usize)> {
    PARAMETER_BOUNDS
        .iter()
        .find(|(name, max)| params.get(name).is_some_and(|v| v.len() > *max))
        .copied()
}

/// A parameter within its bound (an oversized one is treated as absent where it is echoed).
fn bounded<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .filter(|v| bound_of(name).is_none_or(|max| v.len() <= max))
}

/// Only the parameters a flow or a pushed request needs to keep.
pub fn known_params(params: &Params) -> Params {
    let mut kept = Params::default();
    for (name, _) in PARAMETER_BOUNDS {
        if let Some(v) = params.get(name) {
            kept.insert(name, v.to_owned());
        }
    }
    kept
}

fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Parses and validates a request whose client has been looked up.
pub fn parse(
    client: Option<Arc<Client>>,
    params: &Params,
    levels: &AcrLadder,
) -> Result<AuthRequest, RequestError> {
    let Some(client) = client else {
        return Err(RequestError::Page {
            reason: AuthzRefusal::UnknownClient,
            bad_redirect: false,
            client_id: bounded(params, "client_id").map(str::to_owned),
        });
    };
    let client_id = Some(client.id.to_string());
    if bounded(params, "redirect_uri").is_none() && params.get("redirect_uri").is_some() {
        return Err(RequestError::Page {
            reason: AuthzRefusal::ParameterTooLong,
            bad_redirect: true,
            client_id,
        });
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(RequestError::Page {
            reason: AuthzRefusal::MissingRedirectUri,
            bad_redirect: true,
            client_id,
        });
    };
    // Registered URIs are absolute and without a fragment: one that does not parse as such
    // cannot be registered.
    let Some(redirect_uri) = RedirectUri::new(redirect_uri)
        .ok()
        .filter(|u| client.has_redirect_uri(u))
    else {
        return Err(RequestError::Page {
            reason: AuthzRefusal::UnregisteredRedirectUri,
            bad_redirect: true,
            client_id,
        });
    };
    let response_mode = match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err("response_mode must be query or form_post"),
    };
    let to = ReplyTo {
        redirect_uri: redirect_uri.clone(),
        response_mode: *response_mode.as_ref().unwrap_or(&ResponseMode::Query),
        state: bounded(params, "state").map(str::to_owned),
        client_id: client.id.to_string(),
    };
    let fail = |reason: AuthzRefusal, msg: &str| RequestError::Redirect {
        to: Box::new(to.clone()),
        reason,
        description: msg.to_owned(),
    };
    if let Some((name, max)) = oversized(params) {
        return Err(fail(
            AuthzRefusal::ParameterTooLong,
            &format!("the parameter {name} is longer than {max} bytes"),
        ));
    }
    let response_mode = response_mode.map_err(|m| fail(AuthzRefusal::BadResponseMode, m))?;
    if params.contains("request") {
        return Err(fail(
            AuthzRefusal::RequestObject,
            "request objects are not supported; use pushed authorization requests",
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => {
            return Err(fail(
                AuthzRefusal::MissingResponseType,
                "response_type is missing",
            ));
        }
        Some(_) => {
            return Err(fail(
                AuthzRefusal::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if client.disabled {
        return Err(fail(
            AuthzRefusal::ClientDisabled,
            "this client is disabled",
        ));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            AuthzRefusal::GrantNotAllowed,
            "this client may not use the authorization code flow",
        ));
    }
    // A malformed scope token cannot be among the client's: refused as not allowed.
    let scope = ScopeSet::parse(params.get("scope").unwrap_or("")).map_err(|e| {
        fail(
            AuthzRefusal::ScopeNotAllowed,
            &format!("the scope {} is not allowed for this client", e.0),
        )
    })?;
    if !scope.contains(Scope::OPENID) {
        return Err(fail(
            AuthzRefusal::MissingOpenidScope,
            "the scope must include openid",
        ));
    }
    // The code flow grants person scopes only (each is shown on the consent page); API scopes
    // are for clients acting for themselves.
    if let Some(bad) = scope.iter().find(|s| {
        !client.scopes.iter().any(|c| c == s.as_str()) || !super::scope::is_person_scope(s.as_str())
    }) {
        return Err(fail(
            AuthzRefusal::ScopeNotAllowed,
            &format!("the scope {bad} is not allowed for this client"),
        ));
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                AuthzRefusal::MissingCodeChallenge,
                "code_challenge is missing",
            ));
        }
        (Some(c), m) => {
            if m != Some("S256") {
                return Err(fail(
                    AuthzRefusal::PkceMethodRefused,
                    "code_challenge_method must be S256",
                ));
            }
            if !is_pkce_value(c) {
                return Err(fail(
                    AuthzRefusal::MalformedCodeChallenge,
                    "code_challenge is malformed",
                ));
            }
            Some(c.to_owned())
        }
    };
    if client.require_pkce && code_challenge.is_none() {
        return Err(fail(
            AuthzRefusal::PkceRequired,
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    }
    let prompt = PromptSet::parse(params.get("prompt").unwrap_or(""))
        .map_err(|e| fail(AuthzRefusal::BadPrompt, &e.to_string()))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(fail(
                    AuthzRefusal::BadMaxAge,
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };
    // acr_values lists acceptable levels: the lowest one listed is the floor.
    // Values the ladder does not name are ignored (OIDC Core §3.1.2.1: a voluntary claim).
    let min_level = params
        .get("acr_values")
        .unwrap_or("")
        .split(' ')
        .filter_map(|v| levels.rank(v).and_then(Level::from_index))
        .min();
    Ok(AuthRequest {
        nonce: params.get("nonce").map(str::to_owned),
        state: params.get("state").map(str::to_owned),
        login_hint: params.get("login_hint").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        redirect_uri,
        client,
        response_mode,
        scope,
        code_challenge,
        prompt,
        max_age,
        min_level,
        federation: None,
    })
}

impl AuthRequest {
    pub fn reply_to(&self) -> ReplyTo {
        ReplyTo {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
            client_id: self.client.id.to_string(),
        }
    }

    /// The level this request needs: the client's floor, raised by `acr_values`; the top
    /// level (phishing-resistant multi-factor) for Pro Santé Connect's broker.
    pub fn required_level(&self) -> Level {
        let federation = self.federation.map(|_| Level::Loa3);
        [self.client.policy.min_level, self.min_level, federation]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(Level::Loa1)
    }

    /// The strictest of the client's, the request's and the federation's maximum
    /// authentication age.
    pub fn max_auth_age(&self) -> Option<i64> {
        [
            self.client.policy.max_auth_age,
            self.max_age,
            self.federation.map(|f| f.max_auth_age),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Applies Pro Santé Connect's profile when the client is its broker.
    pub fn with_federation(mut self, settings: &FederationSettings) -> AuthRequest {
        if self.client.policy.psc_broker {
            self.federation = Some(FederationRule {
                max_auth_age: settings.max_auth_age_secs,
                require_pairing: settings.require_pairing,
            });
        }
        self
    }
}

/// Whether a session's proofs are phishing-resistant multi-factor made on this origin: a
/// security key with user verification, a CPS card, or a password plus a security key; never
/// anything proven through Pro Santé Connect (e-CPS).
pub fn phishing_resistant_mfa(s: &Session) -> bool {
    if s.factors.iter().any(|f| f.method == Method::Ecps) {
        return false;
    }
    let has = |m: Method| s.factors.iter().any(|f| f.method == m);
    let key_uv = s
        .factors
        .iter()
        .any(|f| f.method == Method::SecurityKey && f.user_verified);
    let password = has(Method::Password) || has(Method::DirectoryPassword);
    has(Method::Card) || key_uv || (password && has(Method::SecurityKey))
}

/// What the authorization endpoint must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Issue,
    Login,
    Reauthenticate,
    StepUp(Level),
    /// Pro Santé Connect's broker needs a valid pairing: the pairing page, then back here.
    Pair,
    Consent,
    Refuse(AuthzRefusal),
    /// Refused with a page for the person (the helpdesk can act on it), not at the client.
    Stop(AuthzRefusal),
}

/// What already happened for this request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// A stored consent covers the requested scopes.
    pub consented: bool,
    /// The user logged in within this request's flow (satisfies `prompt=login`).
    pub login_done: bool,
    /// The user consented within this request's flow (satisfies `prompt=consent`).
    pub consent_done: bool,
    /// The flow was restarted from another browser: only a login within it will do.
    pub fresh_login_required: bool,
    /// The identity has a valid (active, unexpired) e-CPS pairing.
    pub paired: bool,
    /// The identity's establishment, hence its `tid`, is known (federation only).
    pub establishment_known: bool,
}

/// The one decision function: compares the session with what is demanded.
pub fn decide(
    req: &AuthRequest,
    session: Option<&Session>,
    progress: Progress,
    now: i64,
) -> Decision {
    let Some(s) = session else {
        return if req.prompt.contains(Prompt::None) {
            Decision::Refuse(AuthzRefusal::NoSession)
        } else {
            Decision::Login
        };
    };
    let fresh_login = progress.login_done;
    // A login through Pro Santé Connect never goes back to it, whatever its level.
    if req.federation.is_some() && s.idp().is_some() {
        return Decision::Refuse(AuthzRefusal::PscOriginSession);
    }
    if progress.fresh_login_required && !fresh_login {
        return if req.prompt.contains(Prompt::None) {
            Decision::Refuse(AuthzRefusal::ReauthenticationRequired)
        } else {
            Decision::Reauthenticate
        };
    }
    // max_age=0 means "authenticate now" (OIDC Core §3.1.2.1): a login in this flow satisfies
    // it even within the same second.
    let too_old = req.max_auth_age().is_some_and(|max| {
        if max == 0 {
            !fresh_login
        } else {
            now - s.auth_time > max
        }
    });
    if (req.prompt.contains(Prompt::Login) && !fresh_login) || too_old {
        return if req.prompt.contains(Prompt::None) {
            Decision::Refuse(AuthzRefusal::ReauthenticationRequired)
        } else {
            Decision::Reauthenticate
        };
    }
    let needed = req.required_level();
    let weak_for_psc = req.federation.is_some() && !phishing_resistant_mfa(s);
    if s.level < needed || weak_for_psc {
        return if req.prompt.contains(Prompt::None) {
            Decision::Refuse(AuthzRefusal::LevelTooLow)
        } else {
            Decision::StepUp(needed)
        };
    }
    if let Some(rule) = req.federation {
        if rule.require_pairing && !progress.paired {
            return if req.prompt.contains(Prompt::None) {
                Decision::Refuse(AuthzRefusal::PairingRequired)
            } else {
                Decision::Pair
            };
        }
        if !progress.establishment_known {
            return Decision::Stop(AuthzRefusal::EstablishmentUnknown);
        }
    }
    // PSC's broker is trusted by the establishment's agreement with the ANS: the professional
    // confirms on PSC's own screens, and a consent page here would break its silent requests.
    let needs_consent = !req.client.first_party
        && !req.client.policy.psc_broker
        && !progress.consent_done
        && (!progress.consented || req.prompt.contains(Prompt::Consent));
    if needs_consent {
        return if req.prompt.contains(Prompt::None) {
            Decision::Refuse(AuthzRefusal::ConsentRequired)
        } else {
            Decision::Consent
        };
    }
    Decision::Issue
}

#[cfg(test)]
mod tests;
