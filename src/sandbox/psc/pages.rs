//! The sandbox's browser pages (psc.md): the login at `/wallet/auth` (IdNat, then approval on
//! the phone, then the code), the e-CPS "phone" page `/ecps`, and the end-session endpoint.
//! Forms carry a CSRF token equal to a cookie (double submit); the same random cookie binds a
//! login request to the browser that started it.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::broker;
use super::broker_texts::broker_texts;
use super::oauth::{client_logout, now, open_session, source_of};
use super::server::Sandbox;
use super::store::{self, Admitted, Code, Request, Session, status};
use super::texts::{Lang, Texts, texts};
use crate::crypto::{ct_eq, hash_secret, random_bytes, random_token, s256};
use crate::identity::IdNat;
use crate::psc::protocol::{ACR_EIDAS1, Channel, LOGOUT_PATH, REALM_PATH, SANDBOX_AUTHORIZE_PATH};

pub(super) const CSRF_COOKIE: &str = "psc_sandbox_csrf";
const SESSION_COOKIE: &str = "psc_sandbox_session";
/// How long the IdNat prompt of a login stays usable.
const PROMPT_SECS: i64 = 600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let logout = format!("{REALM_PATH}{LOGOUT_PATH}");
    cfg.route(SANDBOX_AUTHORIZE_PATH, web::get().to(authorize))
        .route("/wallet/auth/login", web::post().to(login))
        .route("/wallet/auth/wait", web::get().to(wait))
        .route("/ecps", web::get().to(phone))
        .route("/ecps/decide", web::post().to(decide))
        .route(&logout, web::get().to(logout_get))
        .route(&logout, web::post().to(logout_post));
}

#[derive(Template)]
#[template(path = "sandbox/login.html")]
struct LoginPage<'a> {
    t: &'static Texts,
    csrf: &'a str,
    req: &'a str,
    idnat: &'a str,
    error: &'a str,
}

#[derive(Template)]
#[template(path = "sandbox/wait.html")]
struct WaitPage<'a> {
    t: &'static Texts,
    binding: &'a str,
    refresh: u64,
}

struct PhoneRow {
    id: String,
    binding: String,
    kind: &'static str,
    client: String,
    channel: String,
}

#[derive(Template)]
#[template(path = "sandbox/ecps.html")]
struct PhonePage<'a> {
    t: &'static Texts,
    csrf: &'a str,
    idnat: &'a str,
    name: String,
    message: &'a str,
    error: &'a str,
    requests: Vec<PhoneRow>,
}

#[derive(Template)]
#[template(path = "sandbox/message.html")]
struct MessagePage<'a> {
    t: &'static Texts,
    title: &'a str,
    text: &'a str,
    error: bool,
}

pub(super) fn lang(req: &HttpRequest, explicit: Option<&str>) -> Lang {
    Lang::negotiate(req, None, explicit)
}

pub(super) fn html(
    status: actix_web::http::StatusCode,
    body: askama::Result<String>,
) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header(("x-frame-options", "DENY"))
            .body(b),
        Err(e) => {
            tracing::error!(error = %e, "template");
            HttpResponse::InternalServerError().finish()
        }
    }
}

pub(super) fn message(
    t: &'static Texts,
    status: actix_web::http::StatusCode,
    text: &str,
) -> HttpResponse {
    let error = !status.is_success();
    let title = if error {
        t.error_title
    } else {
        t.logged_out_title
    };
    html(
        status,
        MessagePage {
            t,
            title,
            text,
            error,
        }
        .render(),
    )
}

