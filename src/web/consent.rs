//! Per-client consent, skipped for first-party clients.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use crate::audit::AuditEvent;
use crate::endpoint::end_session::origin;
use crate::endpoint::flow;
use crate::oidc::params::Params;
use crate::session;
use crate::state::AppState;
use crate::storage::flows;
use crate::storage::{consents, identities};
use crate::ui::context::context_of;
use crate::ui::cookies;
use crate::ui::error::{page, req_lang, server_error};
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

pub async fn consent_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ConsentQuery>,
) -> HttpResponse {
    let flow = match flow::require(&state, &req, &q.flow).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Ok(Some(s)) =
        session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref()).await
    else {
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/login?flow={}", flow.id)))
            .finish();
    };
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let lang = Lang::negotiate(&req, params.get("ui_locales"), req_lang(&req).as_deref());
    let client_name = match state.clients.get(&flow.client_id).await {
        Ok(Some(c)) => c.name.clone(),
        _ => return page(&req, StatusCode::BAD_REQUEST, |t| t.bad_request_client),
    };
    let t = lang.t();
    // Every scope granted is listed: a scope without a label shows its name, never nothing.
    let scopes = params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| scope_label(t, s).unwrap_or(s).to_owned())
        .collect();
    let signed_in_as = identities::by_id(state.db.pool(), &s.identity_id)
        .await
        .ok()
        .flatten()
        .map(|i| format!("{} {} ({})", i.given_name, i.family_name, i.username))
        .unwrap_or_default();
    let (csrf, cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = cookie {
        b.cookie(c);
    }
    render_with(
        b,
        &ConsentPage {
            chrome: Chrome::new(&req, lang),
            flow_id: flow.id,
            csrf,
            client_name,
            scopes,
            signed_in_as,
        },
    )
}

pub async fn consent_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let ctx = context_of(&req);
    let form = match crate::ui::form::checked(&req, &state.audit, &origin(&state), &body, "consent")
        .await
    {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let flow = match flow::require(&state, &req, form.get("flow").unwrap_or_default()).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Ok(Some(s)) =
        session::from_cookie(&state.sessions(), cookies::session_token(&req).as_deref()).await
    else {
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/login?flow={}", flow.id)))
            .finish();
    };
    let params = Params::from_json(&flow.params).unwrap_or_default();
    let scopes: Vec<&str> = params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if form.get("decision") != Some("allow") {
        state
            .audit
            .record(
                AuditEvent::failure("consent", "denied_by_user")
                    .subject(&s.identity_id)
                    .client(&flow.client_id)
                    .context(&ctx),
            )
            .await;
        return HttpResponse::SeeOther()
            .insert_header((
                LOCATION,
                format!("/authorize/resume?flow={}&cancel=1", flow.id),
            ))
            .finish();
    }
    let now = state.clock.now();
    if consents::put_consent(
        state.db.pool(),
        &s.identity_id,
        &flow.client_id,
        &json!(scopes).to_string(),
        now,
    )
    .await
    .is_err()
        || flows::mark_consent(state.db.pool(), &flow.id, &s.id)
            .await
            .is_err()
    {
        return server_error(&req);
    }
    state
        .audit
        .record(
            AuditEvent::success("consent")
                .subject(&s.identity_id)
                .client(&flow.client_id)
                .context(&ctx)
                .details(json!({ "scopes": scopes })),
        )
        .await;
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/authorize/resume?flow={}", flow.id)))
        .finish()
}
