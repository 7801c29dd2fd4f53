//! Security-key login: the ceremony options (JSON, fetched by `static/webauthn.js`) and the
//! form the script submits with the key's answer. Passwordless (the key says who it is) or as
//! a second factor for the person already signed in (step-up after a password).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::login::{LoginPage, pending, refusal_message, refusal_status, sign_in};
use crate::authn::login::outcome::key_class;
use crate::authn::login::{self, LoginOutcome};
use crate::authn::webauthn::{Assertion, KeyError, ceremony};
use crate::endpoint::end_session::origin;
use crate::endpoint::flow::{self, Lookup};
use crate::oidc::params::Params;
use crate::session;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, CurrentSession, LoginForm};
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
    refusal_status(key_class(e))
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
    let flow_id = form.get("flow").unwrap_or_default();
    // Only a flow of this browser: another browser's flow id starts nothing here (its login
    // page restarts it).
    let flow = match flow::lookup(&state, &req, flow_id).await {
        Ok(Lookup::Bound(f)) => f,
        Ok(Lookup::Foreign(_) | Lookup::Missing) => {
            let lang = Lang::negotiate(&req, None, None);
            return json_error(StatusCode::BAD_REQUEST, KeyError::CeremonyUnknown, lang);
        }
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let lang = Lang::negotiate(&req, params.get("ui_locales"), None);
    if !cookies::csrf_ok(&req, form.get("csrf"), &origin(&state)) {
        return HttpResponse::Forbidden()
            .json(json!({ "error": "csrf", "message": lang.t().err_csrf }));
    }
    let kind = match assertion_kind(&req, &state, form.get("mode")).await {
        Ok(kind) => kind,
        Err((status, e)) => return json_error(status, e, lang),
    };
    match ceremony::start_assertion(&state.authn(), &kind, Some(flow_id)).await {
        Ok(o) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(o),
        Err(e) => json_error(status_of(e), e, lang),
    }
}

/// The ceremony a `mode` asks for: a second factor only for the person signed in here.
async fn assertion_kind(
    req: &HttpRequest,
    state: &AppState,
    mode: Option<&str>,
) -> Result<Assertion, (StatusCode, KeyError)> {
    match mode {
        Some("second_factor") => {
            let token = cookies::session_token(req);
            match session::from_cookie(&state.sessions(), token.as_deref()).await {
                Ok(Some(s)) => Ok(Assertion::SecondFactor {
                    identity_id: s.identity_id,
                }),
                Ok(None) => Err((StatusCode::FORBIDDEN, KeyError::NoKey)),
                Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, KeyError::Unavailable)),
            }
        }
        Some("conditional") => Ok(Assertion::Passwordless { conditional: true }),
        _ => Ok(Assertion::Passwordless { conditional: false }),
    }
}

/// POST /login/key: `flow`, `csrf`, `ceremony`, `credential` (the key's answer, JSON).
pub async fn login_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<LoginForm>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    let flow_id = form.get("flow").unwrap_or_default().to_owned();
    let p = pending(&req, &state, &flow_id).await?;
    let ceremony = form.get("ceremony").unwrap_or_default();
    let credential = form.get("credential").unwrap_or_default();
    match login::with_key(&state.authn(), ceremony, credential, Some(&flow_id), &ctx).await {
        LoginOutcome::SignedIn(proof) => sign_in(&req, &state, current.0, proof, p.flow).await,
        LoginOutcome::ChangePassword { .. } => Err(anyhow::anyhow!("a key has no password").into()),
        LoginOutcome::Refused(refused) => {
            state.metrics.login(refused.method.as_str(), "failure");
            let lang = p.lang(&req, None);
            let (csrf, _) = cookies::csrf(&req);
            let reason = (form.get("mode") == Some("second_factor")).then_some("stepup");
            let page = LoginPage::build(&req, &state, p, lang, current.0.as_ref(), reason, csrf)
                .await
                .failed(refusal_message(refused.say, lang));
            Ok(render_with(
                HttpResponse::build(refusal_status(refused.class())),
                &page,
            ))
        }
    }
}