/// 429: a cap on open requests is reached.
fn busy(t: &'static Texts, text: &str, s: &Sandbox) -> HttpResponse {
    let mut resp = message(t, actix_web::http::StatusCode::TOO_MANY_REQUESTS, text);
    if let Ok(v) =
        actix_web::http::header::HeaderValue::from_str(&s.settings.ciba_expires_in.to_string())
    {
        resp.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    resp
}

pub(super) fn failure(t: &'static Texts, e: anyhow::Error) -> HttpResponse {
    tracing::error!(error = ?e, "sandbox page failure");
    message(
        t,
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        t.error_server,
    )
}

fn secure(s: &Sandbox) -> bool {
    s.endpoints.issuer.starts_with("https:")
}

pub(super) fn cookie<'c>(s: &Sandbox, name: &'c str, value: String) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(s))
        .finish()
}

/// The browser's CSRF token, and the cookie to set when it had none.
pub(super) fn csrf_token(s: &Sandbox, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), None),
        _ => {
            let token = random_token(32);
            (token.clone(), Some(cookie(s, CSRF_COOKIE, token)))
        }
    }
}

pub(super) fn csrf_ok(req: &HttpRequest, presented: &str) -> bool {
    req.cookie(CSRF_COOKIE)
        .is_some_and(|c| !presented.is_empty() && ct_eq(c.value(), presented))
}

/// What binds a login request to a browser: a hash of its CSRF cookie.
pub(super) fn browser_of(token: &str) -> String {
    s256(token)
}

pub(super) fn two_digits() -> String {
    let b = random_bytes(1);
    format!("{:02}", b.first().copied().unwrap_or(0) % 100)
}

pub(super) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

pub(super) fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return uri.to_owned(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// The parameters of an authorization request.
#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    acr_values: Option<String>,
    prompt: Option<String>,
    /// The alias of a third-party identity provider to go straight to (Keycloak's broker).
    kc_idp_hint: Option<String>,
    lang: Option<String>,
}

/// The live session of this browser, if any (4 h absolute, 30 min idle by default).
async fn browser_session(
    s: &Sandbox,
    req: &HttpRequest,
    now: i64,
) -> anyhow::Result<Option<Session>> {
    let Some(id) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let Some(session) = s.store.session(&id).await? else {
        return Ok(None);
    };
    let settings = &s.settings;
    let alive = session.ended == 0
        && now < session.created_at + settings.session_absolute_secs as i64
        && now < session.last_seen_at + settings.session_idle_secs as i64;
    Ok(alive.then_some(session))
}

/// Issues a code for a session and sends the browser back to the client.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_with_code(
    s: &Sandbox,
    session: &Session,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: Option<&str>,
    nonce: Option<&str>,
    challenge: &str,
) -> anyhow::Result<HttpResponse> {
    let code = random_token(32);
    s.store
        .insert_code(
            &hash_secret(&code),
            &Code {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                session_id: session.id.clone(),
                scope: scope.to_owned(),
                nonce: nonce.map(str::to_owned),
                code_challenge: challenge.to_owned(),
                expires_at: now() + s.settings.code_secs as i64,
            },
        )
        .await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = state {
        params.push(("state", st));
    }
    params.push(("iss", s.endpoints.issuer.as_str()));
    let mut resp = redirect(&with_params(redirect_uri, &params));
    let _ = resp.add_cookie(&cookie(s, SESSION_COOKIE, session.id.clone()));
    Ok(resp)
}

