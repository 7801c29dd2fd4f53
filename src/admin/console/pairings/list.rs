//! GET /admin/pairings: the pairings with their person, filtered by status and by expiry, 50 a
//! page by cursor; a revocation form on each pairing not yet revoked for `admin` and `helpdesk`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::admin::console::date;
use crate::admin::console::guard::AdminSession;
use crate::admin::console::pages::{Frame, PAGE_SIZE};
use crate::admin::console::texts::ConsoleTexts;
use crate::admin::pairings::{self as admin_pairings, ListError, ListRequest};
use crate::state::AppState;
use crate::storage::pairings::ListedPairing;
use crate::ui::cookies;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// The windows the page offers for "expiring within", in days.
const WINDOWS: [u32; 3] = [7, 30, 90];

/// The page's query: its filters, the cursor, and what the last action did.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub status: String,
    /// Empty (no window) or a number of days.
    #[serde(default)]
    pub expiring_within_days: String,
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub done: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl Filters {
    /// The core's list request for `limit` rows, or none when a filter is not one the page
    /// offers.
    pub fn request(&self, limit: i64) -> Option<ListRequest> {
        admin_pairings::parse_status(Some(&self.status))?;
        let days = match self.expiring_within_days.as_str() {
            "" => None,
            d => Some(d.parse::<u32>().ok().filter(|d| WINDOWS.contains(d))?),
        };
        Some(ListRequest {
            status: Some(self.status.clone()).filter(|s| !s.is_empty()),
            expiring_within_days: days,
            cursor: Some(self.cursor.chars().take(200).collect()),
            limit,
        })
    }
}

/// The query string of `request`'s filters (no cursor), then `extra`.
pub fn query_of(request: &ListRequest, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = request.status.as_deref().filter(|s| *s != "all") {
        q.append_pair("status", s);
    }
    if let Some(d) = request.expiring_within_days {
        q.append_pair("expiring_within_days", &d.to_string());
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

/// What a refusal's code says on the page.
fn refusal(c: &ConsoleTexts, code: &str) -> &'static str {
    match code {
        "reason_missing" => c.err_reason_missing,
        "pairing_unknown" => c.err_pairing_unknown,
        "already_revoked" => c.err_already_revoked,
        _ => c.err_unexpected,
    }
}

/// One line of the table.
struct Row {
    id: String,
    identity_id: String,
    name: String,
    username: String,
    idnat: String,
    status: &'static str,
    validated: String,
    expires: String,
    /// "in N days" for an active pairing.
    in_days: String,
    acr: String,
    means: &'static str,
    revocable: bool,
}

fn row(c: &ConsoleTexts, l: ListedPairing, now: i64) -> Row {
    let p = l.pairing;
    let status = p.status_at(now);
    let in_days = match status {
        "active" => {
            let n = (p.expires_at - now + 86_399) / 86_400;
            let unit = if n == 1 { c.day } else { c.days };
            format!("{} {n} {unit}", c.in_days)
        }
        _ => String::new(),
    };
    Row {
        name: format!("{} {}", l.family_name.to_uppercase(), l.given_name),
        username: l.username,
        status: match status {
            "active" => c.status_active,
            "expired" => c.status_expired,
            _ => c.status_revoked,
        },
        validated: date(p.validated_at),
        expires: date(p.expires_at),
        in_days,
        acr: p.acr.unwrap_or_default(),
        means: if p.means == "ciba" {
            c.means_ciba
        } else {
            c.means_redirect
        },
        revocable: status != "revoked",
        idnat: p.idnat,
        identity_id: p.identity_id,
        id: p.id,
    }
}

/// An "expiring within" choice of the filter.
struct Window {
    days: u32,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/pairings.html")]
struct PairingsPage {
    f: Frame,
    chrome: Chrome,
    csrf: String,
    status: String,
    days: Option<u32>,
    windows: Vec<Window>,
    rows: Vec<Row>,
    next: Option<String>,
    csv: String,
    done: bool,
    error: Option<&'static str>,
}

/// GET /admin/pairings?status=&expiring_within_days=&cursor=
pub async fn pairings(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
    query: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    let f = Frame::new(&req, lang, &admin);
    let now = state.clock.now();
    let request = query.request(PAGE_SIZE);
    let listed = match &request {
        Some(r) => admin_pairings::list(&state, r).await,
        None => Err(ListError::Status),
    };
    let request = request.unwrap_or_default();
    let (page, error, mut b) = match listed {
        Ok(page) => (Some(page), None, HttpResponse::Ok()),
        Err(ListError::Storage(e)) => return Err(anyhow::Error::new(e).context("pairings").into()),
        Err(_) => (None, Some(f.c.err_filters), HttpResponse::BadRequest()),
    };
    let error = error.or(query.error.as_deref().map(|e| refusal(f.c, e)));
    let (rows, next) = page.map_or((Vec::new(), None), |p| {
        let next = p.next_cursor.map(|c| query_of(&request, &[("cursor", &c)]));
        (
            p.items.into_iter().map(|l| row(f.c, l, now)).collect(),
            next,
        )
    });
    let (csrf, csrf_cookie) = cookies::csrf(&req);
    if let Some(c) = csrf_cookie {
        b.cookie(c);
    }
    let page = PairingsPage {
        chrome: f.chrome.clone(),
        csrf,
        status: request.status.clone().unwrap_or_else(|| "all".into()),
        days: request.expiring_within_days,
        windows: WINDOWS
            .iter()
            .map(|&days| Window {
                days,
                selected: request.expiring_within_days == Some(days),
            })
            .collect(),
        rows,
        next,
        csv: query_of(&request, &[]),
        done: query.done.is_some(),
        error,
        f,
    };
    Ok(render_with(b, &page))
}
