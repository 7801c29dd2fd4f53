//! PSC's protocol values as `openidconnect` types: the discovery document with PSC's extra
//! endpoints, the ID token with PSC's claims, and the endpoints in use.

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGenderClaim,
    CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalClaims, AdditionalProviderMetadata, IdToken, ProviderMetadata};
use serde::{Deserialize, Serialize};
use url::Url;

/// PSC's discovery entries beyond OpenID Connect Discovery 1.0.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PscDiscoveryExtra {
    /// CIBA (OpenID CIBA Core §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_endpoint: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<Url>,
}

impl AdditionalProviderMetadata for PscDiscoveryExtra {}

/// PSC's discovery document (`/.well-known/wallet-openid-configuration`).
pub type PscProviderMetadata = ProviderMetadata<
    PscDiscoveryExtra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// PSC's own claims of an ID token (psc.md, "PSC claims"); the others are read from the
/// verified payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PscClaims {
    /// The professional's national identifier (IdNat).
    #[serde(
        rename = "SubjectNameID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_name_id: Option<String>,
}

impl AdditionalClaims for PscClaims {}

/// An ID token of PSC.
pub type PscIdToken =
    IdToken<PscClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The endpoints in use: each override, else the discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: Url,
    pub token: Url,
    pub userinfo: Option<Url>,
    pub jwks: Url,
    pub ciba: Option<Url>,
    pub end_session: Option<Url>,
    pub introspection: Option<Url>,
}
