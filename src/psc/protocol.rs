//! Pro Santé Connect's protocol values (psc.md): the realm and its paths, the public
//! endpoints of the sandbox (BAS) and of production, scope, acr, CIBA (OpenID Connect CIBA
//! Core 1.0, poll mode) and PSC's claims. The PSC client and the PSC sandbox both speak
//! through these types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::{IdNat, IdNatError};

/// PSC's Keycloak realm.
pub const REALM: &str = "esante-wallet";
/// The issuer's path under a PSC host.
pub const REALM_PATH: &str = "/auth/realms/esante-wallet";

/// Discovery, relative to the issuer (PSC's own, non-standard name).
pub const DISCOVERY_PATH: &str = "/.well-known/wallet-openid-configuration";
/// Token endpoint, relative to the issuer.
pub const TOKEN_PATH: &str = "/protocol/openid-connect/token";
/// Userinfo endpoint, relative to the issuer.
pub const USERINFO_PATH: &str = "/protocol/openid-connect/userinfo";
/// JWKS, relative to the issuer.
pub const JWKS_PATH: &str = "/protocol/openid-connect/certs";
/// Token introspection (RFC 7662), relative to the issuer.
pub const INTROSPECTION_PATH: &str = "/protocol/openid-connect/token/introspect";
/// End session, relative to the issuer.
pub const LOGOUT_PATH: &str = "/protocol/openid-connect/logout";
/// CIBA backchannel authentication endpoint, relative to the issuer.
pub const CIBA_PATH: &str = "/protocol/openid-connect/ext/ciba/auth";
/// The authorization endpoint's path: PSC serves it on a separate "wallet" host (at `/auth`);
/// the sandbox serves it on its own host under this path.
pub const SANDBOX_AUTHORIZE_PATH: &str = "/wallet/auth";

/// PSC's sandbox ("BAS") issuer.
pub const BAS_ISSUER: &str = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet";
/// PSC's sandbox authorization endpoint (separate host).
pub const BAS_AUTHORIZE: &str = "https://wallet.bas.psc.esante.gouv.fr/auth";
/// PSC's production issuer.
pub const PRODUCTION_ISSUER: &str = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet";
/// PSC's production authorization endpoint (separate host).
pub const PRODUCTION_AUTHORIZE: &str = "https://wallet.esw.esante.gouv.fr/auth";

/// The scope every PSC request carries.
pub const SCOPE: &str = "openid scope_all";
/// PSC's own scope, beside `openid`.
pub const SCOPE_ALL: &str = "scope_all";
/// The authentication level PSC requests and asserts.
pub const ACR_EIDAS1: &str = "eidas1";
/// The CIBA grant type (CIBA Core §10.1).
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// The `Palier_Authentification` PSC's public samples carry (with the app and with the card).
pub const PALIER: &str = "APPPRIP3^1.2.250.1.213.1.5.1.1.1";

/// Every endpoint of one PSC environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
    pub introspection: String,
    pub end_session: String,
    pub ciba: String,
    pub discovery: String,
}

impl Endpoints {
    /// The endpoints of an issuer whose other paths follow PSC's realm layout.
    pub fn of_issuer(issuer: &str, authorization: &str) -> Endpoints {
        let issuer = issuer.trim_end_matches('/');
        let at = |path: &str| format!("{issuer}{path}");
        Endpoints {
            issuer: issuer.to_owned(),
            authorization: authorization.to_owned(),
            token: at(TOKEN_PATH),
            userinfo: at(USERINFO_PATH),
            jwks: at(JWKS_PATH),
            introspection: at(INTROSPECTION_PATH),
            end_session: at(LOGOUT_PATH),
            ciba: at(CIBA_PATH),
            discovery: at(DISCOVERY_PATH),
        }
    }

    /// PSC's public sandbox (BAS).
    pub fn bas() -> Endpoints {
        Endpoints::of_issuer(BAS_ISSUER, BAS_AUTHORIZE)
    }

    /// PSC in production.
    pub fn production() -> Endpoints {
        Endpoints::of_issuer(PRODUCTION_ISSUER, PRODUCTION_AUTHORIZE)
    }