async fn authorize(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<AuthorizeQuery>,
) -> HttpResponse {
    let t = texts(lang(&req, q.lang.as_deref()));
    let client = q.client_id.as_deref().and_then(|id| s.settings.client(id));
    let redirect_uri = q.redirect_uri.as_deref().unwrap_or("");
    let Some(client) = client.filter(|c| c.redirect_uris.iter().any(|r| r == redirect_uri)) else {
        return message(t, actix_web::http::StatusCode::BAD_REQUEST, t.error_client);
    };
    let back = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(st) = q.state.as_deref() {
            params.push(("state", st));
        }
        redirect(&with_params(redirect_uri, &params))
    };
    if q.response_type.as_deref() != Some("code") {
        return back("unsupported_response_type", "response_type must be code");
    }
    let scope = q.scope.as_deref().unwrap_or("");
    if !scope.split(' ').any(|x| x == "openid") {
        return back("invalid_scope", "scope must contain openid");
    }
    let challenge = q.code_challenge.as_deref().unwrap_or("");
    if challenge.len() < 43 || q.code_challenge_method.as_deref() != Some("S256") {
        return back("invalid_request", "PKCE with S256 is required");
    }
    if let Some(acr) = q.acr_values.as_deref()
        && !acr.split(' ').any(|a| a == ACR_EIDAS1)
    {
        return back("invalid_request", "acr_values must be eidas1");
    }
    let now = now();
    let forced = q
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|x| x == "login"));
    let result = async {
        if !forced && let Some(session) = browser_session(&s, &req, now).await? {
            s.store.touch_session(&session.id, now).await?;
            return finish_with_code(
                &s,
                &session,
                &client.client_id,
                redirect_uri,
                scope,
                q.state.as_deref(),
                q.nonce.as_deref(),
                challenge,
            )
            .await;
        }
        if let Some(alias) = q.kc_idp_hint.as_deref().filter(|a| !a.is_empty()) {
            let service = broker::ServiceRequest {
                client_id: &client.client_id,
                redirect_uri,
                scope,
                state: q.state.as_deref(),
                nonce: q.nonce.as_deref(),
                code_challenge: challenge,
                login_again: forced,
            };
            return Ok(broker::start(&s, &req, t, alias, &service).await);
        }
        let (csrf, set) = csrf_token(&s, &req);
        let request = Request {
            id: random_token(24),
            kind: store::KIND_LOGIN.into(),
            client_id: client.client_id.clone(),
            idnat: None,
            binding_message: String::new(),
            channel: Channel::Mobile.as_str().into(),
            scope: scope.to_owned(),
            status: status::PROMPT.into(),
            created_at: now,
            expires_at: now + PROMPT_SECS,
            interval_secs: s.settings.ciba_interval as i64,
            last_poll_at: None,
            browser: Some(browser_of(&csrf)),
            redirect_uri: Some(redirect_uri.to_owned()),
            state: q.state.clone(),
            nonce: q.nonce.clone(),
            code_challenge: Some(challenge.to_owned()),
            session_id: None,
            source: source_of(&req),
        };
        match s
            .store
            .insert_request_capped(&request, s.settings.caps())
            .await?
        {
            Admitted::Inserted => {}
            Admitted::AddressFull => return Ok(busy(t, t.error_busy_address, &s)),
            Admitted::SandboxFull => return Ok(busy(t, t.error_busy, &s)),
        }
        let page = LoginPage {
            t,
            csrf: &csrf,
            req: &request.id,
            idnat: "",
            error: "",
        };
        let mut resp = html(actix_web::http::StatusCode::OK, page.render());
        if let Some(c) = set {
            let _ = resp.add_cookie(&c);
        }
        Ok::<_, anyhow::Error>(resp)
    };
    result.await.unwrap_or_else(|e| failure(t, e))
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    req: String,
    idnat: String,
    lang: Option<String>,
}

/// A login request of this browser that is still at `expected` status.
async fn own_request(
    s: &Sandbox,
    req: &HttpRequest,
    id: &str,
    t: &'static Texts,
) -> Result<Request, HttpResponse> {
    use actix_web::http::StatusCode;
    let found = s.store.request(id).await.map_err(|e| failure(t, e))?;
    let Some(r) = found.filter(|r| r.kind == store::KIND_LOGIN) else {
        return Err(message(t, StatusCode::BAD_REQUEST, t.error_request));
    };
    let cookie = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if r.browser.as_deref() != Some(browser_of(&cookie).as_str()) || cookie.is_empty() {
        return Err(message(t, StatusCode::FORBIDDEN, t.error_browser));
    }
    Ok(r)
}

