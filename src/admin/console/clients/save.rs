//! Registering a client and changing one from its form: the same checks as the CLI
//! (`admin::clients::check`); a refusal shows the form again with each field's message,
//! stores nothing and is audited.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::super::actions::ConsoleForm;
use super::super::guard::{AdminSession, Power};
use super::act::secret_page;
use super::form::{ClientView, FormValues, Shown, page};
use super::{audit, changed, found, refused};
use crate::admin::AdminError;
use crate::admin::clients::{self, SpecError};
use crate::state::AppState;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, PageLang};
use crate::ui::i18n::Lang;

/// What a form's submission came to, short of success.
enum Refusal {
    /// Fields refused: shown beside each.
    Fields(Vec<SpecError>),
    /// A refusal of the change as a whole.
    Whole(String),
}

/// The spec of a submitted form over `base`, checked as the CLI checks it.
fn checked(state: &AppState, v: &FormValues, base: clients::ClientSpec) -> CheckedSpec {
    let (spec, mut errors) = v.spec(base);
    if let Err(e) = clients::check(state, &spec) {
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(Refusal::Fields(errors))
    }
}

type CheckedSpec = Result<clients::ClientSpec, Refusal>;

/// Sorts what the core function refused: the page shows it, anything else is unexpected.
fn refusal(e: AdminError) -> Result<Refusal, PageError> {
    match e {
        AdminError::Conflict(m) => Ok(Refusal::Fields(vec![SpecError::new(
            "client_id",
            "id_taken",
            m,
        )])),
        AdminError::Invalid(m) => Ok(Refusal::Whole(m)),
        AdminError::NotFound(_) => Err(PageError::NotFound),
        other => Err(anyhow::anyhow!("cannot save the client: {other}").into()),
    }
}

impl Refusal {
    /// The form as typed, with this refusal.
    fn shown(self, view: Option<ClientView>, v: FormValues) -> Shown {
        let (errors, error) = match self {
            Refusal::Fields(errors) => (errors, None),
            Refusal::Whole(message) => (Vec::new(), Some(message)),
        };
        Shown {
            view,
            v,
            errors,
            error,
            done: false,
        }
    }
}

/// The form again, with what was refused (422), the refusal audited.
async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    admin: &AdminSession,
    action: &str,
    shown: Shown,
) -> HttpResponse {
    let what = match &shown.error {
        Some(message) => json!({ "message": message }),
        None => shown
            .errors
            .iter()
            .map(|e| json!({ "field": e.field, "code": e.code }))
            .collect::<Value>(),
    };
    audit(
        state,
        req,
        admin,
        &shown.v.id,
        refused(action, "invalid", what),
    )
    .await;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    page(req, state, lang, admin, shown, status)
}

fn see_other(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

/// POST /admin/clients/new
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let back = "/admin/clients/new";
    admin
        .allow(&state, &req, Power::Clients, "create_client", "", back)
        .await?;
    let v = FormValues::of_form(&form.form);
    let outcome = match checked(&state, &v, clients::default_spec(&v.id)) {
        Ok(spec) => match clients::create(&state, &spec, &admin.actor()).await {
            Ok(secret) => Ok(secret),
            Err(e) => Err(refusal(e)?),
        },
        Err(why) => Err(why),
    };
    let secret = match outcome {
        Ok(secret) => secret,
        Err(why) => {
            let shown = why.shown(None, v);
            return Ok(refuse(&req, &state, lang, &admin, "create_client", shown).await);
        }
    };
    let rec = found(clients::get(&state, &v.id).await)?;
    let ev = changed("create_client", Value::Null, clients::describe(&rec));
    audit(&state, &req, &admin, &v.id, ev).await;
    Ok(match secret {
        Some(secret) => secret_page(&req, lang, &admin, &rec, &secret),
        None => see_other(format!("/admin/clients/{}?done=created", rec.id)),
    })
}

/// POST /admin/clients/{id}: the client's id does not change.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    id: web::Path<String>,
    form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let back = format!("/admin/clients/{id}");
    admin
        .allow(&state, &req, Power::Clients, "update_client", &id, &back)
        .await?;
    let current = found(clients::get(&state, &id).await)?;
    let mut v = FormValues::of_form(&form.form);
    v.id = current.id.to_string();
    let outcome = match checked(&state, &v, clients::spec_of(&current)) {
        Ok(spec) => match clients::update(&state, &spec, &admin.actor()).await {
            Ok(after) => Ok(after),
            Err(e) => Err(refusal(e)?),
        },
        Err(why) => Err(why),
    };
    let after = match outcome {
        Ok(after) => after,
        Err(why) => {
            let view = Some(ClientView::of(&current));
            let shown = why.shown(view, v);
            return Ok(refuse(&req, &state, lang, &admin, "update_client", shown).await);
        }
    };
    let before = clients::describe(&current);
    let ev = changed("update_client", before, clients::describe(&after));
    audit(&state, &req, &admin, &v.id, ev).await;
    Ok(see_other(format!("{back}?done=updated")))
}