    /// A PSC sandbox served from one base URL (`http://127.0.0.1:8090`): the issuer under
    /// [`REALM_PATH`], the authorization endpoint under [`SANDBOX_AUTHORIZE_PATH`].
    pub fn sandbox(base: &str) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints::of_issuer(
            &format!("{base}{REALM_PATH}"),
            &format!("{base}{SANDBOX_AUTHORIZE_PATH}"),
        )
    }
}

/// How the professional is asked to approve a CIBA request (PSC's `channel` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// The e-CPS app on the professional's phone.
    #[serde(rename = "MOBILE")]
    Mobile,
    /// The CPS card, through the CPS-Gestion app.
    #[serde(rename = "CARD")]
    Card,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mobile => "MOBILE",
            Channel::Card => "CARD",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `channel` value PSC does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?} (MOBILE or CARD)")]
pub struct ChannelError(pub String);

impl FromStr for Channel {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "MOBILE" => Ok(Channel::Mobile),
            "CARD" => Ok(Channel::Card),
            other => Err(ChannelError(other.to_owned())),
        }
    }
}

/// The form of a CIBA backchannel authentication request (CIBA Core §7.1, plus PSC's
/// `channel`). Client authentication travels beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CibaRequest {
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// The professional's IdNat.
    pub login_hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

impl CibaRequest {
    /// A request as PSC expects it: scope `openid scope_all`, acr `eidas1`.
    pub fn new(idnat: &IdNat, binding_message: &str, channel: Channel) -> CibaRequest {
        CibaRequest {
            scope: SCOPE.to_owned(),
            acr_values: Some(ACR_EIDAS1.to_owned()),
            login_hint: idnat.to_string(),
            binding_message: Some(binding_message.to_owned()),
            channel: Some(channel),
        }
    }

    /// The `login_hint` as an IdNat.
    pub fn idnat(&self) -> Result<IdNat, IdNatError> {
        IdNat::parse(&self.login_hint)
    }
}

/// The answer to a CIBA backchannel authentication request (CIBA Core §7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CibaStartResponse {
    pub auth_req_id: String,
    /// Seconds until the request expires.
    pub expires_in: u64,
    /// The minimum number of seconds between two polls.
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// OAuth 2.0 and CIBA error codes PSC answers with (RFC 6749 §5.2, RFC 6750, CIBA Core
/// §11 and §13, Keycloak's `unknown_user_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    AccessDenied,
    InvalidClient,
    InvalidRequest,
    InvalidGrant,
    InvalidScope,
    InvalidToken,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnknownUserId,
    ExpiredLoginHint,
    MissingUserCode,
    InvalidBindingMessage,
    TransactionFailed,
    LoginRequired,
    ServerError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::AuthorizationPending,
        ErrorCode::SlowDown,
        ErrorCode::ExpiredToken,
        ErrorCode::AccessDenied,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidGrant,
        ErrorCode::InvalidScope,
        ErrorCode::InvalidToken,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::UnknownUserId,
        ErrorCode::ExpiredLoginHint,
        ErrorCode::MissingUserCode,
        ErrorCode::InvalidBindingMessage,
        ErrorCode::TransactionFailed,
        ErrorCode::LoginRequired,
        ErrorCode::ServerError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::UnknownUserId => "unknown_user_id",
            ErrorCode::ExpiredLoginHint => "expired_login_hint",
            ErrorCode::MissingUserCode => "missing_user_code",
            ErrorCode::InvalidBindingMessage => "invalid_binding_message",
            ErrorCode::TransactionFailed => "transaction_failed",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status of a token or CIBA endpoint answering with this error.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::AccessDenied | ErrorCode::UnauthorizedClient => 403,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// An error answer. `error` stays a string so that a code this list does not know is still
/// read; [`ErrorResponse::code`] gives the known ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            error: code.as_str().to_owned(),
            error_description: Some(description.into()),
        }
    }

    pub fn code(&self) -> Option<ErrorCode> {
        self.error.parse().ok()
    }
}

/// A successful token answer (RFC 6749 §5.1; Keycloak adds `refresh_expires_in` and
/// `session_state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds the access token lives (RECOMMENDED only, RFC 6749 §5.1: 0 when absent).
    #[serde(default)]
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<String>,
}

