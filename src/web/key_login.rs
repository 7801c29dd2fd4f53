//! Security-key login: the ceremony options (JSON, fetched by `static/webauthn.js`) and the
//! form the script submits with the key's answer. Passwordless (the key says who it is) or as
//! a second factor for the person already signed in (step-up after a password).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::ui::context::context_of;
use crate::ui::cookies;

use super::login::{LoginPage, after_login, pending};
use crate::authn::webauthn::{Assertion, KeyError, ceremony};
use crate::authn::{AuthFactor, Method};
use crate::endpoint::end_session::origin;
use crate::endpoint::flow::{self, Lookup};
use crate::oidc::params::Params;
use crate::session::{self, KeyUse};
use crate::state::AppState;
use crate::ui::form::checked;
use crate::ui::i18n::Lang;
use crate::ui::page::render_with;

/// A JSON refusal for the script: a stable code and the message to show.
pub(super) fn json_error(status: StatusCode, e: KeyError, lang: Lang) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": e.reason(),
        "message": lang.keys().error(e),
    }))
}

pub(super) fn status_of(e: KeyError) -> StatusCode {
    match e {
        KeyError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        KeyError::Disabled => StatusCode::NOT_FOUND,
        KeyError::Throttled => StatusCode::TOO_MANY_REQUESTS,
        KeyError::BadResponse | KeyError::CeremonyUnknown => StatusCode::BAD_REQUEST,
        KeyError::Revoked
        | KeyError::Flagged
        | KeyError::CounterRegression
        | KeyError::AccountDisabled
        | KeyError::ModelNotAllowed
        | KeyError::AlreadyEnrolled
        | KeyError::NoKey => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// POST /webauthn/login/options: `flow`, `csrf`, `mode` (`passwordless`, `conditional`,
/// `second_factor`).
pub async fn login_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let Ok(form) = Params::parse(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let flow_id = form.get("flow").unwrap_or_default().to_owned();
    // Only a flow of this browser: another browser's flow id starts nothing here (its login
    // page restarts it).
    let flow = match flow::lookup(&state, &req, &flow_id).await {
        Ok(Lookup::Bound(f)) => f,
        Ok(Lookup::Foreign(_) | Lookup::Missing) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                KeyError::CeremonyUnknown,
                Lang::negotiate(&req, None, None),
            );
        }
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let lang = Lang::negotiate(&req, params.get("ui_locales"), None);
    if !cookies::csrf_ok(&req, form.get("csrf"), &origin(&state)) {
        return HttpResponse::Forbidden()
            .json(json!({ "error": "csrf", "message": lang.t().err_csrf }));
    }
    let kind = match form.get("mode") {
        Some("second_factor") => {
            let current =
                session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
                    .await;
            match current {
                Ok(Some(s)) => Assertion::SecondFactor {
                    identity_id: s.identity_id,
                },
                Ok(None) => return json_error(StatusCode::FORBIDDEN, KeyError::NoKey, lang),
                Err(_) => {
                    return json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        KeyError::Unavailable,
                        lang,
                    );
                }
            }
        }
        Some("conditional") => Assertion::Passwordless { conditional: true },
        _ => Assertion::Passwordless { conditional: false },
    };
    match ceremony::start_assertion(&state.authn(), &kind, Some(&flow_id)).await {
        Ok(o) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(o),
        Err(e) => json_error(status_of(e), e, lang),
    }
}

/// POST /login/key: `flow`, `csrf`, `ceremony`, `credential` (the key's answer, JSON).
pub async fn login_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let form = match checked(&req, &state.audit, &origin(&state), &body, "login").await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let flow_id = form.get("flow").unwrap_or_default().to_owned();
    let p = match pending(&req, &state, &flow_id).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), None);
    let current = session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref())
        .await
        .ok()
        .flatten();
    let stepup = form.get("mode") == Some("second_factor");
    let credential = form.get("credential").unwrap_or_default();
    let result = if credential.is_empty() {
        Err(KeyError::BadResponse)
    } else {
        ceremony::finish_assertion(
            &state.authn(),
            form.get("ceremony").unwrap_or_default(),
            credential,
            Some(&flow_id),
            &ctx,
        )
        .await
    };
    match result {
        Ok(v) => {
            state.metrics.login(Method::SecurityKey.as_str(), "success");
            let factor = AuthFactor {
                method: Method::SecurityKey,
                user_verified: v.user_verified,
            };
            let key = KeyUse {
                key_id: &v.key_id,
                credential: &v.credential,
                counter: v.counter,
            };
            let recorded = session::record_key_login(
                &state.sessions(),
                current,
                &v.identity_id,
                factor,
                &key,
                Some(&flow_id),
                &ctx,
            )
            .await;
            after_login(&req, &state, recorded, p.flow).await
        }
        Err(e) => {
            state.metrics.login(Method::SecurityKey.as_str(), "failure");
            let message = if credential.is_empty() {
                lang.keys().js_missing
            } else {
                lang.keys().error(e)
            };
            let (csrf, _) = cookies::csrf(&req);
            let reason = stepup.then_some("stepup");
            let page = LoginPage::build(&req, &state, p, lang, current.as_ref(), reason, csrf)
                .await
                .failed(message);
            render_with(HttpResponse::build(status_of(e)), &page)
        }
    }
}