async fn login(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let t = texts(lang(&req, form.lang.as_deref()));
    if !csrf_ok(&req, &form.csrf) {
        return message(t, StatusCode::FORBIDDEN, t.error_csrf);
    }
    let r = match own_request(&s, &req, &form.req, t).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let now = now();
    if r.status != status::PROMPT || r.expires_at <= now {
        return message(t, StatusCode::BAD_REQUEST, t.error_request);
    }
    let again = |error: &str| {
        let page = LoginPage {
            t,
            csrf: &form.csrf,
            req: &r.id,
            idnat: &form.idnat,
            error,
        };
        html(StatusCode::BAD_REQUEST, page.render())
    };
    let Ok(idnat) = IdNat::parse(&form.idnat) else {
        return again(t.idnat_invalid);
    };
    if s.directory.get(&idnat).is_none() {
        return again(t.idnat_unknown);
    }
    let expires = now + s.settings.ciba_expires_in as i64;
    match s
        .store
        .start_login(&r.id, idnat.as_str(), &two_digits(), expires)
        .await
    {
        Ok(true) => redirect(&format!("/wallet/auth/wait?req={}&lang={}", r.id, t.lang)),
        Ok(false) => message(t, StatusCode::BAD_REQUEST, t.error_request),
        Err(e) => failure(t, e),
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    req: String,
    lang: Option<String>,
}

async fn wait(s: web::Data<Sandbox>, req: HttpRequest, q: web::Query<WaitQuery>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let t = texts(lang(&req, q.lang.as_deref()));
    let r = match own_request(&s, &req, &q.req, t).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let now = now();
    let redirect_uri = r.redirect_uri.clone().unwrap_or_default();
    let back = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(st) = r.state.as_deref() {
            params.push(("state", st));
        }
        redirect(&with_params(&redirect_uri, &params))
    };
    match r.status.as_str() {
        status::PENDING if r.expires_at > now => {
            let page = WaitPage {
                t,
                binding: &r.binding_message,
                refresh: s.settings.ciba_interval.max(1),
            };
            html(StatusCode::OK, page.render())
        }
        status::PENDING => back("access_denied", "the request expired"),
        status::DENIED => back("access_denied", "refused by the professional"),
        status::APPROVED => {
            let result = async {
                if !s.store.consume(&r.id, now).await? {
                    return Ok(message(t, StatusCode::BAD_REQUEST, t.error_request));
                }
                let session =
                    open_session(&s, r.idnat.as_deref().unwrap_or(""), &r.channel).await?;
                finish_with_code(
                    &s,
                    &session,
                    &r.client_id,
                    &redirect_uri,
                    &r.scope,
                    r.state.as_deref(),
                    r.nonce.as_deref(),
                    r.code_challenge.as_deref().unwrap_or(""),
                )
                .await
            };
            result.await.unwrap_or_else(|e| failure(t, e))
        }
        _ => message(t, StatusCode::BAD_REQUEST, t.error_request),
    }
}

#[derive(Deserialize)]
struct PhoneQuery {
    idnat: Option<String>,
    done: Option<String>,
    lang: Option<String>,
}

async fn phone(s: web::Data<Sandbox>, req: HttpRequest, q: web::Query<PhoneQuery>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let t = texts(lang(&req, q.lang.as_deref()));
    let (csrf, set) = csrf_token(&s, &req);
    let raw = q.idnat.as_deref().unwrap_or("").trim();
    let message_text = match q.done.as_deref() {
        Some("approved") => t.done_approved,
        Some("refused") => t.done_refused,
        Some("gone") => t.done_gone,
        _ => "",
    };
    let mut page = PhonePage {
        t,
        csrf: &csrf,
        idnat: raw,
        name: String::new(),
        message: message_text,
        error: "",
        requests: Vec::new(),
    };
    let mut status_code = StatusCode::OK;
    if !raw.is_empty() {
        match IdNat::parse(raw).ok().and_then(|i| s.directory.get(&i)) {
            None => {
                page.error = t.idnat_unknown;
                status_code = StatusCode::NOT_FOUND;
            }
            Some(p) => {
                page.name = format!(
                    "{} {}",
                    p.claims.given_name.as_deref().unwrap_or(""),
                    p.claims.family_name.as_deref().unwrap_or("")
                )
                .trim()
                .to_owned();
                match s.store.pending_for(p.idnat.as_str(), now()).await {
                    Ok(rows) => {
                        page.requests = rows
                            .into_iter()
                            .map(|r| PhoneRow {
                                kind: match r.kind.as_str() {
                                    store::KIND_CIBA => t.kind_ciba,
                                    broker::KIND_PAIRING => {
                                        broker_texts(lang(&req, q.lang.as_deref())).kind_pairing
                                    }
                                    _ => t.kind_login,
                                },
                                id: r.id,
                                binding: r.binding_message,
                                client: r.client_id,
                                channel: r.channel,
                            })
                            .collect();
                    }
                    Err(e) => return failure(t, e),
                }
            }
        }
    }
    let mut resp = html(status_code, page.render());
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    idnat: String,
    req: String,
    decision: String,
    lang: Option<String>,
}

