//! `GET /login/card?flow=…`: the card certificate from this TLS connection, or from a trusted
//! reverse proxy's header, checked and mapped by `authn::cps`; then the authorization request
//! goes on, or the user reads why the card was refused.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use rustls::pki_types::CertificateDer;
use serde_json::json;

use super::login::pending;
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::cps::tls::PeerChain;
use crate::authn::cps::{self, Refusal, header};
use crate::authn::{AuthFactor, Method};
use crate::endpoint::authorize::continue_after_login;
use crate::endpoint::flow;
use crate::session;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, req_lang, server_error};
use crate::ui::i18n::{Lang, card_refusal};
use crate::ui::page::{Chrome, render};

#[derive(Template)]
#[template(path = "login/card_refused.html")]
struct RefusedPage {
    chrome: Chrome,
    message: &'static str,
    flow_id: String,
    request_id: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct CardQuery {
    flow: String,
    /// The sealed single-use ticket of a card listener on another host.
    #[serde(default)]
    ticket: Option<String>,
}

pub async fn card_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<CardQuery>,
) -> HttpResponse {
    if state.cps.is_none() {
        return page(&req, StatusCode::NOT_FOUND, |t| t.not_found);
    }
    let ctx = context_of(&req);
    // On a card listener of its own host, this browser's binding cookie is not sent: the
    // login page's single-use ticket binds the flow to this host's cookie once.
    let mut binding_cookie = None;
    if let Some(ticket) = q.ticket.as_deref() {
        match flow::use_card_ticket(&state, &req, &q.flow, ticket).await {
            Ok(Some(cookie)) => binding_cookie = cookie,
            Ok(None) => {
                state
                    .audit
                    .record(AuditEvent::failure("card_login", "card_ticket_refused").context(&ctx))
                    .await;
            }
            Err(_) => return server_error(&req),
        }
    }
    let mut resp = card_flow(&req, &state, &q.flow, binding_cookie.as_ref(), &ctx).await;
    if let Some(c) = binding_cookie
        && let Err(e) = resp.add_cookie(&c)
    {
        tracing::error!(error = %e, "cannot set the binding cookie");
        return server_error(&req);
    }
    resp
}

/// The card login of one flow, once its binding is settled.
async fn card_flow(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    flow_id: &str,
    new_binding: Option<&actix_web::cookie::Cookie<'static>>,
    ctx: &RequestContext,
) -> HttpResponse {
    let p = match new_binding {
        // The binding cookie was just given to this browser: the request does not carry it yet.
        Some(c) => match flow::lookup_with(state, flow_id, Some(c.value())).await {
            Ok(flow::Lookup::Bound(flow)) => super::login::pending_of(req, state, flow).await,
            Ok(_) => Err(page(req, StatusCode::BAD_REQUEST, |t| t.err_flow)),
            Err(_) => Err(server_error(req)),
        },
        None => pending(req, state, flow_id).await,
    };
    let p = match p {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let lang = Lang::negotiate(req, p.params.get("ui_locales"), req_lang(req).as_deref());
    let result = match presented(req, state, ctx).await {
        Ok(chain) => cps::authenticate(&state.authn(), &chain, ctx).await,
        Err(r) => Err(r),
    };
    match result {
        Ok(login) => {
            state.metrics.login(Method::Card.as_str(), "success");
            let current =
                session::from_cookie(&state.sessions(), cookies::session_token(req).as_deref())
                    .await
                    .ok()
                    .flatten();
            let factor = AuthFactor {
                method: Method::Card,
                user_verified: true,
            };
            let mut flow = p.flow;
            match session::record_login(
                &state.sessions(),
                current,
                &login.identity_id,
                factor,
                Some(&flow.id),
                ctx,
            )
            .await
            {
                Ok(done) => {
                    flow.login_session = Some(done.session.id.clone());
                    let mut resp = continue_after_login(req, state, flow, done.session).await;
                    if let Some(token) = done.new_token
                        && let Err(e) = resp.add_cookie(&cookies::session(token))
                    {
                        tracing::error!(error = %e, "cannot set the session cookie");
                        return server_error(req);
                    }
                    resp
                }
                Err(e) => {
                    tracing::error!(error = ?e, "cannot record the card login");
                    server_error(req)
                }
            }
        }
        Err(refusal) => {
            state.metrics.login(Method::Card.as_str(), "failure");
            let status = match refusal {
                Refusal::NoCard => StatusCode::UNAUTHORIZED,
                Refusal::Unavailable | Refusal::RevocationUnknown => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::FORBIDDEN,
            };
            render(
                status,
                &RefusedPage {
                    chrome: Chrome::new(req, lang),
                    message: card_refusal(lang.t(), refusal),
                    flow_id: p.flow.id,
                    request_id: ctx.request_id.clone(),
                },
            )
        }
    }
}

/// The chain of this TLS connection; otherwise the proxy's header, believed only from a
/// trusted proxy (from anyone else it is ignored and audited).
async fn presented(
    req: &HttpRequest,
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Vec<CertificateDer<'static>>, Refusal> {
    if let Some(chain) = req.conn_data::<PeerChain>() {
        return Ok(chain.0.clone());
    }
    let proxy = &state.settings.cps.proxy;
    let Some(cps) = state.cps.as_ref() else {
        return Ok(Vec::new());
    };
    if proxy.header.is_empty() {
        return Ok(Vec::new());
    }
    let Some(value) = req.headers().get(proxy.header.as_str()) else {
        return Ok(Vec::new());
    };
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| header::trusted(&cps.proxies, ip)) {
        state
            .audit
            .record(
                AuditEvent::failure("card_login", "card_header_untrusted")
                    .context(ctx)
                    .details(
                        json!({ "header": proxy.header, "peer": peer.map(|p| p.to_string()) }),
                    ),
            )
            .await;
        return Ok(Vec::new());
    }
    let text = value.to_str().map_err(|_| Refusal::Malformed)?;
    match header::decode(text, proxy.encoding) {
        Ok(ders) => Ok(ders.into_iter().map(CertificateDer::from).collect()),
        Err(e) => {
            state
                .audit
                .record(
                    AuditEvent::failure("card_login", "card_malformed")
                        .context(ctx)
                        .details(json!({ "header": proxy.header, "error": e.to_string() })),
                )
                .await;
            Err(Refusal::Malformed)
        }
    }
}
