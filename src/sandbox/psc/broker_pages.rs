//! The broker's screens (psc.md, pairing): the pairing screen on first use of an establishment
//! account (the IdNat, then approval on the e-CPS phone page), and the confirmation screen on
//! later logins ("Confirmer" / "Annuler et utiliser un autre moyen").

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::broker::{self, KIND_PAIRING, lang_of, own_login, refusal, service_error};
use super::broker_store::{BrokerLogin, step};
use super::broker_texts::{BrokerTexts, broker_texts};
use super::oauth::now;
use super::pages::{self, csrf_ok, csrf_token, failure, html, redirect, two_digits};
use super::server::Sandbox;
use super::store::{Request, status};
use super::texts::{Texts, texts};
use crate::crypto::random_token;
use crate::identity::IdNat;
use crate::psc::protocol::{Channel, SANDBOX_AUTHORIZE_PATH};

/// How many professionals the pairing screen offers to choose from.
const CHOICES: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/wallet/broker/pair", web::get().to(pair_page))
        .route("/wallet/broker/pair", web::post().to(pair_submit))
        .route("/wallet/broker/pair/wait", web::get().to(pair_wait))
        .route("/wallet/broker/confirm", web::get().to(confirm_page))
        .route("/wallet/broker/confirm", web::post().to(confirm_submit));
}

#[derive(Template)]
#[template(path = "sandbox/broker_pair.html")]
struct PairPage<'a> {
    t: &'static Texts,
    b: &'static BrokerTexts,
    csrf: &'a str,
    login: &'a str,
    account: &'a str,
    alias: &'a str,
    idnat: &'a str,
    error: &'a str,
    professionals: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "sandbox/broker_wait.html")]
struct WaitPage<'a> {
    t: &'static Texts,
    b: &'static BrokerTexts,
    binding: &'a str,
    refresh: u64,
}

#[derive(Template)]
#[template(path = "sandbox/broker_confirm.html")]
struct ConfirmPage<'a> {
    t: &'static Texts,
    b: &'static BrokerTexts,
    csrf: &'a str,
    login: &'a str,
    name: &'a str,
    account: &'a str,
    alias: &'a str,
}

#[derive(Deserialize)]
struct LoginQuery {
    login: String,
    lang: Option<String>,
}

fn name_of(s: &Sandbox, idnat: &str) -> String {
    let p = IdNat::parse(idnat).ok().and_then(|i| s.directory.get(&i));
    let Some(p) = p else {
        return idnat.to_owned();
    };
    let given = p.claims.given_name.as_deref().unwrap_or("");
    let family = p.claims.family_name.as_deref().unwrap_or("");
    format!("{given} {family}").trim().to_owned()
}

fn pair_form(
    s: &Sandbox,
    t: &'static Texts,
    csrf: &str,
    l: &BrokerLogin,
    idnat: &str,
    error: &str,
) -> askama::Result<String> {
    let mut professionals: Vec<(String, String)> = s
        .directory
        .professionals()
        .map(|p| (p.idnat.to_string(), name_of(s, p.idnat.as_str())))
        .collect();
    professionals.sort();
    professionals.truncate(CHOICES);
    PairPage {
        t,
        b: broker_texts(lang_of(t)),
        csrf,
        login: &l.id,
        account: l.account.as_deref().unwrap_or(""),
        alias: &l.alias,
        idnat,
        error,
        professionals,
    }
    .render()
}

async fn pair_page(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, q.lang.as_deref()));
    let l = match own_login(&s, &req, &q.login, step::VERIFIED, t).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let (csrf, set) = csrf_token(&s, &req);
    let mut resp = html(StatusCode::OK, pair_form(&s, t, &csrf, &l, "", ""));
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

#[derive(Deserialize)]
struct PairForm {
    csrf: String,
    login: String,
    idnat: String,
    lang: Option<String>,
}

