//! A client's page (what it is, and for admins the form that edits it) and the form of a new
//! client; a refused form comes back with the values typed and each field's refusal.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;

use super::super::date;
use super::super::guard::{AdminSession, Power};
use super::super::pages::Frame;
use super::super::texts::{ClientsTexts, client_refusal, clients_texts};
use super::{found, may_see};
use crate::admin::clients::{self, ClientSpec, SpecError};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::oidc::params::Params;
use crate::state::AppState;
use crate::storage::clients::ClientRecord;
use crate::storage::from_json_list;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::i18n::Lang;
use crate::ui::page::{Chrome, render_with};

/// The form's values as typed, to show them again after a refusal.
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    pub id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: String,
    pub code: bool,
    pub refresh: bool,
    pub client_credentials: bool,
    pub scopes: String,
    pub min_acr: String,
    pub max_auth_age: String,
    pub first_party: bool,
    pub require_pkce: bool,
    pub psc_broker: bool,
    pub introspect: bool,
    pub signing_alg: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl FormValues {
    pub fn of_spec(s: &ClientSpec) -> FormValues {
        FormValues {
            id: s.id.clone(),
            name: s.name.clone(),
            public: s.public,
            redirect_uris: s.redirect_uris.join("\n"),
            post_logout_redirect_uris: s.post_logout_redirect_uris.join("\n"),
            backchannel_logout_uri: s.backchannel_logout_uri.clone().unwrap_or_default(),
            code: s.grants.contains(&GrantType::AuthorizationCode),
            refresh: s.grants.contains(&GrantType::RefreshToken),
            client_credentials: s.grants.contains(&GrantType::ClientCredentials),
            scopes: s.scopes.join(" "),
            min_acr: s.min_acr.clone().unwrap_or_default(),
            max_auth_age: s.max_auth_age.map(|a| a.to_string()).unwrap_or_default(),
            first_party: s.first_party,
            require_pkce: s.require_pkce,
            psc_broker: s.psc_broker,
            introspect: s.introspect,
            signing_alg: s.signing_alg.as_str().to_owned(),
        }
    }

    pub fn of_form(p: &Params) -> FormValues {
        let text = |k: &str| p.get(k).unwrap_or_default().to_owned();
        let ticked = |k: &str| p.get(k) == Some("1");
        FormValues {
            id: text("client_id").trim().to_owned(),
            name: text("name"),
            public: p.get("kind") == Some("public"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            backchannel_logout_uri: text("backchannel_logout_uri"),
            code: ticked("grant_authorization_code"),
            refresh: ticked("grant_refresh_token"),
            client_credentials: ticked("grant_client_credentials"),
            scopes: text("scopes"),
            min_acr: text("min_acr"),
            max_auth_age: text("max_auth_age"),
            first_party: ticked("first_party"),
            require_pkce: ticked("require_pkce"),
            psc_broker: ticked("psc_broker"),
            introspect: ticked("introspect"),
            signing_alg: text("signing_alg"),
        }
    }

    /// The spec the form describes over `base` (what the form does not show, such as the
    /// JWKS), and the fields that do not even parse.
    pub fn spec(&self, base: ClientSpec) -> (ClientSpec, Vec<SpecError>) {
        let mut errors = Vec::new();
        let max_auth_age = match self.max_auth_age.trim() {
            "" => None,
            t => t.parse::<i64>().map_or_else(
                |_| {
                    let msg = format!("{t} is not a number of seconds");
                    errors.push(SpecError::new("max_auth_age", "max_auth_age_invalid", msg));
                    None
                },
                Some,
            ),
        };
        let signing_alg = self.signing_alg.parse::<SigningAlg>().unwrap_or_else(|e| {
            errors.push(SpecError::new("signing_alg", "alg_unknown", e));
            base.signing_alg
        });
        let grants = [
            (self.code, GrantType::AuthorizationCode),
            (self.refresh, GrantType::RefreshToken),
            (self.client_credentials, GrantType::ClientCredentials),
        ];
        let backchannel = self.backchannel_logout_uri.trim();
        let spec = ClientSpec {
            id: self.id.clone(),
            name: self.name.trim().to_owned(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            public: self.public,
            grants: grants.iter().filter(|g| g.0).map(|g| g.1).collect(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            signing_alg,
            backchannel_logout_uri: (!backchannel.is_empty()).then(|| backchannel.to_owned()),
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            min_acr: (!self.min_acr.is_empty()).then(|| self.min_acr.clone()),
            max_auth_age,
            introspect: self.introspect,
            psc_broker: self.psc_broker,
            ..base
        };
        (spec, errors)
    }
}

/// A client as its page shows it.
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub public: bool,
    pub auth_method: String,
    pub grants: String,
    pub scopes: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: String,
    pub min_acr: String,
    pub max_auth_age: String,
    pub first_party: bool,
    pub require_pkce: bool,
    pub psc_broker: bool,
    pub introspect: bool,
    pub signing_alg: String,
    pub disabled_at: Option<String>,
    pub rotated: Option<String>,
    pub created: String,
    pub updated: String,
    /// It authenticates with a secret, which can be rotated.
    pub has_secret: bool,
}

impl ClientView {
    pub fn of(r: &ClientRecord) -> ClientView {
        ClientView {
            id: r.id.to_string(),
            name: r.name.clone(),
            public: r.public != 0,
            auth_method: r.auth_method.clone(),
            grants: from_json_list(&r.grants).join(", "),
            scopes: from_json_list(&r.scopes).join(" "),
            redirect_uris: from_json_list(&r.redirect_uris),
            post_logout_redirect_uris: from_json_list(&r.post_logout_redirect_uris),
            backchannel_logout_uri: r.backchannel_logout_uri.clone().unwrap_or_default(),
            min_acr: r.min_acr.clone().unwrap_or_default(),
            max_auth_age: r.max_auth_age.map(|a| a.to_string()).unwrap_or_default(),
            first_party: r.first_party != 0,
            require_pkce: r.require_pkce != 0,
            psc_broker: r.psc_broker != 0,
            introspect: r.introspect != 0,
            signing_alg: r.signing_alg.clone(),
            disabled_at: r.disabled_at.map(date),
            rotated: r.secret_rotated_at.map(date),
            created: date(r.created_at),
            updated: date(r.updated_at),
            has_secret: r.public == 0 && r.auth_method == "client_secret_basic",
        }
    }
}

/// The refusals of a form, by field, in the page's language.
pub struct FieldErrors {
    lang: Lang,
    list: Vec<SpecError>,
}

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.list.iter().any(|e| e.field == field)
    }

    /// The messages of one field: what is wrong, and the value at fault if the field holds
    /// several.
    pub fn of(&self, field: &str) -> Vec<(&'static str, String)> {
        self.list
            .iter()
            .filter(|e| e.field == field)
            .map(|e| {
                let what = client_refusal(self.lang, e.code);
                (what, e.value.clone().unwrap_or_default())
            })
            .collect()
    }

    /// Every refusal, with the field it belongs to (for the summary's links).
    pub fn all(&self) -> Vec<(&'static str, &'static str, String)> {
        self.list
            .iter()
            .map(|e| {
                let what = client_refusal(self.lang, e.code);
                (e.field, what, e.value.clone().unwrap_or_default())
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "admin/client.html")]
pub struct ClientPage {
    f: Frame,
    chrome: Chrome,
    t: &'static ClientsTexts,
    csrf: String,
    may_change: bool,
    view: Option<ClientView>,
    v: FormValues,
    errs: FieldErrors,
    error: Option<String>,
    done: bool,
    levels: Vec<String>,
    algs: [&'static str; 3],
}

/// What a client's page shows: the client (none for a new one), the form's values, and
/// what was refused or done.
pub struct Shown {
    pub view: Option<ClientView>,
    pub v: FormValues,
    pub errors: Vec<SpecError>,
    pub error: Option<String>,
    pub done: bool,
}

/// Renders a client's page (or the new client's) with `status`.
pub fn page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    admin: &AdminSession,
    shown: Shown,
    status: StatusCode,
) -> HttpResponse {
    let (csrf, csrf_cookie) = cookies::csrf(req);
    let mut b = HttpResponseBuilder::new(status);
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let f = Frame::new(req, lang, admin);
    let page = ClientPage {
        chrome: f.chrome.clone(),
        f,
        t: clients_texts(lang),
        csrf,
        may_change: admin.may(Power::Clients),
        view: shown.view,
        v: shown.v,
        errs: FieldErrors {
            lang,
            list: shown.errors,
        },
        error: shown.error,
        done: shown.done,
        levels: state
            .settings
            .session
            .levels
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        algs: ["RS256", "ES256", "PS256"],
    };
    render_with(b, &page)
}

/// GET /admin/clients/new
pub async fn new(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    may_see(&state, &req, &admin).await?;
    let back = "/admin/clients/new";
    admin
        .allow(&state, &req, Power::Clients, "new_client", "", back)
        .await?;
    let shown = Shown {
        view: None,
        v: FormValues::of_spec(&clients::default_spec("")),
        errors: Vec::new(),
        error: None,
        done: false,
    };
    Ok(page(&req, &state, lang, &admin, shown, StatusCode::OK))
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    refused: Option<String>,
}

/// GET /admin/clients/{id}
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    id: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    may_see(&state, &req, &admin).await?;
    let rec = found(clients::get(&state, &id).await)?;
    let shown = Shown {
        view: Some(ClientView::of(&rec)),
        v: FormValues::of_spec(&clients::spec_of(&rec)),
        errors: Vec::new(),
        error: query.refused.as_ref().map(|a| a.chars().take(40).collect()),
        done: query.done.is_some(),
    };
    Ok(page(&req, &state, lang, &admin, shown, StatusCode::OK))
}