/// RFC 8705 §5: the endpoints a client reaches with its certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtlsEndpointAliases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_endpoint: Option<String>,
}

/// PSC's discovery document (`wallet-openid-configuration`): the OpenID Connect Discovery
/// fields, plus CIBA's and RFC 8705's. Unknown fields are ignored (PSC publishes more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_endpoint: Option<String>,
    #[serde(default)]
    pub backchannel_token_delivery_modes_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_user_code_parameter_supported: Option<bool>,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub claims_supported: Vec<String>,
    #[serde(default)]
    pub acr_values_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub userinfo_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
}

/// One of the professional's identifiers (`otherIds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherId {
    pub identifiant: String,
    /// `RPPS`, `ADELI`…
    pub origine: String,
    pub qualite: u8,
}

/// A practice situation inside an exercice (one line of the RPPS extraction). PSC sends
/// every field, empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PscActivity {
    pub code_mode_exercice: String,
    pub code_secteur_dactivite: String,
    pub code_section_pharmacien: String,
    pub code_role: String,
    pub code_genre_activite: String,
    pub numero_siret_site: String,
    pub numero_siren_site: String,
    pub numero_finess_site: String,
    #[serde(rename = "numeroFinessetablissementJuridique")]
    pub numero_finess_etablissement_juridique: String,
    pub identifiant_technique_de_la_structure: String,
    pub raison_sociale_site: String,
    pub enseigne_commerciale_site: String,
    pub complement_destinataire: String,
    pub complement_point_geographique: String,
    pub numero_voie: String,
    pub indice_repetition_voie: String,
    pub code_type_de_voie: String,
    pub libelle_voie: String,
    pub mention_distribution: String,
    pub bureau_cedex: String,
    pub code_postal: String,
    pub code_commune: String,
    pub code_pays: String,
    pub telephone: String,
    pub telephone2: String,
    pub telecopie: String,
    #[serde(rename = "adresseEMail")]
    pub adresse_e_mail: String,
    pub code_departement: String,
    pub ancien_identifiant_de_la_structure: String,
    #[serde(rename = "autoriteDenregistrement")]
    pub autorite_denregistrement: String,
}

/// One profession of the professional, with its situations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Exercice {
    pub code_profession: String,
    pub code_categorie_professionnelle: String,
    pub code_civilite_dexercice: String,
    pub nom_dexercice: String,
    pub prenom_dexercice: String,
    pub code_type_savoir_faire: String,
    pub code_savoir_faire: String,
    pub activities: Vec<PscActivity>,
}

/// `SubjectRefPro`: the professional as the RPPS knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubjectRefPro {
    pub code_civilite: String,
    pub exercices: Vec<Exercice>,
}

/// PSC's claims about the professional (userinfo, and the ID token beside the standard ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PscClaims {
    /// The professional's IdNat, as sent; [`PscClaims::idnat`] parses it.
    #[serde(rename = "SubjectNameID")]
    pub subject_name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(
        rename = "codeCivilite",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub code_civilite: Option<String>,
    #[serde(
        rename = "SubjectOrganization",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_organization: Option<String>,
    #[serde(
        rename = "SubjectOrganizationID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_organization_id: Option<String>,
    #[serde(rename = "SubjectRole", default)]
    pub subject_role: Vec<String>,
    #[serde(
        rename = "Palier_Authentification",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub palier_authentification: Option<String>,
    /// How the professional authenticated (`MOBILE`, `CARD`), when PSC says it.
    #[serde(rename = "authMode", default, skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<String>,
    #[serde(rename = "otherIds", default)]
    pub other_ids: Vec<OtherId>,
    #[serde(
        rename = "SubjectRefPro",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_ref_pro: Option<SubjectRefPro>,
}

impl PscClaims {
    /// The professional's IdNat (`SubjectNameID`, else `preferred_username`).
    pub fn idnat(&self) -> Result<IdNat, IdNatError> {
        if self.subject_name_id.is_empty()
            && let Some(p) = &self.preferred_username
        {
            return IdNat::parse(p);
        }
        IdNat::parse(&self.subject_name_id)
    }
}