async fn decide(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    form: web::Form<DecideForm>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let t = texts(lang(&req, form.lang.as_deref()));
    if !csrf_ok(&req, &form.csrf) {
        return message(t, StatusCode::FORBIDDEN, t.error_csrf);
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => return message(t, StatusCode::BAD_REQUEST, t.error_request),
    };
    let idnat = form.idnat.trim();
    match s.store.decide(&form.req, idnat, approve, now()).await {
        Ok(changed) => {
            let done = match (changed, approve) {
                (false, _) => "gone",
                (true, true) => "approved",
                (true, false) => "refused",
            };
            tracing::info!(idnat = %idnat, decision = %done, "e-CPS phone decision");
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("idnat", idnat)
                .append_pair("done", done)
                .append_pair("lang", t.lang)
                .finish();
            redirect(&format!("/ecps?{query}"))
        }
        Err(e) => failure(t, e),
    }
}

#[derive(Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    lang: Option<String>,
}

async fn logout_get(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<LogoutParams>,
) -> HttpResponse {
    browser_logout(&s, &req, q.into_inner()).await
}

async fn logout_post(s: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(resp) = client_logout(&s, &req, &body).await {
        return resp;
    }
    match serde_urlencoded::from_bytes::<LogoutParams>(&body) {
        Ok(p) => browser_logout(&s, &req, p).await,
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

/// RP-initiated logout: ends the browser's session (and the one `id_token_hint` names), then
/// returns to a registered `post_logout_redirect_uri` or shows that the session ended.
async fn browser_logout(s: &Sandbox, req: &HttpRequest, p: LogoutParams) -> HttpResponse {
    use actix_web::http::StatusCode;
    let t = texts(lang(req, p.lang.as_deref()));
    let hint = p
        .id_token_hint
        .as_deref()
        .and_then(|h| s.keys.verify(h, i64::MIN));
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(|a| a.as_str())
        .map(str::to_owned);
    let mut sessions: Vec<String> = Vec::new();
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        sessions.push(c.value().to_owned());
    }
    if let Some(sid) = hint
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(|v| v.as_str())
    {
        sessions.push(sid.to_owned());
    }
    for id in &sessions {
        if let Err(e) = s.store.end_session(id).await {
            return failure(t, e);
        }
    }
    let client_id = hinted_client.or(p.client_id);
    let target = p.post_logout_redirect_uri.as_deref().filter(|uri| {
        client_id
            .as_deref()
            .and_then(|id| s.settings.client(id))
            .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri))
    });
    let mut resp = match target {
        Some(uri) => {
            let params: Vec<(&str, &str)> = p
                .state
                .as_deref()
                .map(|st| ("state", st))
                .into_iter()
                .collect();
            redirect(&with_params(uri, &params))
        }
        None => message(t, StatusCode::OK, t.logged_out_text),
    };
    let mut gone = cookie(s, SESSION_COOKIE, String::new());
    gone.make_removal();
    let _ = resp.add_cookie(&gone);
    resp
}
