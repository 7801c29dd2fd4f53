//! Security-key enrolment (with an enrolment code, or from a session that already holds a strong
//! factor) and the self-service page where a person lists, renames and removes their keys.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::key_login::{json_error, status_of};
use super::key_texts::KeyTexts;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::webauthn::{Authorisation, KeyError, ceremony, enrolment};
use crate::endpoint::authorize::start_account_login;
use crate::endpoint::end_session::origin;
use crate::oidc::params::Params;
use crate::session::{self, Session};
use crate::state::AppState;
use crate::storage::identities;
use crate::storage::links;
use crate::storage::security_keys::{self as store, KeyRecord};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, req_lang, server_error};
use crate::ui::form::checked;
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

/// A session that may enrol another key on its own: it holds a phishing-resistant factor that
/// does not owe the identity to an RPPS link nobody checked ([`enrolment::session_may_enrol`]).
async fn strong(state: &AppState, s: &Session) -> bool {
    let link = links::of_identity(state.db.pool(), &s.identity_id)
        .await
        .ok()
        .flatten();
    enrolment::session_may_enrol(&s.factors, link.as_ref().map(|l| l.method.as_str()))
}

async fn strong_opt(state: &AppState, s: Option<&Session>) -> bool {
    match s {
        Some(s) => strong(state, s).await,
        None => false,
    }
}

async fn current(state: &AppState, req: &HttpRequest) -> Option<Session> {
    session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
        .await
        .ok()
        .flatten()
}

/// A flow id as typed in a query or form: only the token alphabet is kept.
fn clean_flow(flow: Option<&str>) -> Option<String> {
    flow.filter(|f| {
        !f.is_empty()
            && f.len() <= 64
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
    .map(str::to_owned)
}

#[derive(Template)]
#[template(path = "keys/enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    k: &'static KeyTexts,
    csrf: String,
    flow: Option<String>,
    /// The session is strong enough: no username or code asked.
    session_mode: bool,
    username: String,
    name: String,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "keys/enrolled.html")]
struct EnrolledPage {
    chrome: Chrome,
    k: &'static KeyTexts,
    name: String,
    model: Option<String>,
    next: String,
}

#[derive(serde::Deserialize)]
pub struct EnrolQuery {
    #[serde(default)]
    flow: Option<String>,
}

/// GET /keys/enrol
pub async fn enrol_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<EnrolQuery>,
) -> HttpResponse {
    let lang = Lang::negotiate(&req, None, req_lang(&req).as_deref());
    if state.security_keys.is_none() {
        return page(&req, StatusCode::NOT_FOUND, |t| t.not_found);
    }
    let s = current(&state, &req).await;
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    render_with(
        b,
        &EnrolPage {
            chrome: Chrome::new(&req, lang),
            k: lang.keys(),
            csrf,
            flow: clean_flow(q.flow.as_deref()),
            session_mode: strong_opt(&state, s.as_ref()).await,
            username: String::new(),
            name: String::new(),
            error: None,
        },
    )
}

/// Who enrols, and on what authority: a strong session, or a username with its code.
async fn authorise(
    state: &AppState,
    req: &HttpRequest,
    form: &Params,
    ctx: &RequestContext,
) -> Result<(identities::IdentityRecord, Authorisation), KeyError> {
    let code = form.get("code").unwrap_or_default();
    let session = current(state, req).await;
    if code.trim().is_empty()
        && let Some(s) = session
        && strong(state, &s).await
    {
        let identity = identities::by_id(state.db.pool(), &s.identity_id)
            .await?
            .ok_or(KeyError::AccountDisabled)?;
        return Ok((identity, Authorisation::StrongSession));
    }
    let username = form.get("username").unwrap_or_default();
    let (identity, hash) = enrolment::redeem(&state.authn(), username, code, ctx).await?;
    Ok((identity, Authorisation::Code(hash)))
}

/// POST /webauthn/enrol/options: `csrf`, `flow`, and `username` + `code` unless the session is
/// strong.
pub async fn enrol_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let lang = Lang::negotiate(&req, None, None);
    let Ok(form) = Params::parse(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    if !cookies::csrf_ok(&req, form.get("csrf"), &origin(&state)) {
        return HttpResponse::Forbidden()
            .json(json!({ "error": "csrf", "message": lang.t().err_csrf }));
    }
    let (identity, auth) = match authorise(&state, &req, &form, &ctx).await {
        Ok(x) => x,
        Err(e) => return json_error(status_of(e), e, lang),
    };
    let flow = clean_flow(form.get("flow"));
    match ceremony::start_enrolment(&state.authn(), &identity, &auth, flow.as_deref()).await {
        Ok(o) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(o),
        Err(e) => {
            state
                .audit
                .record(
                    AuditEvent::failure("security_key_enrolled", e.reason())
                        .subject(&identity.id)
                        .context(&ctx),
                )
                .await;
            json_error(status_of(e), e, lang)
        }
    }
}

