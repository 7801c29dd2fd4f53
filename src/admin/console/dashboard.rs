//! The console's dashboard: the figures an administrator reads at a glance.
//!
//! Its counting queries are independent of each other: they run concurrently, each on its
//! own pooled connection, so the page costs about its slowest query rather than their sum.
//! Every count reads an index (`identities_status`, `pairings_expiry`, `audit_events_kind_at`);
//! today's logins are read once and tallied two ways.

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use askama::Template;

use super::date;
use super::guard::AdminSession;
use super::pages::Frame;
use super::texts::ConsoleTexts;
use crate::admin::pairings::ListRequest;
use crate::state::AppState;
use crate::storage::console as figures;
use crate::ui::error::PageError;
use crate::ui::extract::PageLang;
use crate::ui::page::{Chrome, render_with};

/// The dashboard's "expiring in the next 30 days", as the pairings page's preset counts it.
const EXPIRING_30: ListRequest = ListRequest {
    status: None,
    expiring_within_days: Some(30),
    cursor: None,
    limit: 1,
};

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    f: Frame,
    chrome: Chrome,
    by_status: Vec<(String, i64)>,
    logins: Vec<(String, String, i64)>,
    locked: i64,
    flagged: i64,
    /// Active pairings expiring in the next 30 days; active, expired, revoked.
    pairings_expiring: i64,
    pairings: (i64, i64, i64),
    sync: super::sync::DashboardSync,
    by_method: Vec<MethodRow>,
    crls: Vec<CrlRow>,
}

/// Today's logins of one means.
#[derive(Debug, PartialEq)]
struct MethodRow {
    label: &'static str,
    success: i64,
    failure: i64,
}

/// One CPS revocation list as this server holds it.
struct CrlRow {
    issuer: String,
    this_update: String,
    next_update: String,
    stale: bool,
}

/// The counts read from the database, before they are labelled.
struct Counts {
    by_status: Vec<(String, i64)>,
    logins: Vec<(String, String, Option<String>, i64)>,
    locked: i64,
    flagged: i64,
    pairings_expiring: i64,
    pairings: (i64, i64, i64),
}

impl Counts {
    /// Runs the dashboard's counting queries concurrently.
    async fn read(state: &AppState, now: i64) -> anyhow::Result<Counts> {
        let pool = state.db.pool();
        let midnight = now - now.rem_euclid(86_400);
        let (by_status, logins, locked, flagged, pairings_expiring, pairings) = tokio::try_join!(
            async {
                figures::identities_by_status(pool)
                    .await
                    .context("dashboard: statuses")
            },
            async {
                figures::logins_since(pool, midnight)
                    .await
                    .context("dashboard: logins")
            },
            async { figures::locked(pool, now).await.context("dashboard: locks") },
            async {
                figures::flagged_keys(pool)
                    .await
                    .context("dashboard: flagged keys")
            },
            async {
                crate::admin::pairings::count(state, &EXPIRING_30)
                    .await
                    .map_err(|e| anyhow::anyhow!("dashboard: expiring pairings: {e}"))
            },
            async {
                figures::pairings_by_status(pool, now)
                    .await
                    .context("dashboard: pairings")
            },
        )?;
        Ok(Counts {
            by_status,
            logins,
            locked,
            flagged,
            pairings_expiring,
            pairings,
        })
    }
}

/// The label of a login means, as the audit trail names it.
fn method_label(c: &ConsoleTexts, method: &str) -> &'static str {
    match method {
        "password" => c.method_password,
        "directory_password" => c.method_directory,
        "security_key" => c.method_key,
        "card" => c.method_card,
        "ecps" => c.method_ecps,
        _ => c.method_other,
    }
}

/// Today's logins tallied two ways: by outcome and reason (most frequent first), and by means.
fn tally(
    c: &ConsoleTexts,
    counts: &[(String, String, Option<String>, i64)],
) -> (Vec<(String, String, i64)>, Vec<MethodRow>) {
    let mut by_reason: Vec<(String, String, i64)> = Vec::new();
    let mut by_method: Vec<MethodRow> = Vec::new();
    for (method, outcome, reason, n) in counts {
        let reason = reason.clone().unwrap_or_default();
        match by_reason
            .iter_mut()
            .find(|(o, r, _)| o == outcome && *r == reason)
        {
            Some(row) => row.2 += n,
            None => by_reason.push((outcome.clone(), reason, *n)),
        }
        let label = method_label(c, method);
        let pos = match by_method.iter().position(|r| r.label == label) {
            Some(pos) => pos,
            None => {
                by_method.push(MethodRow {
                    label,
                    success: 0,
                    failure: 0,
                });
                by_method.len() - 1
            }
        };
        match outcome.as_str() {
            "success" => by_method[pos].success += n,
            _ => by_method[pos].failure += n,
        }
    }
    by_reason.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    (by_reason, by_method)
}

/// The CPS revocation lists this server holds, and whether each is past its next update.
fn crls(state: &AppState) -> Vec<CrlRow> {
    let now = state.clock.now();
    let Some(cps) = &state.cps else {
        return Vec::new();
    };
    cps.verifier
        .crls
        .all()
        .iter()
        .map(|l| CrlRow {
            issuer: l.issuer.clone(),
            this_update: date(l.this_update),
            next_update: l.next_update.map(date).unwrap_or_default(),
            stale: l.next_update.is_some_and(|n| n < now),
        })
        .collect()
}

/// GET /admin
pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageLang(lang): PageLang,
    admin: AdminSession,
) -> Result<HttpResponse, PageError> {
    let f = Frame::new(&req, lang, &admin);
    let (counts, sync) = tokio::join!(
        Counts::read(&state, state.clock.now()),
        super::sync::dashboard_sync(&state, f.c)
    );
    let (counts, sync) = (counts?, sync?);
    let (logins, by_method) = tally(f.c, &counts.logins);
    let page = DashboardPage {
        chrome: f.chrome.clone(),
        by_status: counts.by_status,
        logins,
        locked: counts.locked,
        flagged: counts.flagged,
        pairings_expiring: counts.pairings_expiring,
        pairings: counts.pairings,
        sync,
        by_method,
        crls: crls(&state),
        f,
    };
    Ok(render_with(HttpResponse::Ok(), &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(m: &str, o: &str, r: Option<&str>, n: i64) -> (String, String, Option<String>, i64) {
        (m.into(), o.into(), r.map(Into::into), n)
    }

    #[test]
    fn one_read_of_the_logins_gives_both_tables() {
        let c = super::super::texts::texts(crate::ui::i18n::Lang::Fr);
        let counts = [
            row("password", "failure", Some("bad_password"), 3),
            row("security_key", "success", None, 7),
            row("password", "success", None, 2),
            row("directory_password", "failure", Some("bad_password"), 4),
            row("nfc", "success", None, 1),
        ];
        let (by_reason, by_method) = tally(c, &counts);
        assert_eq!(
            by_reason,
            vec![
                ("success".to_owned(), String::new(), 10),
                ("failure".to_owned(), "bad_password".to_owned(), 7),
            ]
        );
        let find = |label| by_method.iter().find(|r| r.label == label).unwrap();
        assert_eq!(
            (
                find(c.method_password).success,
                find(c.method_password).failure
            ),
            (2, 3)
        );
        assert_eq!(
            (find(c.method_key).success, find(c.method_key).failure),
            (7, 0)
        );
        assert_eq!(find(c.method_directory).failure, 4);
        assert_eq!(find(c.method_other).success, 1);
        assert_eq!(by_method.len(), 4);
    }
}
