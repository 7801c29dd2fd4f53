//! Security-key enrolment (with an enrolment code, from a session that already holds a strong
//! factor, or on the authority of e-CPS: [`crate::psc::enrolment`]) and the self-service page
//! where a person lists, renames and removes their keys.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::json;

use super::key_login::{json_error, status_of};
use super::key_texts::KeyTexts;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::webauthn::{
    Authorisation, EcpsGrant, EcpsRefusal, KeyError, ceremony, enrolment,
};
use crate::endpoint::authorize::start_account_login;
use crate::endpoint::end_session::origin;
use crate::oidc::params::Params;
use crate::psc::enrolment::{self as ecps, Enroller, Offer};
use crate::psc::pairing::Asker;
use crate::session::Session;
use crate::state::AppState;
use crate::storage::identities;
use crate::storage::links;
use crate::storage::security_keys::{self as store, KeyRecord};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::{
    CheckedForm, CurrentSession, EcpsEnrolForm, KeyChangeForm, KeyEnrolForm, PageLang, SignedIn,
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

fn enroller(s: &Session) -> Enroller<'_> {
    Enroller {
        identity_id: &s.identity_id,
        session_id: &s.id,
        level: s.level,
        factors: &s.factors,
    }
}

/// A pending e-CPS validation as the page shows it.
struct Waiting {
    id: String,
    binding_message: String,
}

/// The e-CPS part of the enrolment page.
#[derive(Default)]
struct EcpsPart {
    /// The enrolment is authorised by e-CPS: no username or code asked; what authorises it.
    authorised: Option<&'static str>,
    /// "Activer une clé avec l'application e-CPS".
    ask: bool,
    waiting: Option<Waiting>,
    /// The outcome of a validation, or a refusal.
    error: Option<&'static str>,
    message: Option<&'static str>,
}

