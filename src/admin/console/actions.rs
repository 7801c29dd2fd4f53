//! The console's actions on a person: POST forms with their CSRF token, allowed to `admin` and
//! `helpdesk`, after a recent authentication. Each calls the function the CLI calls and is
//! audited `admin_console_action` with what it changed (before and after).

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;
use serde_json::{Value, json};

use super::date;
use super::guard::{AdminSession, Power};
use super::pages::Frame;
use crate::admin::{AdminError, keys, pairings as admin_pairings, users};
use crate::audit::{AuditEvent, RequestContext};
use crate::authn::webauthn::enrolment::IdentityCheckInput;
use crate::identity::{IdNat, IdentityDocument, LinkMethod};
use crate::state::AppState;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::{links, pairings, security_keys, sessions};
use crate::ui::context::context_of;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, FormKind, PageLang};
use crate::ui::page::{Chrome, render_with};

/// The console's forms; a refused CSRF token is audited `admin_console_action`.
#[derive(Debug)]
pub struct ConsoleForm;

impl FormKind for ConsoleForm {
    const AUDIT: &'static str = "admin_console_action";
}

/// An action of a person's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Suspend,
    Reactivate,
    EndSessions,
    RevokeKey,
    RevokePairing,
    EnrolmentCode,
    LinkRpps,
    UnlinkRpps,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "suspend" => Action::Suspend,
            "reactivate" => Action::Reactivate,
            "end-sessions" => Action::EndSessions,
            "revoke-key" => Action::RevokeKey,
            "revoke-pairing" => Action::RevokePairing,
            "enrolment-code" => Action::EnrolmentCode,
            "link-rpps" => Action::LinkRpps,
            "unlink-rpps" => Action::UnlinkRpps,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Reactivate => "reactivate",
            Action::EndSessions => "end_sessions",
            Action::RevokeKey => "revoke_key",
            Action::RevokePairing => "revoke_pairing",
            Action::EnrolmentCode => "enrolment_code",
            Action::LinkRpps => "link_rpps",
            Action::UnlinkRpps => "unlink_rpps",
        }
    }
}

/// What an action did.
struct Done {
    before: Value,
    after: Value,
    /// An enrolment code to show once, with its expiry.
    code: Option<(String, i64)>,
}

/// Why an action was refused: a stable reason code (audited, shown on the page).
type Refusal = &'static str;

fn refusal(e: &AdminError) -> Refusal {
    match e {
        AdminError::Invalid(_) => "invalid",
        AdminError::NotFound(_) => "not_found",
        AdminError::Conflict(_) => "conflict",
        AdminError::Storage(_) | AdminError::Other(_) => "unexpected",
    }
}

#[derive(Template)]
#[template(path = "admin/code.html")]
struct CodePage {
    f: Frame,
    chrome: Chrome,
    p: IdentityRecord,
    code: String,
    expires: String,
}

/// POST /admin/identities/{id}/{action}
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    PageLang(lang): PageLang,
    form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let action = Action::parse(&action).ok_or(PageError::NotFound)?;
    let p = identities::by_id(state.db.pool(), &id)
        .await
        .context("cannot read the identity")?
        .ok_or(PageError::NotFound)?;
    let back = format!("/admin/identities/{}", p.id);
    admin
        .allow(&state, &req, Power::People, action.name(), &p.id, &back)
        .await?;
    let ctx = context_of(&req);
    let actor = admin.actor();
    let outcome = run(&state, &ctx, &actor, action, &p, &form).await;
    let (ev, target) = match &outcome {
        Ok(done) => (
            AuditEvent::success("admin_console_action").details(json!({
                "action": action.name(), "before": done.before, "after": done.after,
            })),
            format!("{back}?done={}", action.name()),
        ),
        Err(reason) => (
            AuditEvent::failure("admin_console_action", *reason)
                .details(json!({ "action": action.name() })),
            format!("{back}?error={reason}"),
        ),
    };
    state
        .audit
        .record(ev.actor(&actor).subject(&p.id).context(&ctx))
        .await;
    if let Ok(Done {
        code: Some((code, expires_at)),
        ..
    }) = outcome
    {
        let f = Frame::new(&req, lang, &admin);
        let page = CodePage {
            chrome: f.chrome.clone(),
            f,
            p,
            code,
            expires: date(expires_at),
        };
        // The code is shown once: never cached (render_with sends `no-store`).
        return Ok(render_with(HttpResponse::Ok(), &page));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, target))
        .finish())
}

async fn run(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    action: Action,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    match action {
        Action::Suspend => suspend(state, actor, p, form).await,
        Action::Reactivate => reactivate(state, actor, p).await,
        Action::EndSessions => end_sessions(state, actor, p).await,
        Action::RevokeKey => revoke_key(state, ctx, actor, p, form).await,
        Action::RevokePairing => revoke_pairing(state, ctx, actor, p, form).await,
        Action::LinkRpps | Action::UnlinkRpps => rpps_link(state, actor, action, p, form).await,
        Action::EnrolmentCode => enrolment_code(state, actor, p, form).await,
    }
}

