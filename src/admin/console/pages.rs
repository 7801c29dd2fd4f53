//! The console's pages: the search and a person's page.

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;

use super::date;
use super::guard::{AdminSession, Power};
use super::texts::{ConsoleTexts, texts};
use crate::admin::roles;
use crate::state::AppState;
use crate::storage::audit as audit_store;
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::{cards, links, pairings, security_keys, sessions};
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// Results per page of the search.
pub const PAGE_SIZE: i64 = 50;

/// What every console page shows at its top.
pub struct Frame {
    pub chrome: Chrome,
    pub c: &'static ConsoleTexts,
    pub who: String,
    pub roles: String,
    pub may_act: bool,
    pub see_clients: bool,
    /// The console's section this page belongs to (`""` for the dashboard, `identities`,
    /// `pairings`…), marked as the current one in the navigation.
    pub section: String,
}

impl Frame {
    pub fn new(req: &HttpRequest, lang: crate::ui::i18n::Lang, admin: &AdminSession) -> Frame {
        Frame {
            chrome: Chrome::new(req, lang),
            c: texts(lang),
            who: format!(
                "{} {} ({})",
                admin.identity.given_name, admin.identity.family_name, admin.identity.username
            ),
            roles: admin
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            may_act: admin.may(Power::People),
            see_clients: admin.may(Power::SeeClients),
            section: section_of(req.path()),
        }
    }
}

/// `/admin/pairings/…` → `pairings`; `/admin` → `""`.
fn section_of(path: &str) -> String {
    let rest = path.strip_prefix("/admin").unwrap_or_default();
    let first = rest.trim_start_matches('/').split(['/', '.']).next();
    first.unwrap_or_default().to_owned()
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

/// One line of the search's results.
struct Row {
    id: String,
    name: String,
    username: String,
    status: String,
    employee: String,
}

#[derive(Template)]
#[template(path = "admin/identities.html")]
struct IdentitiesPage {
    f: Frame,
    chrome: Chrome,
    q: String,
    rows: Vec<Row>,
    next: Option<String>,
}

/// GET /admin/identities?q=&after=: 50 identities per page, by cursor.
pub async fn identities(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let q: String = query.q.trim().chars().take(100).collect();
    let mut found = crate::admin::users::search(&state, &q, &query.after, PAGE_SIZE)
        .await
        .map_err(|e| anyhow::anyhow!("cannot search the identities: {e}"))?;
    let more = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    let next = match (more, found.last()) {
        (true, Some(last)) => Some(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &q)
                .append_pair("after", &last.id)
                .finish(),
        ),
        _ => None,
    };
    let rows = found.into_iter().map(row).collect();
    let f = Frame::new(&req, lang, &admin);
    let page = IdentitiesPage {
        chrome: f.chrome.clone(),
        f,
        q,
        rows,
        next,
    };
    Ok(render_with(HttpResponse::Ok(), &page))
}

fn row(i: IdentityRecord) -> Row {
    Row {
        name: format!("{} {}", i.family_name.to_uppercase(), i.given_name),
        username: i.username,
        status: i.status.to_string(),
        employee: i.employee_number.unwrap_or_default(),
        id: i.id,
    }
}

struct KeyRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
    flagged: bool,
    revoked: bool,
}

struct SessionRow {
    opened: String,
    auth_time: String,
    expires: String,
    /// The applications the session reached, in the order they were first reached.
    reached: String,
}

struct CardRow {
    serial: String,
    holder: String,
    expires: String,
    last_used: String,
    blocked: bool,
}

struct EventRow {
    at: String,
    kind: String,
    outcome: String,
    actor: String,
}

struct PairingRow {
    idnat: String,
    state: &'static str,
    until: String,
}

