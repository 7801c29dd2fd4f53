//! The extractors every page shares: the current session (optional or required), a posted form
//! whose CSRF token was checked, and the page's language. Each reads only its own app data.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use anyhow::Context;
use futures_util::future::LocalBoxFuture;

use super::context::context_of;
use super::cookies;
use super::error::{PageError, req_lang};
use super::i18n::Lang;
use super::toolkit::WebSettings;
use crate::audit::{Audit, AuditEvent};
use crate::oidc::params::Params;
use crate::session::{Session, SessionReader};

/// The language of a page outside any authorization request: the `lang` parameter, the
/// language cookie, Accept-Language, then French.
#[derive(Debug, Clone, Copy)]
pub struct PageLang(pub Lang);

impl FromRequest for PageLang {
    type Error = actix_web::Error;
    type Future = Ready<Result<PageLang, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(PageLang(Lang::negotiate(
            req,
            None,
            req_lang(req).as_deref(),
        ))))
    }
}

/// The live session of this browser, if any. A session that cannot be read is an unexpected
/// error: a page never takes an unreadable session for none (a logout would then end nothing).
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Option<Session>);

impl CurrentSession {
    /// The session, or off to `login` to open one.
    pub fn require(self, login: impl Into<String>) -> Result<Session, PageError> {
        self.0.ok_or_else(|| PageError::SessionRequired {
            login: login.into(),
        })
    }
}

async fn read_session(req: &HttpRequest) -> Result<Option<Session>, PageError> {
    let Some(reader) = req.app_data::<web::Data<SessionReader>>().cloned() else {
        return Err(anyhow::anyhow!("the session reader is not registered").into());
    };
    let token = cookies::session_token(req);
    let session = reader
        .from_cookie(token.as_deref())
        .await
        .context("cannot read the session")?;
    Ok(session)
}

impl FromRequest for CurrentSession {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<CurrentSession, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { read_session(&req).await.map(CurrentSession) })
    }
}

/// The live session of this browser; without one, a POST goes back to the page it was posted
/// from (its parent path: `/keys/rename` to `/keys`), where the login starts, and a GET goes
/// home.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

/// Where a request without a session is sent.
fn login_of(req: &HttpRequest) -> String {
    if req.method() != actix_web::http::Method::POST {
        return "/".to_owned();
    }
    match req.path().rsplit_once('/') {
        Some((parent, _)) if !parent.is_empty() => parent.to_owned(),
        _ => "/".to_owned(),
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<SignedIn, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let login = login_of(&req);
            let current = CurrentSession(read_session(&req).await?);
            current.require(login).map(SignedIn)
        })
    }
}

/// What a checked form is audited as when it is refused.
pub trait FormKind {
    /// The audit event kind of a refusal (with reason `csrf`).
    const AUDIT: &'static str;
}

macro_rules! form_kinds {
    ($($(#[$doc:meta])* $name:ident => $kind:literal;)*) => {
        $($(#[$doc])* #[derive(Debug)] pub struct $name; impl FormKind for $name {
            const AUDIT: &'static str = $kind;
        })*
    };
}

form_kinds! {
    /// The login forms (password, security key).
    LoginForm => "login";
    /// "Not me": ends the session.
    SwitchUserForm => "logout";
    ConsentForm => "consent";
    PasswordChangeForm => "password_change";
    KeyEnrolForm => "security_key_enrolled";
    KeyChangeForm => "security_key_changed";
    /// The pairing page's start and cancel.
    PairingForm => "pairing_started";
    /// "Activer une clé avec l'application e-CPS".
    EcpsEnrolForm => "ecps_enrolment_started";
}

/// A posted form whose CSRF token matches its cookie and whose `Origin`, when sent, is ours.
/// A refusal is audited as `K::AUDIT` with reason `csrf` and answered with the error page; an
/// unreadable or oversized body keeps the payload error (answered by `rejected::body`).
#[derive(Debug)]
pub struct CheckedForm<K> {
    pub form: Params,
    kind: PhantomData<K>,
}

impl<K> CheckedForm<K> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form.get(key)
    }

    pub fn into_inner(self) -> Params {
        self.form
    }
}

