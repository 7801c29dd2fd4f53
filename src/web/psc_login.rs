//! "Se connecter avec e-CPS": `GET /login/psc?flow=…` sends this browser to Pro Santé Connect
//! with a pending authorization bound to it; `GET /psc/callback` takes that authorization back
//! (once, in the same browser), finishes it with PSC and goes on with what it was for: the
//! e-CPS login of the authorization flow, or a pairing.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::{after_login, pending};
use super::psc_texts::{self, PscTexts};
use crate::audit::RequestContext;
use crate::endpoint::flow;
use crate::psc::login::{self as ecps, EcpsRefusal};
use crate::psc::pending::{self as psc_pending, Purpose, Returned};
use crate::psc::{ProvenIdentity, PscError};
use crate::session;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, req_lang, server_error};
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render};

#[derive(Template)]
#[template(path = "login/psc_refused.html")]
struct RefusedPage {
    chrome: Chrome,
    p: &'static PscTexts,
    message: &'static str,
    flow_id: Option<String>,
    request_id: Option<String>,
}

fn refused_page(
    req: &HttpRequest,
    lang: Lang,
    status: StatusCode,
    key: &str,
    flow_id: Option<String>,
    ctx: &RequestContext,
) -> HttpResponse {
    render(
        status,
        &RefusedPage {
            chrome: Chrome::new(req, lang),
            p: psc_texts::texts(lang),
            message: psc_texts::message(lang, key),
            flow_id,
            request_id: ctx.request_id.clone(),
        },
    )
}

fn status_of(r: &EcpsRefusal) -> StatusCode {
    match r {
        EcpsRefusal::Psc(e) if e.transient() => StatusCode::SERVICE_UNAVAILABLE,
        EcpsRefusal::Psc(PscError::AccessDenied | PscError::ExpiredToken)
        | EcpsRefusal::NotLinked
        | EcpsRefusal::Inactive => StatusCode::FORBIDDEN,
        EcpsRefusal::Callback(_) => StatusCode::BAD_REQUEST,
        EcpsRefusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        EcpsRefusal::Psc(_) => StatusCode::BAD_GATEWAY,
    }
}

#[derive(serde::Deserialize)]
pub struct FlowQuery {
    flow: String,
}