/// POST /keys/enrol: `csrf`, `flow`, `ceremony`, `credential`, `name`.
pub async fn enrol_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let lang = Lang::negotiate(&req, None, None);
    let form = match checked(
        &req,
        &state.audit,
        &origin(&state),
        &body,
        "security_key_enrolled",
    )
    .await
    {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let flow = clean_flow(form.get("flow"));
    let name = form.get("name").unwrap_or_default();
    let credential = form.get("credential").unwrap_or_default();
    let result = if credential.is_empty() {
        Err(KeyError::BadResponse)
    } else {
        ceremony::finish_enrolment(
            &state.authn(),
            form.get("ceremony").unwrap_or_default(),
            flow.as_deref(),
            credential,
            name,
            &ctx,
        )
        .await
    };
    let mut chrome = Chrome::new(&req, lang);
    chrome.switch_href.clear();
    match result {
        Ok(key) => {
            let next = match &flow {
                Some(f) => format!("/login?flow={f}"),
                None => "/keys".to_owned(),
            };
            render_with(
                HttpResponse::Ok(),
                &EnrolledPage {
                    chrome,
                    k: lang.keys(),
                    name: key.name,
                    model: key.model,
                    next,
                },
            )
        }
        Err(e) => {
            let message = if credential.is_empty() {
                lang.keys().js_missing
            } else {
                lang.keys().error(e)
            };
            let (csrf, _) = cookies::csrf(&req);
            let s = current(&state, &req).await;
            render_with(
                HttpResponse::build(status_of(e)),
                &EnrolPage {
                    chrome,
                    k: lang.keys(),
                    csrf,
                    flow,
                    session_mode: strong_opt(&state, s.as_ref()).await,
                    username: form.get("username").unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                    error: Some(message),
                },
            )
        }
    }
}

/// One row of the self-service list.
struct KeyRow {
    id: String,
    name: String,
    model: String,
    created: String,
    last_used: String,
    suspended: bool,
}

#[derive(Template)]
#[template(path = "keys/list.html")]
struct KeysPage {
    chrome: Chrome,
    k: &'static KeyTexts,
    csrf: String,
    keys: Vec<KeyRow>,
    can_add: bool,
    done: Option<&'static str>,
}

fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[day]/[month]/[year] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

fn row(k: &KeyRecord, t: &KeyTexts) -> KeyRow {
    KeyRow {
        id: k.id.clone(),
        name: k.name.clone(),
        model: k
            .model
            .clone()
            .or_else(|| k.aaguid.clone())
            .unwrap_or_else(|| t.unattested.to_owned()),
        created: date(k.created_at),
        last_used: k
            .last_used_at
            .map(date)
            .unwrap_or_else(|| t.never.to_owned()),
        suspended: k.flagged_at.is_some(),
    }
}

#[derive(serde::Deserialize)]
pub struct KeysQuery {
    #[serde(default)]
    done: Option<String>,
}

/// GET /keys: the person's keys; without a session, a login first.
pub async fn keys_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<KeysQuery>,
) -> HttpResponse {
    let lang = Lang::negotiate(&req, None, req_lang(&req).as_deref());
    let Some(s) = current(&state, &req).await else {
        return start_account_login(&state, &req, "/keys").await;
    };
    let keys = match store::of_identity(state.db.pool(), &s.identity_id).await {
        Ok(k) => k,
        Err(_) => return server_error(&req),
    };
    let t = lang.keys();
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    render_with(
        b,
        &KeysPage {
            chrome: Chrome::new(&req, lang),
            k: t,
            csrf,
            keys: keys
                .iter()
                .filter(|k| k.revoked_at.is_none())
                .map(|k| row(k, t))
                .collect(),
            can_add: strong(&state, &s).await && state.security_keys.is_some(),
            done: match q.done.as_deref() {
                Some("removed") => Some(t.removed),
                Some("renamed") => Some(t.renamed),
                _ => None,
            },
        },
    )
}

/// POST /keys/rename and /keys/remove: `csrf`, `key`, and `name` for a rename.
pub async fn keys_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    action: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let form = match checked(
        &req,
        &state.audit,
        &origin(&state),
        &body,
        "security_key_changed",
    )
    .await
    {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let Some(s) = current(&state, &req).await else {
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, "/keys"))
            .finish();
    };
    let key_id = form.get("key").unwrap_or_default();
    let done = match action.as_str() {
        "rename" => {
            let name = ceremony::clean_name(form.get("name").unwrap_or_default());
            if name.is_empty() {
                return HttpResponse::SeeOther()
                    .insert_header((LOCATION, "/keys"))
                    .finish();
            }
            match store::rename(state.db.pool(), key_id, &s.identity_id, &name).await {
                Ok(true) => {
                    state
                        .audit
                        .record(
                            AuditEvent::success("security_key_renamed")
                                .actor(&s.identity_id)
                                .subject(&s.identity_id)
                                .context(&ctx)
                                .details(json!({ "key": key_id, "name": name })),
                        )
                        .await;
                    "renamed"
                }
                Ok(false) => return page(&req, StatusCode::NOT_FOUND, |t| t.not_found),
                Err(_) => return server_error(&req),
            }
        }
        "remove" => {
            let owned = matches!(
                store::by_id(state.db.pool(), key_id).await,
                Ok(Some(k)) if k.identity_id == s.identity_id
            );
            if !owned {
                return page(&req, StatusCode::NOT_FOUND, |t| t.not_found);
            }
            match crate::admin::keys::revoke(
                &state,
                key_id,
                &s.identity_id,
                "removed_by_owner",
                &ctx,
            )
            .await
            {
                Ok(_) => "removed",
                Err(_) => return server_error(&req),
            }
        }
        _ => return page(&req, StatusCode::NOT_FOUND, |t| t.not_found),
    };
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/keys?done={done}")))
        .finish()
}
