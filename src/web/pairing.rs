//! The page "Mon appairage Pro Santé Connect" (`/pairing`): the person's pairing, renewing it
//! by e-CPS (CIBA, with a wait that survives a reload) or through Pro Santé Connect's page, and
//! cancelling it; `/pairing/status` tells the page's script how a pending request stands.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::json;

use super::pairing_texts::PairingTexts;
use crate::endpoint::authorize::start_account_login;
use crate::psc::pairing::{self, Asker, PairingError, Starter};
use crate::session::{self, Session};
use crate::state::AppState;
use crate::storage::pairings::RequestRecord;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::error::{page, req_lang};
use crate::ui::extract::{CheckedForm, CurrentSession, PageLang, PairingForm};
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

async fn current(state: &AppState, req: &HttpRequest) -> Option<Session> {
    session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
        .await
        .ok()
        .flatten()
}

fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!("[year]-[month]-[day]"))
                .ok()
        })
        .unwrap_or_default()
}

/// The pairing as shown.
struct Shown {
    idnat: String,
    means: &'static str,
    validated: String,
    expires: String,
    status: &'static str,
    active: bool,
}

/// A pending request as shown.
struct Waiting {
    id: String,
    binding_message: String,
}

#[derive(Template)]
#[template(path = "pairing/index.html")]
struct PairingPage {
    chrome: Chrome,
    p: &'static PairingTexts,
    csrf: String,
    pairing: Option<Shown>,
    warn_days: Option<i64>,
    waiting: Option<Waiting>,
    message: Option<&'static str>,
    error: Option<&'static str>,
    /// No RPPS link, and a pairing may create one: the person types the IdNat to prove.
    ask_idnat: bool,
    /// The authorization flow that sent the person here (Pro Santé Connect's broker needs a
    /// valid pairing), resumed by "Continuer" once the pairing is active.
    resume: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    flow: Option<String>,
}

/// The authorization flow that sent the person here, remembered across the pairing steps
/// (CIBA wait, PSC's page) by a cookie.
fn resume_flow(req: &HttpRequest, q: &PageQuery) -> Option<String> {
    q.flow
        .clone()
        .or_else(|| req.cookie(cookies::RESUME).map(|c| c.value().to_owned()))
        .filter(|f| crate::endpoint::flow::valid_id(f))
}

/// GET /pairing
pub async fn pairing_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    CurrentSession(session): CurrentSession,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(s) = session else {
        return Ok(start_account_login(&state, &req, "/pairing").await);
    };
    let p = lang.pairing();
    let ecps = state.ecps();
    let view = pairing::view(&ecps, &s.identity_id)
        .await
        .context("cannot read the pairing")?;
    let latest = pairing::latest_for(&ecps, &asker(&s))
        .await
        .context("cannot read the last pairing request")?;
    let Notices {
        waiting,
        message,
        error,
    } = notices(latest.as_ref(), &q, p);
    let ask_idnat = state.settings.psc.pairing.link_unlinked
        && crate::storage::links::of_identity(state.db.pool(), &s.identity_id)
            .await
            .context("cannot read the RPPS link")?
            .is_none();
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    b.insert_header(("Cache-Control", "no-store"));
    let resume = resume_flow(&req, &q);
    let remembered = resume
        .as_ref()
        .filter(|_| q.flow.is_some())
        .map(|f| cookies::resume(f));
    for c in csrf_cookie.into_iter().chain(remembered) {
        b.cookie(c);
    }
    let page = PairingPage {
        chrome: Chrome::new(&req, lang),
        p,
        csrf,
        warn_days: view.as_ref().and_then(|v| v.warn_days_left),
        pairing: view.map(|v| shown(&v, p)),
        waiting,
        message,
        error,
        ask_idnat,
        resume,
    };
    Ok(render_with(b, &page))
}

/// Who asks about pairing requests: the session and its person.
fn asker(s: &Session) -> Asker<'_> {
    Asker {
        session_id: &s.id,
        identity_id: &s.identity_id,
    }
}

fn shown(v: &pairing::PairingView, p: &'static PairingTexts) -> Shown {
    Shown {
        idnat: v.pairing.idnat.clone(),
        means: p.means_label(&v.pairing.means),
        validated: date(v.pairing.validated_at),
        expires: date(v.pairing.expires_at),
        status: p.status_label(v.status),
        active: v.status == "active",
    }
}

/// What the page says above the pairing: the request it waits on, or how the last step ended.
struct Notices {
    waiting: Option<Waiting>,
    message: Option<&'static str>,
    error: Option<&'static str>,
}