/// `GET /login/psc?flow=…`: to PSC's login page.
pub async fn psc_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<FlowQuery>,
) -> HttpResponse {
    if state.psc.is_none() {
        return page(&req, StatusCode::NOT_FOUND, |t| t.not_found);
    }
    let p = match pending(&req, &state, &q.flow).await {
        Ok(p) => p,
        Err(e) => return actix_web::ResponseError::error_response(&e),
    };
    let ctx = context_of(&req);
    let lang = Lang::negotiate(&req, p.params.get("ui_locales"), req_lang(&req).as_deref());
    // The flow is this browser's: its binding cookie is present.
    let (binding, cookie) = cookies::binding(&req);
    let purpose = Purpose::Login {
        flow_id: p.flow.id.clone(),
    };
    match psc_pending::start(&state.ecps(), &binding, purpose, ctx.source_ip.clone()).await {
        Ok(url) => {
            let mut b = HttpResponse::SeeOther();
            if let Some(c) = cookie {
                b.cookie(c);
            }
            b.insert_header((LOCATION, url.to_string())).finish()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the e-CPS login");
            let refusal = EcpsRefusal::Psc(e);
            state.metrics.login("ecps", "failure");
            ecps::refused(&state.ecps(), &refusal, None, &ctx).await;
            refused_page(
                &req,
                lang,
                status_of(&refusal),
                refusal.message_key(),
                Some(p.flow.id),
                &ctx,
            )
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /psc/callback`: PSC sends the browser back here.
pub async fn psc_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let Some(client) = state.psc.clone() else {
        return page(&req, StatusCode::NOT_FOUND, |t| t.not_found);
    };
    let ctx = context_of(&req);
    let lang = Lang::negotiate(&req, None, req_lang(&req).as_deref());
    let binding = cookies::presented_binding(&req);
    let returned =
        match psc_pending::take(&state.ecps(), q.state.as_deref(), binding.as_deref()).await {
            Ok(Ok(r)) => r,
            Ok(Err(refusal)) => {
                let refusal = EcpsRefusal::Callback(refusal);
                ecps::refused(&state.ecps(), &refusal, None, &ctx).await;
                return refused_page(
                    &req,
                    lang,
                    status_of(&refusal),
                    refusal.message_key(),
                    None,
                    &ctx,
                );
            }
            Err(e) => {
                tracing::error!(error = ?e, "cannot read the pending PSC authorization");
                return server_error(&req);
            }
        };
    let proven = finish(&client, &returned, &q).await;
    match returned.purpose {
        Purpose::Login { flow_id } => {
            login_returned(&req, &state, lang, flow_id, proven, &ctx).await
        }
        Purpose::Pairing { identity_id } => {
            // The pairing pages own what a pairing by redirect records and shows.
            pairing_returned(&req, &state, &identity_id, proven, &ctx).await
        }
    }
}

/// PSC's answer turned into the proven professional.
async fn finish(
    client: &crate::psc::PscClient,
    returned: &Returned,
    q: &CallbackQuery,
) -> Result<ProvenIdentity, PscError> {
    if let Some(error) = q.error.as_deref() {
        return Err(match error {
            "access_denied" => PscError::AccessDenied,
            "temporarily_unavailable" => PscError::Unreachable,
            other => PscError::Protocol(format!("authorization error {other:?}")),
        });
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| PscError::Protocol("callback without a code".into()))?;
    client
        .finish_authorization(&returned.authorization, code, &returned.redirect_uri)
        .await
}

/// The end of an e-CPS login: a session for the one active identity linked to the IdNat.
async fn login_returned(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
    flow_id: String,
    proven: Result<ProvenIdentity, PscError>,
    ctx: &RequestContext,
) -> HttpResponse {
    let flow = match flow::require(state, req, &flow_id).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let (proven, identity_id) = match decide(state, proven, ctx).await {
        Ok(decided) => decided,
        Err(refusal) => {
            state.metrics.login("ecps", "failure");
            let status = status_of(&refusal);
            let key = refusal.message_key();
            return refused_page(req, lang, status, key, Some(flow.id), ctx);
        }
    };
    state.metrics.login("ecps", "success");
    let current = session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
        .await
        .ok()
        .flatten();
    let recorded = session::record_psc_login(
        &state.sessions(),
        current,
        &identity_id,
        &proven.sub,
        Some(&flow.id),
        ctx,
    )
    .await;
    after_login(req, state, recorded, flow).await
}

/// What PSC proved, and the one active identity linked to it; a refusal from PSC itself is
/// audited here (the others are audited by `ecps::decide`).
async fn decide(
    state: &AppState,
    proven: Result<ProvenIdentity, PscError>,
    ctx: &RequestContext,
) -> Result<(ProvenIdentity, String), EcpsRefusal> {
    match proven {
        Ok(p) => {
            let id = ecps::decide(&state.ecps(), &p, ctx).await?;
            Ok((p, id))
        }
        Err(e) => {
            tracing::warn!(error = %e, "e-CPS login refused");
            let refusal = EcpsRefusal::Psc(e);
            ecps::refused(&state.ecps(), &refusal, None, ctx).await;
            Err(refusal)
        }
    }
}

/// A pairing by redirect came back: the pairing rules record it (the browser's session must
/// still be the person who started it), and the pairing page shows the outcome.
async fn pairing_returned(
    req: &HttpRequest,
    state: &AppState,
    identity_id: &str,
    proven: Result<ProvenIdentity, PscError>,
    ctx: &RequestContext,
) -> HttpResponse {
    let current = session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
        .await
        .ok()
        .flatten();
    let done = crate::psc::pairing::complete_redirect(
        &state.ecps(),
        identity_id,
        current.as_ref().map(|s| s.identity_id.as_str()),
        proven,
        ctx,
    )
    .await;
    super::pairing::after_redirect(done.as_ref().map(|_| ()))
}
