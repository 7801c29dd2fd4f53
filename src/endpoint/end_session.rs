//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `id_token_hint`, registered
//! `post_logout_redirect_uri` only, `state` echoed. Without a hint that names the signed-in
//! person, the user confirms on a page first.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::Value;

use crate::audit::AuditEvent;
use crate::oidc::mint;
use crate::oidc::params::Params;
use crate::oidc::refusal::LogoutRefusal;
use crate::session::{self, Session};
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::CurrentSession;
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "logout.html")]
struct Confirm {
    chrome: Chrome,
    csrf: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOut {
    chrome: Chrome,
}

/// A checked logout request.
struct Logout {
    /// Where to go afterwards, with `state` already added.
    redirect: Option<String>,
    /// The hint named the person signed in here.
    hint_matches: Option<bool>,
    fields: Vec<(String, String)>,
}

/// The parameters of a logout request, carried through the confirmation page.
const LOGOUT_PARAMS: [&str; 5] = [
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "ui_locales",
];

async fn check(
    state: &AppState,
    params: &Params,
    current: Option<&Session>,
) -> Result<Logout, LogoutRefusal> {
    let hint = match params.get("id_token_hint") {
        Some(hint) => Some(read_hint(state, hint, current).await?),
        None => None,
    };
    let hint_client = hint.as_ref().and_then(|h| h.client.clone());
    let client_id = match (hint_client, params.get("client_id")) {
        (Some(h), Some(c)) if h != c => return Err(LogoutRefusal::ClientIdMismatch),
        (Some(h), _) => Some(h),
        (None, c) => c.map(str::to_owned),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            Some(redirect_to(state, client_id.as_deref(), uri, params.get("state")).await?)
        }
    };
    let fields = LOGOUT_PARAMS
        .iter()
        .filter_map(|k| params.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect();
    Ok(Logout {
        redirect,
        hint_matches: hint.map(|h| h.matches),
        fields,
    })
}

/// What an `id_token_hint` says.
struct Hint {
    /// The client it was issued to.
    client: Option<String>,
    /// It names the person signed in here.
    matches: bool,
}

/// Verifies an `id_token_hint` (signed by us; an expired ID token is still a valid hint).
async fn read_hint(
    state: &AppState,
    hint: &str,
    current: Option<&Session>,
) -> Result<Hint, LogoutRefusal> {
    let keys = state
        .keys
        .get()
        .await
        .map_err(|_| LogoutRefusal::KeysUnavailable)?;
    let claims = mint::verify(&keys, &state.settings.issuer(), hint, Some("JWT"), None)
        .map_err(|_| LogoutRefusal::BadIdTokenHint)?;
    let sub = claims.get("sub").and_then(Value::as_str);
    Ok(Hint {
        client: claims.get("aud").and_then(Value::as_str).map(str::to_owned),
        matches: current.is_some_and(|s| Some(s.identity_id.as_str()) == sub),
    })
}

/// Where to go after the logout: a `post_logout_redirect_uri` registered by the client, with
/// `state` added.
async fn redirect_to(
    state: &AppState,
    client_id: Option<&str>,
    uri: &str,
    rp_state: Option<&str>,
) -> Result<String, LogoutRefusal> {
    let Some(id) = client_id else {
        return Err(LogoutRefusal::RedirectWithoutClient);
    };
    let client = state
        .clients
        .get(id)
        .await
        .map_err(|_| LogoutRefusal::StorageUnavailable)?
        .ok_or(LogoutRefusal::UnknownClient)?;
    let unregistered = LogoutRefusal::UnregisteredRedirectUri;
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return Err(unregistered);
    }
    let mut url = url::Url::parse(uri).map_err(|_| unregistered)?;
    if let Some(s) = rp_state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(url.to_string())
}

pub async fn end_session_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let Ok(params) = Params::parse(req.query_string().as_bytes()) else {
        return Err(PageError::BadRequest(|t| t.bad_request_client));
    };
    let logout = match check(&state, &params, current.0.as_ref()).await {
        Ok(l) => l,
        Err(reason) => {
            let refusal =
                AuditEvent::failure("logout_refused", reason.as_str()).context(&context_of(&req));
            state.audit.record(refusal).await;
            return Err(PageError::BadRequest(|t| t.bad_request_redirect));
        }
    };
    match current.0 {
        None => Ok(finish(&req, &logout)),
        Some(s) if logout.hint_matches == Some(true) => {
            end_and_finish(&req, &state, &s, &logout).await
        }
        Some(_) => {
            let (csrf, cookie) = cookies::csrf(&req);
            let lang = Lang::negotiate(&req, params.get("ui_locales"), None);
            let mut b = HttpResponse::Ok();
            if let Some(c) = cookie {
                b.cookie(c);
            }
            let page = Confirm {
                chrome: Chrome::new(&req, lang),
                csrf,
                fields: logout.fields,
            };
            Ok(render_with(b, &page))
        }
    }
}

/// A logout request sent by POST from a relying party (without our CSRF token), replayed as a
/// GET on this origin.
fn replay_as_get(params: &Params) -> HttpResponse {
    // That cross-site POST carries neither our CSRF token nor the SameSite=Lax session cookie:
    // the browser sends the cookie with a GET on this origin (RP-Initiated Logout §2).
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            LOGOUT_PARAMS
                .iter()
                .filter_map(|k| params.get(k).map(|v| (*k, v))),
        )
        .finish();
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/logout?{query}")))
        .finish()
}

pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let Ok(params) = Params::parse(&body) else {
        return Err(PageError::BadRequest(|t| t.bad_request_client));
    };
    if !params.contains("csrf") {
        return Ok(replay_as_get(&params));
    }
    if !cookies::csrf_ok(&req, params.get("csrf"), &origin(&state)) {
        let refusal = AuditEvent::failure("logout_refused", LogoutRefusal::Csrf.as_str())
            .context(&context_of(&req));
        state.audit.record(refusal).await;
        return Err(PageError::Forbidden(|t| t.err_csrf));
    }
    let Ok(logout) = check(&state, &params, current.0.as_ref()).await else {
        return Err(PageError::BadRequest(|t| t.bad_request_redirect));
    };
    match current.0 {
        Some(s) => end_and_finish(&req, &state, &s, &logout).await,
        None => Ok(finish(&req, &logout)),
    }
}

pub fn origin(state: &AppState) -> String {
    state
        .settings
        .http
        .public_url
        .origin()
        .ascii_serialization()
}

async fn end_and_finish(
    req: &HttpRequest,
    state: &AppState,
    s: &Session,
    logout: &Logout,
) -> Result<HttpResponse, PageError> {
    session::end(&state.sessions(), &s.id, "logout", &context_of(req))
        .await
        .context("logout failed")?;
    Ok(finish(req, logout))
}

fn finish(req: &HttpRequest, logout: &Logout) -> HttpResponse {
    match &logout.redirect {
        Some(url) => HttpResponse::SeeOther()
            .cookie(cookies::clear_session())
            .insert_header((LOCATION, url.as_str()))
            .finish(),
        None => {
            let mut b = HttpResponse::Ok();
            b.cookie(cookies::clear_session());
            let lang = Lang::negotiate(req, None, None);
            let mut chrome = Chrome::new(req, lang);
            chrome.switch_href.clear();
            render_with(b, &LoggedOut { chrome })
        }
    }
}
