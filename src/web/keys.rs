//! Security-key enrolment (with an enrolment code, or from a session that already holds a strong
//! factor) and the self-service page where a person lists, renames and removes their keys.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::json;

use super::key_login::{json_error, status_of};
use super::key_texts::KeyTexts;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::webauthn::{Authorisation, KeyError, ceremony, enrolment};
use crate::endpoint::authorize::start_account_login;
use crate::endpoint::end_session::origin;
use crate::oidc::params::Params;
use crate::session::Session;
use crate::state::AppState;
use crate::storage::identities;
use crate::storage::links;
use crate::storage::security_keys::{self as store, KeyRecord};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::{
    CheckedForm, CurrentSession, KeyChangeForm, KeyEnrolForm, PageLang, SignedIn,
};
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

impl EnrolledPage {
    /// The page after an enrolment: back to the login flow it came from, or to the list.
    fn new(chrome: Chrome, k: &'static KeyTexts, key: KeyRecord, flow: Option<String>) -> Self {
        let next = match &flow {
            Some(f) => format!("/login?flow={f}"),
            None => "/keys".to_owned(),
        };
        EnrolledPage {
            chrome,
            k,
            name: key.name,
            model: key.model,
            next,
        }
    }
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
    PageLang(lang): PageLang,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    if state.security_keys.is_none() {
        return Err(PageError::NotFound);
    }
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let page = EnrolPage {
        chrome: Chrome::new(&req, lang),
        k: lang.keys(),
        csrf,
        flow: clean_flow(q.flow.as_deref()),
        session_mode: strong_opt(&state, current.0.as_ref()).await,
        username: String::new(),
        name: String::new(),
        error: None,
    };
    Ok(render_with(b, &page))
}

/// Who enrols, and on what authority: a strong session, or a username with its code.
async fn authorise(
    state: &AppState,
    current: Option<&Session>,
    form: &Params,
    ctx: &RequestContext,
) -> Result<(identities::IdentityRecord, Authorisation), KeyError> {
    let code = form.get("code").unwrap_or_default();
    if code.trim().is_empty()
        && let Some(s) = current
        && strong(state, s).await
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
/// strong. Answers JSON, refusals included.
pub async fn enrol_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    current: CurrentSession,
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
    let (identity, auth) = match authorise(&state, current.0.as_ref(), &form, &ctx).await {
        Ok(x) => x,
        Err(e) => return json_error(status_of(e), e, lang),
    };
    let flow = clean_flow(form.get("flow"));
    match ceremony::start_enrolment(&state.authn(), &identity, &auth, flow.as_deref()).await {
        Ok(o) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(o),
        Err(e) => {
            let refusal = AuditEvent::failure("security_key_enrolled", e.reason())
                .subject(&identity.id)
                .context(&ctx);
            state.audit.record(refusal).await;
            json_error(status_of(e), e, lang)
        }
    }
}

/// POST /keys/enrol: `csrf`, `flow`, `ceremony`, `credential`, `name`.
pub async fn enrol_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<KeyEnrolForm>,
    current: CurrentSession,
) -> HttpResponse {
    let ctx = context_of(&req);
    let lang = Lang::negotiate(&req, None, None);
    let flow = clean_flow(form.get("flow"));
    let name = form.get("name").unwrap_or_default();
    let credential = form.get("credential").unwrap_or_default();
    let result = if credential.is_empty() {
        Err(KeyError::BadResponse)
    } else {
        let ceremony_id = form.get("ceremony").unwrap_or_default();
        let flow = flow.as_deref();
        ceremony::finish_enrolment(&state.authn(), ceremony_id, flow, credential, name, &ctx).await
    };
    let mut chrome = Chrome::new(&req, lang);
    chrome.switch_href.clear();
    let k = lang.keys();
    let e = match result {
        Ok(key) => {
            return render_with(HttpResponse::Ok(), &EnrolledPage::new(chrome, k, key, flow));
        }
        Err(e) => e,
    };
    let page = EnrolPage {
        chrome,
        k,
        csrf: cookies::csrf(&req).0,
        flow,
        session_mode: strong_opt(&state, current.0.as_ref()).await,
        username: form.get("username").unwrap_or_default().to_owned(),
        name: name.to_owned(),
        // Without the script, the form carries no key answer.
        error: Some(if credential.is_empty() {
            k.js_missing
        } else {
            k.error(e)
        }),
    };
    render_with(HttpResponse::build(status_of(e)), &page)
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
    PageLang(lang): PageLang,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let Some(s) = current.0 else {
        return Ok(start_account_login(&state, &req, "/keys").await);
    };
    let keys = store::of_identity(state.db.pool(), &s.identity_id)
        .await
        .context("cannot list the keys")?;
    let t = lang.keys();
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let page = KeysPage {
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
    };
    Ok(render_with(b, &page))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

/// POST /keys/rename and /keys/remove: `csrf`, `key`, and `name` for a rename. Without a
/// session, back to `/keys` (which asks for a login).
pub async fn keys_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    action: web::Path<String>,
    form: CheckedForm<KeyChangeForm>,
    SignedIn(s): SignedIn,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    let key_id = form.get("key").unwrap_or_default();
    let done = match action.as_str() {
        "rename" => {
            let name = ceremony::clean_name(form.get("name").unwrap_or_default());
            if name.is_empty() {
                return Ok(see_other("/keys"));
            }
            rename(&state, &s, key_id, &name, &ctx).await?
        }
        "remove" => remove(&state, &s, key_id, &ctx).await?,
        _ => return Err(PageError::NotFound),
    };
    Ok(see_other(&format!("/keys?done={done}")))
}

async fn rename(
    state: &AppState,
    s: &Session,
    key_id: &str,
    name: &str,
    ctx: &RequestContext,
) -> Result<&'static str, PageError> {
    let renamed = store::rename(state.db.pool(), key_id, &s.identity_id, name)
        .await
        .context("cannot rename a key")?;
    if !renamed {
        return Err(PageError::NotFound);
    }
    let event = AuditEvent::success("security_key_renamed")
        .actor(&s.identity_id)
        .subject(&s.identity_id)
        .context(ctx)
        .details(json!({ "key": key_id, "name": name }));
    state.audit.record(event).await;
    Ok("renamed")
}

async fn remove(
    state: &AppState,
    s: &Session,
    key_id: &str,
    ctx: &RequestContext,
) -> Result<&'static str, PageError> {
    let owned = matches!(
        store::by_id(state.db.pool(), key_id).await,
        Ok(Some(k)) if k.identity_id == s.identity_id
    );
    if !owned {
        return Err(PageError::NotFound);
    }
    crate::admin::keys::revoke(state, key_id, &s.identity_id, "removed_by_owner", ctx)
        .await
        .context("cannot remove a key")?;
    Ok("removed")
}