#[derive(Template)]
#[template(path = "admin/person.html")]
struct PersonPage {
    f: Frame,
    chrome: Chrome,
    csrf: String,
    p: IdentityRecord,
    status_at: String,
    active: bool,
    link: Option<(String, String)>,
    keys: Vec<KeyRow>,
    sessions: Vec<SessionRow>,
    cards: Vec<CardRow>,
    pairing: Option<PairingRow>,
    roles: Vec<String>,
    events: Vec<EventRow>,
    done: bool,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// GET /admin/identities/{id}
pub async fn person(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    id: web::Path<String>,
    query: web::Query<PersonQuery>,
) -> Result<HttpResponse, PageError> {
    let pool = state.db.pool();
    let p = identities::by_id(pool, &id)
        .await
        .context("cannot read the identity")?
        .ok_or(PageError::NotFound)?;
    let link = links::of_identity(pool, &p.id)
        .await
        .context("cannot read the RPPS link")?
        .map(|l| (l.idnat, l.method));
    let (keys, cards) = devices(&state, &p.id).await?;
    let open = open_sessions(&state, &p.id).await?;
    let (pairing, roles, events) = standing(&state, &p.id).await?;
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    let mut b = HttpResponse::Ok();
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let f = Frame::new(&req, lang, &admin);
    let page = PersonPage {
        chrome: f.chrome.clone(),
        f,
        csrf,
        status_at: p.status_at.map(date).unwrap_or_default(),
        active: p.status.is_active(),
        link,
        keys,
        sessions: open,
        cards,
        pairing,
        roles,
        events,
        done: query.done.is_some(),
        error: query.error.clone().map(|e| e.chars().take(40).collect()),
        p,
    };
    Ok(render_with(b, &page))
}

/// A person's live sessions, each with the applications it reached.
async fn open_sessions(state: &AppState, identity_id: &str) -> Result<Vec<SessionRow>, PageError> {
    let pool = state.db.pool();
    let (now, idle) = (state.clock.now(), state.settings.session.idle_secs);
    let open = sessions::open_of_identity(pool, identity_id)
        .await
        .context("cannot read the sessions")?;
    let mut rows = Vec::new();
    for s in open
        .into_iter()
        .filter(|s| crate::session::is_live(s, now, idle))
    {
        let reached = sessions::reached(pool, &s.id)
            .await
            .context("cannot read the applications a session reached")?;
        rows.push(SessionRow {
            opened: date(s.created_at),
            auth_time: date(s.auth_time),
            expires: date(s.expires_at),
            reached: reached
                .into_iter()
                .map(|(client, at)| format!("{client} ({})", date(at)))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(rows)
}

/// A person's security keys and the CPS cards seen for them.
async fn devices(
    state: &AppState,
    identity_id: &str,
) -> Result<(Vec<KeyRow>, Vec<CardRow>), PageError> {
    let pool = state.db.pool();
    let keys = security_keys::of_identity(pool, identity_id)
        .await
        .context("cannot read the keys")?
        .into_iter()
        .map(|k| KeyRow {
            created: date(k.created_at),
            last_used: k.last_used_at.map(date).unwrap_or_default(),
            flagged: k.flagged_at.is_some(),
            revoked: k.revoked_at.is_some(),
            id: k.id,
            name: k.name,
        })
        .collect();
    let cards = cards::of_identity(pool, identity_id)
        .await
        .context("cannot read the cards")?
        .into_iter()
        .map(|c| CardRow {
            serial: c.serial,
            holder: c.holder.unwrap_or_default(),
            expires: c.not_after.map(date).unwrap_or_default(),
            last_used: c.last_used_at.map(date).unwrap_or_default(),
            blocked: c.blocked_at.is_some(),
        })
        .collect();
    Ok((keys, cards))
}

/// A person's latest pairing, administration roles and last 50 audit events.
async fn standing(
    state: &AppState,
    identity_id: &str,
) -> Result<(Option<PairingRow>, Vec<String>, Vec<EventRow>), PageError> {
    let pool = state.db.pool();
    let now = state.clock.now();
    let pairing = pairings::latest_of(pool, identity_id)
        .await
        .context("cannot read the pairing")?
        .map(|r| PairingRow {
            state: r.status_at(now),
            until: date(r.expires_at),
            idnat: r.idnat,
        });
    let roles = roles::summary(state, identity_id)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the roles: {e}"))?
        .effective
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    let events = audit_store::of_subject(pool, identity_id, 50)
        .await
        .context("cannot read the audit trail")?
        .into_iter()
        .map(|e| EventRow {
            at: date(e.at),
            kind: e.kind,
            outcome: e.outcome,
            actor: e.actor.unwrap_or_default(),
        })
        .collect();
    Ok((pairing, roles, events))
}
