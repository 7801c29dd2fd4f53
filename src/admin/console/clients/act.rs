//! The actions of a client's page: rotate its secret (the new one shown once, on a page never
//! stored), disable it, enable it again.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::super::actions::ConsoleForm;
use super::super::guard::{AdminSession, Power};
use super::super::pages::Frame;
use super::super::texts::{ClientsTexts, clients_texts};
use super::{audit, changed, found, refused};
use crate::admin::AdminError;
use crate::admin::clients;
use crate::state::AppState;
use crate::storage::clients::ClientRecord;
use crate::ui::error::PageError;
use crate::ui::extract::{CheckedForm, PageLang};
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

#[derive(Template)]
#[template(path = "admin/client_secret.html")]
struct SecretPage {
    f: Frame,
    chrome: Chrome,
    t: &'static ClientsTexts,
    id: String,
    name: String,
    secret: String,
}

/// The page that shows a new secret, once: `render_with` sends it `Cache-Control: no-store`.
pub fn secret_page(
    req: &HttpRequest,
    lang: Lang,
    admin: &AdminSession,
    rec: &ClientRecord,
    secret: &str,
) -> HttpResponse {
    let f = Frame::new(req, lang, admin);
    let page = SecretPage {
        chrome: f.chrome.clone(),
        f,
        t: clients_texts(lang),
        id: rec.id.to_string(),
        name: rec.name.clone(),
        secret: secret.to_owned(),
    };
    render_with(HttpResponse::Ok(), &page)
}

/// An action of a client's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    RotateSecret,
    Disable,
    Enable,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "rotate-secret" => Action::RotateSecret,
            "disable" => Action::Disable,
            "enable" => Action::Enable,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Action::RotateSecret => "rotate_client_secret",
            Action::Disable => "disable_client",
            Action::Enable => "enable_client",
        }
    }
}

/// What an action did: the client before and after, and the new secret if one was issued.
type Outcome = Result<(ClientRecord, ClientRecord, Option<String>), AdminError>;

async fn run(state: &AppState, action: Action, before: ClientRecord, actor: &str) -> Outcome {
    let id = before.id.to_string();
    match action {
        Action::RotateSecret => {
            let secret = clients::rotate_secret(state, &id, actor).await?;
            let after = clients::get(state, &id).await?;
            Ok((before, after, Some(secret)))
        }
        Action::Disable | Action::Enable => {
            let disabled = action == Action::Disable;
            let (before, after) = clients::set_disabled(state, &id, disabled, actor).await?;
            Ok((before, after, None))
        }
    }
}

/// POST /admin/clients/{id}/{action}
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    PageLang(lang): PageLang,
    _form: CheckedForm<ConsoleForm>,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let action = Action::parse(&action).ok_or(PageError::NotFound)?;
    let back = format!("/admin/clients/{id}");
    admin
        .allow(&state, &req, Power::Clients, action.name(), &id, &back)
        .await?;
    let current = found(clients::get(&state, &id).await)?;
    let back = format!("/admin/clients/{}", current.id);
    let (before, after, secret) = match run(&state, action, current, &admin.actor()).await {
        Ok(done) => done,
        Err(AdminError::Invalid(message)) => {
            let what = serde_json::json!({ "message": message });
            audit(
                &state,
                &req,
                &admin,
                &id,
                refused(action.name(), "invalid", what),
            )
            .await;
            let to = format!("{back}?refused={}", action.name());
            return Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, to))
                .finish());
        }
        Err(AdminError::NotFound(_)) => return Err(PageError::NotFound),
        Err(e) => return Err(anyhow::anyhow!("cannot change the client: {e}").into()),
    };
    let (b, a) = (clients::describe(&before), clients::describe(&after));
    audit(&state, &req, &admin, &id, changed(action.name(), b, a)).await;
    Ok(match secret {
        Some(secret) => secret_page(&req, lang, &admin, &after, &secret),
        None => HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("{back}?done={}", action.name())))
            .finish(),
    })
}
