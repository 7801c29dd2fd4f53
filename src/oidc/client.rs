//! Relying parties as the provider sees them: parsed once from storage into typed values, and
//! cached for a second so that CLI changes reach a running server within that time.

use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::keys::SigningAlg;
use crate::authn::Level;
use crate::protocol::{AcrLadder, ClientId, RedirectUri};
use crate::storage::clients::{self, ClientRecord};
use crate::storage::{Db, from_json_list};

/// OAuth grant types a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "authorization_code" => Ok(GrantType::AuthorizationCode),
            "refresh_token" => Ok(GrantType::RefreshToken),
            "client_credentials" => Ok(GrantType::ClientCredentials),
            other => Err(format!(
                "unknown grant {other}: use authorization_code, refresh_token or client_credentials"
            )),
        }
    }
}

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// A shared secret, by HTTP Basic or in the form body.
    ClientSecret,
    /// A JWT signed with one of the client's registered keys (RFC 7523).
    PrivateKeyJwt,
    /// Public client: no authentication, PKCE mandatory.
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecret => "client_secret_basic",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::None => "none",
        }
    }
    pub fn parse(s: &str) -> ClientAuthMethod {
        match s {
            "private_key_jwt" => ClientAuthMethod::PrivateKeyJwt,
            "none" => ClientAuthMethod::None,
            _ => ClientAuthMethod::ClientSecret,
        }
    }
}

/// What a client demands of every login it receives (design.md, "Client policy").
#[derive(Debug, Clone, Default)]
pub struct ClientPolicy {
    pub min_level: Option<Level>,
    pub max_auth_age: Option<i64>,
    /// Pro Santé Connect's broker: the federation profile applies on top (phishing-resistant
    /// multi-factor, `psc.federation` age and pairing, never an e-CPS session) and its ID
    /// tokens carry `oid` and `tid` (docs/psc.md, "Federation").
    pub psc_broker: bool,
}

/// A registered relying party.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub secret_hash: Option<String>,
    pub auth_method: ClientAuthMethod,
    pub jwks: Option<Value>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grants: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub signing_alg: SigningAlg,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub require_pkce: bool,
    pub policy: ClientPolicy,
    /// A resource server: introspection tells it about every client's access tokens.
    pub introspect: bool,
    /// Disabled by an administrator: no login starts for it, no token is issued to it.
    pub disabled: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == ClientAuthMethod::None
    }
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }
    /// Exact, character-for-character redirect URI matching.
    pub fn has_redirect_uri(&self, uri: &RedirectUri) -> bool {
        self.redirect_uris.iter().any(|r| uri.matches(r))
    }

    pub fn from_record(r: &ClientRecord, levels: &AcrLadder) -> Client {
        let min_level = r
            .min_acr
            .as_deref()
            .and_then(|name| levels.rank(name))
            .and_then(Level::from_index);
        Client {
            id: r.id.clone(),
            name: r.name.clone(),
            secret_hash: r.secret_hash.clone(),
            auth_method: if r.public != 0 {
                ClientAuthMethod::None
            } else {
                ClientAuthMethod::parse(&r.auth_method)
            },
            jwks: r.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            redirect_uris: from_json_list(&r.redirect_uris),
            post_logout_redirect_uris: from_json_list(&r.post_logout_redirect_uris),
            grants: from_json_list(&r.grants)
                .iter()
                .filter_map(|g| g.parse().ok())
                .collect(),
            scopes: from_json_list(&r.scopes),
            signing_alg: r.signing_alg.parse().unwrap_or(SigningAlg::Rs256),
            backchannel_logout_uri: r.backchannel_logout_uri.clone(),
            first_party: r.first_party != 0,
            require_pkce: r.require_pkce != 0 || r.public != 0,
            policy: ClientPolicy {
                min_level,
                max_auth_age: r.max_auth_age,
                psc_broker: r.psc_broker != 0,
            },
            introspect: r.introspect != 0 && r.public == 0,
            disabled: r.disabled_at.is_some(),
        }
    }
}

/// When a client was read, and what was found.
type CacheEntry = (Instant, Option<Arc<Client>>);

const TTL: Duration = Duration::from_secs(1);

/// Clients by id, each entry trusted for one second.
#[derive(Debug)]
pub struct ClientCache {
    db: Db,
    levels: AcrLadder,
    entries: RwLock<HashMap<String, CacheEntry>>,
}

impl ClientCache {
    pub fn new(db: Db, levels: AcrLadder) -> ClientCache {
        ClientCache {
            db,
            levels,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Arc<Client>>, sqlx::Error> {
        if let Ok(map) = self.entries.read()
            && let Some((at, client)) = map.get(id)
            && at.elapsed() < TTL
        {
            return Ok(client.clone());
        }
        let client = clients::by_id(self.db.pool(), id)
            .await?
            .map(|r| Arc::new(Client::from_record(&r, &self.levels)));
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(id.to_owned(), (Instant::now(), client.clone()));
        }
        Ok(client)
    }

    /// Drops what is known of a client, so that a change made by this process applies to the
    /// next request rather than after the cache's second.
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(id);
        }
    }
}