async fn ecps_part(
    state: &AppState,
    s: Option<&Session>,
    k: &'static KeyTexts,
    q: &EnrolQuery,
) -> EcpsPart {
    let mut part = EcpsPart::default();
    let who = s.map(enroller);
    match ecps::offer(&state.ecps(), who.as_ref()).await {
        Offer::Authorised(g) => {
            part.authorised = Some(match g {
                EcpsGrant::Pairing(_) => k.ecps_by_pairing,
                EcpsGrant::Ciba(_) => k.ecps_by_proof,
            });
            if q.done.as_deref() == Some("request") {
                part.message = Some(k.ecps_proven);
            }
        }
        Offer::Ask(latest) => {
            part.ask = true;
            match latest.map(|r| *r) {
                Some(r) if r.state == "pending" || r.state == "approved" => {
                    part.waiting = Some(Waiting {
                        id: r.id,
                        binding_message: r.binding_message,
                    });
                }
                Some(r) if q.done.as_deref() == Some("request") => {
                    part.error = k.ecps_settled(&r.state, r.used_at.is_some());
                }
                _ => {}
            }
        }
        Offer::Nothing => {}
    }
    if let Some(code) = q.error.as_deref() {
        part.error = EcpsRefusal::from_reason(code).map(|e| k.error(KeyError::Ecps(e)));
    }
    part
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
    /// The session is strong enough, or e-CPS authorises the enrolment: no username or code
    /// asked.
    session_mode: bool,
    username: String,
    name: String,
    error: Option<&'static str>,
    ecps: EcpsPart,
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

#[derive(serde::Deserialize, Default)]
pub struct EnrolQuery {
    #[serde(default)]
    flow: Option<String>,
    /// `request`: back from the wait for an e-CPS validation.
    #[serde(default)]
    done: Option<String>,
    /// The reason code of a refused e-CPS step.
    #[serde(default)]
    error: Option<String>,
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
    b.insert_header(("Cache-Control", "no-store"));
    let k = lang.keys();
    let strong = strong_opt(&state, current.0.as_ref()).await;
    let ecps = if strong {
        EcpsPart::default()
    } else {
        ecps_part(&state, current.0.as_ref(), k, &q).await
    };
    let page = EnrolPage {
        chrome: Chrome::new(&req, lang),
        k,
        csrf,
        flow: clean_flow(q.flow.as_deref()),
        session_mode: strong || ecps.authorised.is_some(),
        username: String::new(),
        name: String::new(),
        error: None,
        ecps,
    };
    Ok(render_with(b, &page))
}

/// Who enrols, and on what authority: a strong session, e-CPS with a session of the person, or
/// a username with its code.
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
    if code.trim().is_empty()
        && let Some(s) = current
        && ecps::enabled(&state.ecps())
    {
        let grant = ecps::authorise(&state.ecps(), &enroller(s), ctx).await?;
        let identity = identities::by_id(state.db.pool(), &s.identity_id)
            .await?
            .ok_or(KeyError::AccountDisabled)?;
        return Ok((identity, Authorisation::Ecps(grant)));
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
    let strong = strong_opt(&state, current.0.as_ref()).await;
    let ecps = if strong {
        EcpsPart::default()
    } else {
        ecps_part(&state, current.0.as_ref(), k, &EnrolQuery::default()).await
    };
    let page = EnrolPage {
        chrome,
        k,
        csrf: cookies::csrf(&req).0,
        flow,
        session_mode: strong || ecps.authorised.is_some(),
        ecps,
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
        can_add: state.security_keys.is_some()
            && (strong(&state, &s).await
                || !matches!(
                    ecps::offer(&state.ecps(), Some(&enroller(&s))).await,
                    Offer::Nothing
                )),
        done: match q.done.as_deref() {
            Some("removed") => Some(t.removed),
            Some("renamed") => Some(t.renamed),
            _ => None,
        },
    };
    Ok(render_with(b, &page))
}

/// POST /keys/enrol/ecps: `csrf`, `flow`. Sends an e-CPS validation request to the person's
/// phone, then back to the enrolment page, which waits for it.
pub async fn ecps_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<EcpsEnrolForm>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let s = current.require("/keys/enrol")?;
    let ctx = context_of(&req);
    let flow = clean_flow(form.get("flow"))
        .map(|f| format!("&flow={f}"))
        .unwrap_or_default();
    Ok(
        match ecps::start(&state.ecps(), &enroller(&s), &ctx).await {
            Ok(_) => see_other(&format!("/keys/enrol?waiting=1{flow}")),
            Err(e) => see_other(&format!("/keys/enrol?error={}{flow}", e.reason())),
        },
    )
}

#[derive(serde::Deserialize)]
pub struct StatusQuery {
    request: String,
}

/// GET /keys/enrol/ecps/status?request=ID: `{"state": …, "message": …}` for the session that
/// asked the validation; 404 for anyone else.
pub async fn ecps_status(
    state: web::Data<AppState>,
    q: web::Query<StatusQuery>,
    PageLang(lang): PageLang,
    current: CurrentSession,
) -> HttpResponse {
    let k = lang.keys();
    let mut b = HttpResponse::build(actix_web::http::StatusCode::OK);
    b.insert_header(("Cache-Control", "no-store"));
    let Some(s) = current.0 else {
        return b
            .status(actix_web::http::StatusCode::UNAUTHORIZED)
            .json(json!({ "error": "no_session" }));
    };
    let asker = Asker {
        session_id: &s.id,
        identity_id: &s.identity_id,
    };
    match ecps::request_for(&state.ecps(), &q.request, &asker).await {
        Ok(Some(r)) => b.json(json!({
            "state": r.state,
            "message": k.ecps_settled(&r.state, r.used_at.is_some()),
        })),
        Ok(None) => b
            .status(actix_web::http::StatusCode::NOT_FOUND)
            .json(json!({ "error": "request_unknown" })),
        Err(_) => b
            .status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
            .json(json!({ "error": "internal_error" })),
    }
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