/// PSC's userinfo answer: `sub` and the PSC claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub claims: PscClaims,
}

/// A subject in PSC's form: `f:<uuid>:<IdNat>`.
pub fn subject(uuid: &str, idnat: &IdNat) -> String {
    format!("f:{uuid}:{idnat}")
}

/// The IdNat at the end of a PSC subject (`f:<uuid>:<IdNat>`).
pub fn subject_idnat(sub: &str) -> Result<IdNat, IdNatError> {
    let tail = sub.rsplit_once(':').map_or(sub, |(_, t)| t);
    IdNat::parse(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_realm_layout() {
        let bas = Endpoints::bas();
        assert_eq!(
            bas.discovery,
            "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
        );
        assert_eq!(
            bas.ciba,
            "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/protocol/openid-connect/ext/ciba/auth"
        );
        assert_eq!(
            Endpoints::production().token,
            "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/protocol/openid-connect/token"
        );
        let local = Endpoints::sandbox("http://127.0.0.1:8090/");
        assert_eq!(
            local.issuer,
            "http://127.0.0.1:8090/auth/realms/esante-wallet"
        );
        assert_eq!(local.authorization, "http://127.0.0.1:8090/wallet/auth");
    }

    #[test]
    fn channels_and_error_codes_round_trip() {
        for c in [Channel::Mobile, Channel::Card] {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert!("mobile".parse::<Channel>().is_err());
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
        let e: ErrorResponse = serde_json::from_str(r#"{"error":"something_new"}"#).unwrap();
        assert_eq!(e.code(), None);
        let e: ErrorResponse = serde_json::from_str(r#"{"error":"slow_down"}"#).unwrap();
        assert_eq!(e.code(), Some(ErrorCode::SlowDown));
    }

    #[test]
    fn claims_read_a_psc_userinfo() {
        let json = r#"{"sub":"f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700218896",
          "preferred_username":"899700218896","SubjectNameID":"899700218896",
          "given_name":"ROBERT","family_name":"TEST","codeCivilite":"M",
          "SubjectRole":["10^1.2.250.1.213.1.1.5.5"],"email_verified":false,
          "Palier_Authentification":"APPPRIP3^1.2.250.1.213.1.5.1.1.1",
          "otherIds":[{"identifiant":"899700218896","origine":"RPPS","qualite":1}],
          "SubjectRefPro":{"codeCivilite":"M","exercices":[{"codeProfession":"10",
            "codeCategorieProfessionnelle":"C","nomDexercice":"TEST","prenomDexercice":"ROBERT",
            "codeTypeSavoirFaire":"S","codeSavoirFaire":"SM54","activities":[
            {"codeModeExercice":"S","codeSecteurDactivite":"SA01","numeroFinessSite":"750712184",
             "numeroFinessetablissementJuridique":"750712176","codePostal":"75013"}]}]}}"#;
        let info: UserInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.claims.idnat().unwrap().as_str(), "899700218896");
        assert_eq!(subject_idnat(&info.sub).unwrap().as_str(), "899700218896");
        let refpro = info.claims.subject_ref_pro.as_ref().unwrap();
        assert_eq!(refpro.exercices[0].code_savoir_faire, "SM54");
        let activity = &refpro.exercices[0].activities[0];
        assert_eq!(activity.numero_finess_etablissement_juridique, "750712176");
        assert_eq!(activity.code_secteur_dactivite, "SA01");
        let back = serde_json::to_value(&info).unwrap();
        assert_eq!(
            back["SubjectRefPro"]["exercices"][0]["activities"][0]["codePostal"],
            "75013"
        );
        assert_eq!(back["otherIds"][0]["origine"], "RPPS");
    }

    #[test]
    fn a_ciba_request_carries_psc_values() {
        let idnat = IdNat::parse("899700218896").unwrap();
        let form =
            serde_urlencoded::to_string(CibaRequest::new(&idnat, "42", Channel::Card)).unwrap();
        assert_eq!(
            form,
            "scope=openid+scope_all&acr_values=eidas1&login_hint=899700218896&binding_message=42&channel=CARD"
        );
    }
}