fn notices(latest: Option<&RequestRecord>, q: &PageQuery, p: &'static PairingTexts) -> Notices {
    let (mut message, mut error) = (None, None);
    let mut waiting = None;
    if let Some(r) = latest {
        if r.state == "pending" {
            waiting = Some(Waiting {
                id: r.id.clone(),
                binding_message: r.binding_message.clone(),
            });
        } else if q.done.as_deref() == Some("request") {
            // The outcome of the request this page waited on.
            match r.state.as_str() {
                "paired" => message = p.settled(&r.state, r.reason.as_deref()),
                _ => error = p.settled(&r.state, r.reason.as_deref()),
            }
        }
    }
    match q.done.as_deref() {
        Some("cancelled") => message = Some(p.done_cancelled),
        Some("paired") => message = Some(p.done_paired),
        _ => {}
    }
    if let Some(code) = q.error.as_deref() {
        error = Some(error_by_code(p, code));
    }
    Notices {
        waiting,
        message,
        error,
    }
}

/// The message of a refusal carried in the page's address after a redirect (codes only: the
/// address never carries text).
fn error_by_code(p: &'static PairingTexts, code: &str) -> &'static str {
    match code {
        "session_too_weak" => p.err_weak,
        "account_inactive" => p.err_inactive,
        "no_rpps_link" => p.err_no_link,
        "idnat_mismatch" | "idnat_not_personal" => p.err_mismatch,
        "idnat_linked_elsewhere" => p.err_elsewhere,
        "request_unknown" | "request_foreign" => p.err_foreign,
        "request_settled" => p.err_settled,
        "pairing_unknown" => p.err_none,
        "psc_disabled" => p.err_disabled,
        "psc_unreachable" | "psc_timeout" => p.err_unreachable,
        "psc_unknown_user" | "psc_access_denied" | "psc_invalid_client" => p.req_failed,
        _ => p.err_internal,
    }
}

/// Where the callback of a redirect pairing sends the browser: the page, with the outcome.
pub fn after_redirect(outcome: Result<(), &PairingError>) -> HttpResponse {
    match outcome {
        Ok(()) => back("done=paired"),
        Err(e) => refused(e),
    }
}

fn back(query: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/pairing?{query}")))
        .finish()
}

fn refused(e: &PairingError) -> HttpResponse {
    back(&format!("error={}", e.reason()))
}

/// POST /pairing/{action}: `start` (with `means` = `ciba` or `redirect`) or `cancel`; `csrf`.
pub async fn pairing_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    action: web::Path<String>,
    form: CheckedForm<PairingForm>,
) -> HttpResponse {
    let ctx = context_of(&req);
    let Some(s) = current(&state, &req).await else {
        return start_account_login(&state, &req, "/pairing").await;
    };
    let who = Starter {
        identity_id: &s.identity_id,
        session_id: &s.id,
        level: s.level,
        typed_idnat: form.get("idnat"),
    };
    match action.as_str() {
        "start" => match form.get("means") {
            Some("redirect") => {
                let (binding, cookie) = cookies::binding(&req);
                match pairing::start_redirect(&state.ecps(), &who, &binding, &ctx).await {
                    Ok(url) => {
                        let mut b = HttpResponse::SeeOther();
                        if let Some(c) = cookie {
                            b.cookie(c);
                        }
                        b.insert_header((LOCATION, url)).finish()
                    }
                    Err(e) => refused(&e),
                }
            }
            _ => match pairing::start_ciba(&state.ecps(), &who, &ctx).await {
                Ok(_) => back("waiting=1"),
                Err(e) => refused(&e),
            },
        },
        "cancel" => match pairing::cancel(&state.ecps(), &s.identity_id, &ctx).await {
            Ok(_) => {
                // Pro Santé Connect must not keep the person signed in on a cancelled pairing.
                let sessions = state.sessions();
                let reason = "pairing_cancelled";
                let _ = session::end_federated(&sessions, &s.identity_id, reason, &ctx).await;
                back("done=cancelled")
            }
            Err(e) => refused(&e),
        },
        _ => page(&req, StatusCode::NOT_FOUND, |t| t.not_found),
    }
}

#[derive(serde::Deserialize)]
pub struct StatusQuery {
    request: String,
}

/// GET /pairing/status?request=ID: `{"state": …, "message": …}` for the session that started
/// the request; 404 for anyone else.
pub async fn pairing_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<StatusQuery>,
) -> HttpResponse {
    let lang = Lang::negotiate(&req, None, req_lang(&req).as_deref());
    let p = lang.pairing();
    let Some(s) = current(&state, &req).await else {
        return HttpResponse::Unauthorized()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "error": "no_session" }));
    };
    match pairing::request_for(&state.ecps(), &q.request, &asker(&s)).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({
                "state": r.state,
                "message": p.settled(&r.state, r.reason.as_deref()),
            })),
        Err(e @ (PairingError::RequestUnknown | PairingError::RequestForeign)) => {
            HttpResponse::NotFound()
                .insert_header(("Cache-Control", "no-store"))
                .json(json!({ "error": e.reason(), "message": p.error(&e) }))
        }
        Err(_) => HttpResponse::InternalServerError()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "error": "internal_error" })),
    }
}