/// The status of a person, as the audit's before and after show it.
fn status(i: &IdentityRecord) -> Value {
    json!({ "status": i.status.as_str() })
}

/// An action done, with no code to show.
fn plain(before: Value, after: Value) -> Done {
    Done {
        before,
        after,
        code: None,
    }
}

async fn suspend(
    state: &AppState,
    actor: &str,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    let reason = form.get("reason").unwrap_or_default().trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err("reason_missing");
    }
    let after = users::disable(state, &p.id, reason, actor)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(plain(status(p), status(&after)))
}

async fn reactivate(state: &AppState, actor: &str, p: &IdentityRecord) -> Result<Done, Refusal> {
    let after = users::enable(state, &p.id, actor)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(plain(status(p), status(&after)))
}

async fn end_sessions(state: &AppState, actor: &str, p: &IdentityRecord) -> Result<Done, Refusal> {
    let now = state.clock.now();
    let idle = state.settings.session.idle_secs;
    let open = sessions::open_of_identity(state.db.pool(), &p.id)
        .await
        .map_err(|_| "unexpected")?
        .iter()
        .filter(|s| crate::session::is_live(s, now, idle))
        .count();
    let ended = users::end_sessions(state, &p.id, actor)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(plain(
        json!({ "open_sessions": open }),
        json!({ "open_sessions": 0, "ended": ended }),
    ))
}

async fn revoke_key(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    let key_id = form.get("key").unwrap_or_default();
    let key = security_keys::of_identity(state.db.pool(), &p.id)
        .await
        .map_err(|_| "unexpected")?
        .into_iter()
        .find(|k| k.id == key_id)
        .ok_or("unknown_key")?;
    keys::revoke(state, &key.id, actor, "revoked_by_admin", ctx)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(plain(
        json!({ "key": key.id, "name": key.name, "revoked": key.revoked_at.is_some() }),
        json!({ "key": key.id, "name": key.name, "revoked": true }),
    ))
}

async fn revoke_pairing(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    let now = state.clock.now();
    let pairing = pairings::latest_of(state.db.pool(), &p.id)
        .await
        .map_err(|_| "unexpected")?
        .filter(|r| r.status_at(now) == "active")
        .ok_or("no_active_pairing")?;
    let reason = form
        .get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("revoked_by_admin");
    let done = admin_pairings::revoke(state, &pairing.id, actor, reason, ctx)
        .await
        .map_err(|e| e.code())?;
    Ok(plain(
        json!({ "pairing": pairing.id, "status": "active" }),
        json!({ "pairing": done.after.id, "status": done.after.status_at(now),
                        "sessions_ended": done.sessions_ended }),
    ))
}

async fn enrolment_code(
    state: &AppState,
    actor: &str,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    let document: IdentityDocument = form
        .get("document")
        .unwrap_or_default()
        .parse()
        .map_err(|_| "document_missing")?;
    let check = IdentityCheckInput {
        checked_by: form.get("checked_by").unwrap_or_default().trim().to_owned(),
        document,
        remote: form.get("remote") == Some("1"),
    };
    if check.checked_by.is_empty() {
        return Err("checked_by_missing");
    }
    let issued = keys::enrolment_code(state, &p.id, None, actor, Some(&check))
        .await
        .map_err(|e| refusal(&e))?;
    Ok(Done {
        before: json!({ "code_issued": false }),
        after: json!({ "code_issued": true, "expires_at": issued.expires_at,
                               "checked_by": check.checked_by, "document": document.as_str(),
                               "remote": check.remote }),
        code: Some((issued.code, issued.expires_at)),
    })
}

/// Links the person to an RPPS identity (the IdNat typed), or removes the link, with the
/// reason given: the same functions as `trousseau user link-rpps` and `unlink-rpps`; the reason
/// is kept in the console's audit event.
async fn rpps_link(
    state: &AppState,
    actor: &str,
    action: Action,
    p: &IdentityRecord,
    form: &CheckedForm<ConsoleForm>,
) -> Result<Done, Refusal> {
    let reason = form.get("reason").unwrap_or_default().trim();
    if reason.is_empty() || reason.chars().count() > 200 || reason.contains(char::is_control) {
        return Err("reason_missing");
    }
    let before = links::of_identity(state.db.pool(), &p.id)
        .await
        .map_err(|_| "unexpected")?
        .map(|l| json!({ "idnat": l.idnat, "method": l.method }));
    let after = match action {
        Action::LinkRpps => {
            let idnat = IdNat::parse(form.get("idnat").unwrap_or_default().trim())
                .map_err(|_| "idnat_invalid")?;
            let l = users::link_rpps(state, &p.id, &idnat, LinkMethod::Admin, actor)
                .await
                .map_err(|e| refusal(&e))?;
            json!({ "idnat": l.idnat, "method": l.method, "reason": reason })
        }
        _ => {
            users::unlink_rpps(state, &p.id, actor)
                .await
                .map_err(|e| refusal(&e))?;
            json!({ "idnat": null, "reason": reason })
        }
    };
    Ok(Done {
        before: before.unwrap_or(json!({ "idnat": null })),
        after,
        code: None,
    })
}
