//! Cookies: the SSO session and the CSRF token, both `__Host-` (Secure, Path=/, no Domain),
//! HttpOnly and SameSite=Lax. CSRF is a double-submit token plus an Origin check.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::crypto::{ct_eq, random_token};

pub const SESSION: &str = "__Host-trousseau_session";
pub const CSRF: &str = "__Host-trousseau_csrf";
pub const LANG: &str = "__Host-trousseau_lang";
/// The browser binding: a random value that ties authorization flows to the browser that
/// started them (the flow stores its hash).
pub const BINDING: &str = "__Host-trousseau_binding";
/// The authorization flow waiting for a pairing (Pro Santé Connect's broker), for the pairing
/// page's "Continuer"; the flow is checked again when it resumes.
pub const RESUME: &str = "__Host-trousseau_resume";

fn host_cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish()
}

/// The session cookie (a browser-session cookie: the server decides expiry).
pub fn session(value: String) -> Cookie<'static> {
    host_cookie(SESSION, value)
}

pub fn clear_session() -> Cookie<'static> {
    let mut c = host_cookie(SESSION, String::new());
    c.set_max_age(Duration::ZERO);
    c
}

/// Remembers for 30 minutes the flow that waits for a pairing.
pub fn resume(flow: &str) -> Cookie<'static> {
    let mut c = host_cookie(RESUME, flow.to_owned());
    c.set_max_age(Duration::minutes(30));
    c
}

/// Forgets the flow that waited for a pairing (it has resumed).
pub fn clear_resume() -> Cookie<'static> {
    let mut c = host_cookie(RESUME, String::new());
    c.set_max_age(Duration::ZERO);
    c
}

pub fn lang(value: &str) -> Cookie<'static> {
    let mut c = host_cookie(LANG, value.to_owned());
    c.set_max_age(Duration::days(365));
    c
}

/// This browser's binding value, and the cookie to set when it is new.
pub fn binding(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match presented_binding(req) {
        Some(v) => (v, None),
        None => {
            let v = random_token(32);
            (v.clone(), Some(host_cookie(BINDING, v)))
        }
    }
}

/// The binding value the browser presented, if any.
pub fn presented_binding(req: &HttpRequest) -> Option<String> {
    req.cookie(BINDING)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32 && v.len() <= 64)
}

/// The session token presented by the browser.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The CSRF token for forms of this page, and the cookie to set when it is new.
pub fn csrf(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req
        .cookie(CSRF)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32)
    {
        Some(v) => (v, None),
        None => {
            let v = random_token(32);
            (v.clone(), Some(host_cookie(CSRF, v)))
        }
    }
}

/// Whether a form post carries the token of its cookie and comes from our own origin.
pub fn csrf_ok(req: &HttpRequest, presented: Option<&str>, public_origin: &str) -> bool {
    if let Some(origin) = req.headers().get("origin").and_then(|o| o.to_str().ok())
        && origin != public_origin
    {
        return false;
    }
    match (req.cookie(CSRF), presented) {
        (Some(c), Some(p)) if c.value().len() >= 32 => ct_eq(c.value(), p),
        _ => false,
    }
}
