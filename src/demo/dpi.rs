//! The demo's stand-in for a DPI under `/demo`: a client of this very server.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Callback, Returned, returned, start_flow};
use crate::crypto::{random_token, s256};
use crate::oidc::mint;
use crate::psc::client::PendingAuthorization;
use crate::state::AppState;
use crate::ui::error::{not_found, page};
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

/// The demo user's password, shown on the demo page.
pub const PASSWORD: &str = "trousseau-demo";
const RP_COOKIE: &str = "__Host-demo_rp";

/// The demo relying party's registration.
#[derive(Debug, Clone)]
pub struct DemoRp {
    pub client_id: String,
    pub client_secret: String,
    pub base: String,
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct DemoPage {
    chrome: Chrome,
    claims: Option<String>,
    logout_href: String,
    password: &'static str,
}

fn demo_page(req: &HttpRequest, claims: Option<String>, logout_href: String) -> HttpResponse {
    let mut chrome = Chrome::new(req, Lang::Fr);
    chrome.switch_href.clear();
    render_with(
        HttpResponse::Ok(),
        &DemoPage {
            chrome,
            claims,
            logout_href,
            password: PASSWORD,
        },
    )
}

pub fn configure(cfg: &mut web::ServiceConfig, rp: web::Data<DemoRp>) {
    cfg.app_data(rp)
        .route("/demo", web::get().to(demo_home))
        .route("/demo/login", web::get().to(demo_login))
        .route("/demo/callback", web::get().to(demo_callback));
}

pub async fn demo_home(req: HttpRequest) -> HttpResponse {
    demo_page(&req, None, String::new())
}

pub async fn demo_login(req: HttpRequest, rp: web::Data<DemoRp>) -> HttpResponse {
    let pending = PendingAuthorization {
        state: random_token(16),
        nonce: random_token(16),
        pkce_verifier: random_token(32),
    };
    let mut url = match url::Url::parse(&format!("{}/authorize", rp.base)) {
        Ok(u) => u,
        Err(_) => return not_found(req).await,
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &rp.client_id)
        .append_pair("redirect_uri", &format!("{}/demo/callback", rp.base))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &s256(&pending.pkce_verifier))
        .append_pair("code_challenge_method", "S256");
    start_flow(RP_COOKIE, &pending, &url)
}

pub async fn demo_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    rp: web::Data<DemoRp>,
    q: web::Query<Callback>,
) -> HttpResponse {
    let (pending, code) = match returned(&req, RP_COOKIE, &q) {
        Returned::Code { pending, code } => (pending, code),
        Returned::NoCode { .. } => return demo_page(&req, None, String::new()),
        Returned::Foreign => return Returned::foreign(&req),
    };
    let response = state
        .http
        .post(format!("{}/token", local_base(&state)))
        .basic_auth(&rp.client_id, Some(&rp.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &format!("{}/demo/callback", rp.base)),
            ("code_verifier", pending.pkce_verifier.as_str()),
        ])
        .send()
        .await;
    let body: serde_json::Value = match response {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => return page(&req, StatusCode::BAD_GATEWAY, |t| t.server_error),
    };
    let Some(id_token) = body.get("id_token").and_then(|v| v.as_str()) else {
        return page(&req, StatusCode::BAD_GATEWAY, |t| t.server_error);
    };
    let Ok(keys) = state.keys.get().await else {
        return page(&req, StatusCode::BAD_GATEWAY, |t| t.server_error);
    };
    let claims = match mint::verify(
        &keys,
        &state.settings.issuer(),
        id_token,
        Some("JWT"),
        Some(state.clock.now()),
    ) {
        Ok(c) if c.get("nonce").and_then(|n| n.as_str()) == Some(pending.nonce.as_str()) => c,
        _ => return page(&req, StatusCode::BAD_GATEWAY, |t| t.server_error),
    };
    let mut logout = url::Url::parse(&format!("{}/logout", rp.base)).ok();
    if let Some(u) = logout.as_mut() {
        u.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", &format!("{}/demo", rp.base));
    }
    let pretty = serde_json::to_string_pretty(&claims).unwrap_or_default();
    demo_page(
        &req,
        Some(pretty),
        logout.map(|u| u.to_string()).unwrap_or_default(),
    )
}

/// Where this process can reach itself (the bind address, not the public name).
fn local_base(state: &AppState) -> String {
    format!("http://{}", state.settings.http.bind)
}
