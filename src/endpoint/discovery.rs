//! OpenID Connect Discovery 1.0 metadata and the JWKS.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    let iss = state.settings.issuer();
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "pushed_authorization_request_endpoint": format!("{iss}/par"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "end_session_endpoint": format!("{iss}/logout"),
        "scopes_supported": crate::oidc::scope::PERSON_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "updated_at", "email", "email_verified", "roles",
            "SubjectNameID", "idnat", "SubjectRefPro", "idp", "oid", "tid"],
        "acr_values_supported": state.settings.session.levels,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["fr", "en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .json(body)
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match state.keys.get().await {
        Ok(keys) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/jwk-set+json"))
            .insert_header((CACHE_CONTROL, "public, max-age=300"))
            .body(keys.jwks().to_owned()),
        Err(e) => {
            tracing::error!(error = ?e, "cannot load the signing keys");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