/// Sends the pairing request to the phone of the IdNat given.
async fn pair_submit(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    form: web::Form<PairForm>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, form.lang.as_deref()));
    if !csrf_ok(&req, &form.csrf) {
        return pages::message(t, StatusCode::FORBIDDEN, t.error_csrf);
    }
    let l = match own_login(&s, &req, &form.login, step::VERIFIED, t).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let again = |error| {
        html(
            StatusCode::BAD_REQUEST,
            pair_form(&s, t, &form.csrf, &l, &form.idnat, error),
        )
    };
    let Ok(idnat) = IdNat::parse(form.idnat.trim()) else {
        return again(t.idnat_invalid);
    };
    if s.directory.get(&idnat).is_none() {
        return again(t.idnat_unknown);
    }
    let now = now();
    let request = Request {
        id: random_token(24),
        kind: KIND_PAIRING.into(),
        client_id: l.alias.clone(),
        idnat: Some(idnat.to_string()),
        binding_message: two_digits(),
        channel: Channel::Mobile.as_str().into(),
        scope: String::new(),
        status: status::PENDING.into(),
        created_at: now,
        expires_at: now + s.settings.ciba_expires_in as i64,
        interval_secs: s.settings.ciba_interval as i64,
        last_poll_at: None,
        browser: Some(l.browser.clone()),
        redirect_uri: None,
        state: None,
        nonce: None,
        code_challenge: None,
        session_id: None,
        source: super::oauth::source_of(&req),
    };
    let result = async {
        s.store.insert_request(&request).await?;
        if !s
            .broker
            .store
            .start_pairing(&l.id, &request.id, now)
            .await?
        {
            return Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
        }
        let to = format!("/wallet/broker/pair/wait?login={}&lang={}", l.id, t.lang);
        Ok::<_, anyhow::Error>(redirect(&to))
    };
    result.await.unwrap_or_else(|e| failure(t, e))
}

/// Waits for the phone; once approved, binds the account to the IdNat and finishes.
async fn pair_wait(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, q.lang.as_deref()));
    let b = broker_texts(lang_of(t));
    let l = match own_login(&s, &req, &q.login, step::PAIRING, t).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let now = now();
    let result = async {
        let id = l.request_id.as_deref().unwrap_or("");
        let Some(r) = s
            .store
            .request(id)
            .await?
            .filter(|r| r.kind == KIND_PAIRING)
        else {
            return Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
        };
        let refused = |text, reason: &str| {
            let back = service_error(&s, &l, "access_denied", reason);
            refusal(t, StatusCode::FORBIDDEN, text, reason, Some(back))
        };
        match r.status.as_str() {
            status::PENDING if r.expires_at > now => {
                let refresh = s.settings.ciba_interval.max(1);
                let page = WaitPage {
                    t,
                    b,
                    binding: &r.binding_message,
                    refresh,
                };
                Ok(html(StatusCode::OK, page.render()))
            }
            status::APPROVED => {
                if !s.store.consume(&r.id, now).await? {
                    return Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
                }
                let idnat = r.idnat.clone().unwrap_or_default();
                let (tid, oid) = (
                    l.tid.as_deref().unwrap_or(""),
                    l.oid.as_deref().unwrap_or(""),
                );
                let until = now + s.settings.pairing_secs();
                s.broker
                    .store
                    .pair(tid, oid, &idnat, &l.alias, now, until)
                    .await?;
                tracing::info!(alias = %l.alias, tid, oid, idnat = %idnat, "account paired");
                let done = broker::finish(&s, &l, step::PAIRING, &idnat).await?;
                Ok(done
                    .unwrap_or_else(|| pages::message(t, StatusCode::BAD_REQUEST, t.error_request)))
            }
            status::DENIED => {
                s.broker
                    .store
                    .advance(&l.id, step::PAIRING, step::FAILED, now)
                    .await?;
                Ok(refused(b.pairing_refused, "pairing_refused"))
            }
            _ => {
                s.broker
                    .store
                    .advance(&l.id, step::PAIRING, step::FAILED, now)
                    .await?;
                Ok(refused(b.pairing_expired, "pairing_expired"))
            }
        }
    };
    result
        .await
        .unwrap_or_else(|e: anyhow::Error| failure(t, e))
}

