//! Per-client consent, skipped for first-party clients.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::json;

use super::login::who;
use crate::audit::AuditEvent;
use crate::endpoint::flow;
use crate::oidc::params::Params;
use crate::state::AppState;
use crate::storage::consents;
use crate::storage::flows::{self, FlowRecord};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{PageError, req_lang};
use crate::ui::extract::{CheckedForm, ConsentForm, CurrentSession};
use crate::ui::i18n::{Lang, scope_label};
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    chrome: Chrome,
    flow_id: String,
    csrf: String,
    client_name: String,
    scopes: Vec<String>,
    signed_in_as: String,
}

#[derive(serde::Deserialize)]
pub struct ConsentQuery {
    flow: String,
}

/// The live flow of this browser behind `id`, with its parameters.
async fn flow_of(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
) -> Result<(FlowRecord, Params), PageError> {
    let flow = flow::require(state, req, id).await?;
    let params = Params::from_json(&flow.params).unwrap_or_default();
    Ok((flow, params))
}

/// The scopes of the request, as asked.
fn scopes(params: &Params) -> Vec<&str> {
    params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn consent_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ConsentQuery>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let (flow, params) = flow_of(&req, &state, &q.flow).await?;
    let s = current.require(format!("/login?flow={}", flow.id))?;
    let lang = Lang::negotiate(&req, params.get("ui_locales"), req_lang(&req).as_deref());
    let client_name = match state.clients.get(&flow.client_id).await {
        Ok(Some(c)) => c.name.clone(),
        _ => return Err(PageError::BadRequest(|t| t.bad_request_client)),
    };
    let t = lang.t();
    // Every scope granted is listed: a scope without a label shows its name, never nothing.
    let scopes = scopes(&params)
        .into_iter()
        .map(|s| scope_label(t, s).unwrap_or(s).to_owned())
        .collect();
    let signed_in_as = who(&state, Some(&s)).await.unwrap_or_default();
    let (csrf, cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = cookie {
        b.cookie(c);
    }
    let page = ConsentPage {
        chrome: Chrome::new(&req, lang),
        flow_id: flow.id,
        csrf,
        client_name,
        scopes,
        signed_in_as,
    };
    Ok(render_with(b, &page))
}

fn resume(flow: &FlowRecord, cancel: bool) -> HttpResponse {
    let cancel = if cancel { "&cancel=1" } else { "" };
    HttpResponse::SeeOther()
        .insert_header((
            LOCATION,
            format!("/authorize/resume?flow={}{cancel}", flow.id),
        ))
        .finish()
}

/// POST /consent: `csrf`, `flow`, `decision` (`allow`, or anything else to deny).
pub async fn consent_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CheckedForm<ConsentForm>,
    current: CurrentSession,
) -> Result<HttpResponse, PageError> {
    let ctx = context_of(&req);
    let (flow, params) = flow_of(&req, &state, form.get("flow").unwrap_or_default()).await?;
    let s = current.require(format!("/login?flow={}", flow.id))?;
    let scopes = scopes(&params);
    let event = |ev: AuditEvent| {
        ev.subject(&s.identity_id)
            .client(&flow.client_id)
            .context(&ctx)
    };
    if form.get("decision") != Some("allow") {
        let denied = event(AuditEvent::failure("consent", "denied_by_user"));
        state.audit.record(denied).await;
        return Ok(resume(&flow, true));
    }
    let now = state.clock.now();
    let granted = json!(scopes).to_string();
    consents::put_consent(
        state.db.pool(),
        &s.identity_id,
        &flow.client_id,
        &granted,
        now,
    )
    .await
    .context("cannot record the consent")?;
    flows::mark_consent(state.db.pool(), &flow.id, &s.id)
        .await
        .context("cannot mark the flow's consent")?;
    let given = event(AuditEvent::success("consent")).details(json!({ "scopes": scopes }));
    state.audit.record(given).await;
    Ok(resume(&flow, false))
}
