//! The demo relying parties of `trousseau demo`, mounted only there (a production server has
//! no `/demo` route at all):
//! - [`dpi`], under `/demo`: a stand-in for a hospital's patient record (DPI), a client of this
//!   very server;
//! - [`dmp`], under `/demo/dmp`: a stand-in for a national service, "DMP (démonstration)", a
//!   client of the Pro Santé Connect sandbox that asks PSC to send the professional to this
//!   server (`kc_idp_hint`).
//!
//! Both use the authorization code flow with PKCE. What a flow must remember until its callback
//! (state, nonce, PKCE verifier) is kept in an HttpOnly cookie of its own, so both can run in
//! the same browser at once.

pub mod dmp;
pub mod dpi;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::psc::client::PendingAuthorization;
use crate::ui::error::page;

pub use dmp::DemoDmp;
pub use dpi::{DemoRp, PASSWORD};

/// The relying parties `trousseau demo` serves.
#[derive(Clone)]
pub struct DemoApps {
    pub dpi: DemoRp,
    /// The national service, when the PSC sandbox runs beside.
    pub dmp: Option<DemoDmp>,
}

/// Registers the demo pages.
pub fn configure(cfg: &mut web::ServiceConfig, apps: &DemoApps) {
    dpi::configure(cfg, web::Data::new(apps.dpi.clone()));
    if let Some(dmp) = &apps.dmp {
        dmp::configure(cfg, web::Data::new(dmp.clone()));
    }
}

/// The query a relying party's callback receives.
#[derive(serde::Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// What came back to a callback.
enum Returned {
    /// A code answering the flow this browser started.
    Code {
        pending: PendingAuthorization,
        code: String,
    },
    /// The provider ended the flow without a code (`error`, or the person went back).
    NoCode { error: Option<String> },
    /// A code for another flow, or for none this browser remembers.
    Foreign,
}

impl Returned {
    /// The page for [`Returned::Foreign`]: the request expired (400).
    fn foreign(req: &HttpRequest) -> HttpResponse {
        page(req, StatusCode::BAD_REQUEST, |t| t.err_flow)
    }
}

/// Sends the browser to `to`, remembering `pending` in the cookie `name`.
fn start_flow(name: &'static str, pending: &PendingAuthorization, to: &url::Url) -> HttpResponse {
    let value = format!(
        "{}.{}.{}",
        pending.state, pending.nonce, pending.pkce_verifier
    );
    let cookie = Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

/// Checks a callback against the flow remembered in the cookie `name`: a code must come back
/// with the flow's own `state`.
fn returned(req: &HttpRequest, name: &str, q: &Callback) -> Returned {
    let (Some(code), Some(state)) = (&q.code, &q.state) else {
        let error = q.error.as_ref().map(|e| match &q.error_description {
            Some(d) => format!("{e} ({d})"),
            None => e.clone(),
        });
        tracing::info!(error = ?error, "demo: authorization ended without a code");
        return Returned::NoCode { error };
    };
    let saved = req
        .cookie(name)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let mut parts = saved.splitn(3, '.').map(str::to_owned);
    let pending = PendingAuthorization {
        state: parts.next().unwrap_or_default(),
        nonce: parts.next().unwrap_or_default(),
        pkce_verifier: parts.next().unwrap_or_default(),
    };
    if pending.state.is_empty() || *state != pending.state {
        return Returned::Foreign;
    }
    Returned::Code {
        pending,
        code: code.clone(),
    }
}