impl<K: FormKind + 'static> FromRequest for CheckedForm<K> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<CheckedForm<K>, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await?;
            let Ok(form) = Params::parse(&body) else {
                return Err(PageError::BadRequest(|t| t.err_csrf).into());
            };
            let origin = req
                .app_data::<web::Data<WebSettings>>()
                .map(|s| s.origin.clone())
                .unwrap_or_default();
            if !cookies::csrf_ok(&req, form.get("csrf"), &origin) {
                if let Some(audit) = req.app_data::<web::Data<Audit>>() {
                    audit
                        .record(AuditEvent::failure(K::AUDIT, "csrf").context(&context_of(&req)))
                        .await;
                } else {
                    tracing::error!("the audit log is not registered: a CSRF refusal is lost");
                }
                return Err(PageError::Forbidden(|t| t.err_csrf).into());
            }
            Ok(CheckedForm {
                form,
                kind: PhantomData,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::http::header::LOCATION;
    use actix_web::middleware::from_fn;
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, HttpResponse};

    use crate::ui::error::render_errors;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_post_without_a_session_goes_back_to_its_page() {
        let post = |path| TestRequest::post().uri(path).to_http_request();
        assert_eq!(login_of(&post("/keys/rename")), "/keys");
        assert_eq!(login_of(&post("/consent")), "/");
        assert_eq!(
            login_of(&TestRequest::get().uri("/keys").to_http_request()),
            "/"
        );
    }

    #[actix_web::test]
    async fn the_language_follows_the_parameter_then_the_browser() {
        let req = TestRequest::get()
            .uri("/?lang=en")
            .insert_header(("accept-language", "fr"))
            .to_http_request();
        let PageLang(lang) = PageLang::extract(&req).await.unwrap();
        assert_eq!(lang, Lang::En);
        let req = TestRequest::get()
            .insert_header(("accept-language", "en-GB,fr;q=0.5"))
            .to_http_request();
        assert_eq!(PageLang::extract(&req).await.unwrap().0, Lang::En);
        let req = TestRequest::get().to_http_request();
        assert_eq!(PageLang::extract(&req).await.unwrap().0, Lang::Fr);
    }

    async fn post_form(cookie: Option<&str>, body: &str, origin: Option<&str>) -> StatusCode {
        let settings = web::Data::new(WebSettings {
            trusted_proxies: Vec::new(),
            origin: "https://sso.example".into(),
        });
        let app = test::init_service(
            App::new()
                .app_data(settings)
                .wrap(from_fn(render_errors))
                .route(
                    "/f",
                    web::post().to(|f: CheckedForm<ConsentForm>| async move {
                        HttpResponse::Ok().body(f.get("x").unwrap_or_default().to_owned())
                    }),
                ),
        )
        .await;
        let mut req = TestRequest::post()
            .uri("/f")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_owned());
        if let Some(c) = cookie {
            req = req.cookie(actix_web::cookie::Cookie::new(cookies::CSRF, c.to_owned()));
        }
        if let Some(o) = origin {
            req = req.insert_header(("origin", o));
        }
        test::call_service(&app, req.to_request()).await.status()
    }

    #[actix_web::test]
    async fn a_form_passes_only_with_its_csrf_token_from_our_origin() {
        let good = format!("csrf={TOKEN}&x=1");
        assert_eq!(post_form(Some(TOKEN), &good, None).await, StatusCode::OK);
        assert_eq!(
            post_form(Some(TOKEN), &good, Some("https://sso.example")).await,
            StatusCode::OK
        );
        assert_eq!(
            post_form(Some(TOKEN), &good, Some("https://evil.example")).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(post_form(None, &good, None).await, StatusCode::FORBIDDEN);
        let other = format!("csrf={}&x=1", TOKEN.replace('0', "1"));
        assert_eq!(
            post_form(Some(TOKEN), &other, None).await,
            StatusCode::FORBIDDEN
        );
        // A repeated parameter makes the form unreadable.
        let repeated = format!("csrf={TOKEN}&x=1&x=2");
        assert_eq!(
            post_form(Some(TOKEN), &repeated, None).await,
            StatusCode::BAD_REQUEST
        );
    }

    #[actix_web::test]
    async fn a_required_session_redirects_to_the_login_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::Db::connect(&crate::config::DatabaseSettings {
            url: format!("sqlite://{}", dir.path().join("s.db").display()),
            migrate: true,
            max_connections: 2,
        })
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let clock: crate::clock::SharedClock = crate::clock::FixedClock::new(1_700_000_000);
        let reader = web::Data::new(SessionReader::new(db, clock, 600));
        let app = test::init_service(
            App::new()
                .app_data(reader)
                .wrap(from_fn(render_errors))
                .route(
                    "/keys/rename",
                    web::post().to(|_: SignedIn| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/maybe",
                    web::get().to(|s: CurrentSession| async move {
                        HttpResponse::Ok().body(if s.0.is_some() { "in" } else { "out" })
                    }),
                ),
        )
        .await;
        let req = TestRequest::post()
            .uri("/keys/rename")
            .cookie(actix_web::cookie::Cookie::new(
                cookies::SESSION,
                "no-such-session",
            ))
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers().get(LOCATION).unwrap(), "/keys");
        let resp = test::call_service(&app, TestRequest::get().uri("/maybe").to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(test::read_body(resp).await, "out");
    }
}