async fn confirm_page(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, q.lang.as_deref()));
    let l = match own_login(&s, &req, &q.login, step::VERIFIED, t).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let (tid, oid) = (
        l.tid.as_deref().unwrap_or(""),
        l.oid.as_deref().unwrap_or(""),
    );
    let pairing = match s.broker.store.pairing(tid, oid, now()).await {
        Ok(Some(p)) => p,
        Ok(None) => return redirect(&format!("/wallet/broker/pair?login={}", l.id)),
        Err(e) => return failure(t, e),
    };
    let (csrf, set) = csrf_token(&s, &req);
    let name = name_of(&s, &pairing.idnat);
    let page = ConfirmPage {
        t,
        b: broker_texts(lang_of(t)),
        csrf: &csrf,
        login: &l.id,
        name: &name,
        account: l.account.as_deref().unwrap_or(""),
        alias: &l.alias,
    };
    let mut resp = html(StatusCode::OK, page.render());
    if let Some(c) = set {
        let _ = resp.add_cookie(&c);
    }
    resp
}

#[derive(Deserialize)]
struct ConfirmForm {
    csrf: String,
    login: String,
    decision: String,
    lang: Option<String>,
}

/// "Confirmer" finishes with the paired IdNat; "Annuler et utiliser un autre moyen" goes back
/// to PSC's own login for the same service request.
async fn confirm_submit(
    s: web::Data<Sandbox>,
    req: HttpRequest,
    form: web::Form<ConfirmForm>,
) -> HttpResponse {
    let t = texts(pages::lang(&req, form.lang.as_deref()));
    if !csrf_ok(&req, &form.csrf) {
        return pages::message(t, StatusCode::FORBIDDEN, t.error_csrf);
    }
    let l = match own_login(&s, &req, &form.login, step::VERIFIED, t).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let now = now();
    let result = async {
        match form.decision.as_str() {
            "confirm" => {
                let (tid, oid) = (
                    l.tid.as_deref().unwrap_or(""),
                    l.oid.as_deref().unwrap_or(""),
                );
                let Some(p) = s.broker.store.pairing(tid, oid, now).await? else {
                    return Ok(redirect(&format!("/wallet/broker/pair?login={}", l.id)));
                };
                let done = broker::finish(&s, &l, step::VERIFIED, &p.idnat).await?;
                Ok(done
                    .unwrap_or_else(|| pages::message(t, StatusCode::BAD_REQUEST, t.error_request)))
            }
            "other" => {
                if !s
                    .broker
                    .store
                    .advance(&l.id, step::VERIFIED, step::FAILED, now)
                    .await?
                {
                    return Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request));
                }
                Ok(redirect(&other_means_url(&l, t)))
            }
            _ => Ok(pages::message(t, StatusCode::BAD_REQUEST, t.error_request)),
        }
    };
    result
        .await
        .unwrap_or_else(|e: anyhow::Error| failure(t, e))
}

/// The service's request again, without `kc_idp_hint`: PSC's own login page.
fn other_means_url(l: &BrokerLogin, t: &Texts) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", l.client_id.as_str()),
        ("redirect_uri", l.redirect_uri.as_str()),
        ("scope", l.scope.as_str()),
        ("code_challenge", l.code_challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("lang", t.lang),
    ];
    if let Some(st) = l.state.as_deref() {
        params.push(("state", st));
    }
    if let Some(n) = l.nonce.as_deref() {
        params.push(("nonce", n));
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{SANDBOX_AUTHORIZE_PATH}?{query}")
}
