//! `GET /login/card?flow=…`: the card certificate from this TLS connection, or from a trusted
//! reverse proxy's header, checked and mapped by `authn::cps`; then the authorization request
//! goes on, or the user reads why the card was refused.

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use rustls::pki_types::CertificateDer;
use serde_json::json;

use super::login::{Pending, pending, pending_of, refusal_message, refusal_status, sign_in};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::cps::tls::PeerChain;
use crate::authn::cps::{Refusal, header};
use crate::authn::login::{self, LoginOutcome};
use crate::endpoint::flow;
use crate::state::AppState;
use crate::ui::context::context_of;
use crate::ui::error::{PageError, req_lang};
use crate::ui::extract::CurrentSession;
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
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    if state.cps.is_none() {
        return Err(PageError::NotFound);
    }
    let ctx = context_of(&req);
    // On a card listener of its own host, this browser's binding cookie is not sent: the
    // login page's single-use ticket binds the flow to this host's cookie once.
    let mut binding_cookie = None;
    if let Some(ticket) = q.ticket.as_deref() {
        let used = flow::use_card_ticket(&state, &req, &q.flow, ticket)
            .await
            .context("cannot use a card ticket")?;
        match used {
            Some(cookie) => binding_cookie = cookie,
            None => {
                let refusal = AuditEvent::failure("card_login", "card_ticket_refused");
                state.audit.record(refusal.context(&ctx)).await;
            }
        }
    }
    let p = card_pending(&req, &state, &q.flow, binding_cookie.as_ref()).await?;
    let mut resp = card_flow(&req, &state, p, current, &ctx).await?;
    if let Some(c) = binding_cookie {
        resp.add_cookie(&c)
            .context("cannot set the binding cookie")?;
    }
    Ok(resp)
}

/// The pending request of the flow, once its binding is settled.
async fn card_pending(
    req: &HttpRequest,
    state: &AppState,
    flow_id: &str,
    new_binding: Option<&Cookie<'static>>,
) -> Result<Pending, PageError> {
    // The binding cookie was just given to this browser: the request does not carry it yet.
    let Some(c) = new_binding else {
        return pending(req, state, flow_id).await;
    };
    let found = flow::lookup_with(state, flow_id, Some(c.value()))
        .await
        .context("cannot read an authorization flow")?;
    match found {
        flow::Lookup::Bound(flow) => pending_of(state, flow).await,
        _ => Err(PageError::BadRequest(|t| t.err_flow)),
    }
}

/// The card login of one flow: signed in, or the page that says why the card was refused.
async fn card_flow(
    req: &HttpRequest,
    state: &AppState,
    p: Pending,
    current: CurrentSession,
    ctx: &RequestContext,
) -> Result<HttpResponse, PageError> {
    let chain = presented(req, state, ctx).await;
    match login::with_card(&state.authn(), chain, ctx).await {
        LoginOutcome::SignedIn(proof) => sign_in(req, state, current.0, proof, p.flow).await,
        LoginOutcome::ChangePassword { .. } => {
            Err(anyhow::anyhow!("a card has no password").into())
        }
        LoginOutcome::Refused(refused) => {
            state.metrics.login(refused.method.as_str(), "failure");
            let lang = p.lang(req, req_lang(req).as_deref());
            Ok(render(
                refusal_status(refused.class()),
                &RefusedPage {
                    chrome: Chrome::new(req, lang),
                    message: refusal_message(refused.say, lang),
                    flow_id: p.flow.id,
                    request_id: ctx.request_id.clone(),
                },
            ))
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
