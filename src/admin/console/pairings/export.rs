//! GET /admin/pairings.csv: the pairings the page's filters select, as CSV, written a page at a
//! time as the answer streams (never the whole file in memory). Every role that sees the page
//! may export; each export is audited `admin_console_export` with its filters and row count.
//! A cell that a spreadsheet would read as a formula is neutralised (CSV injection).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use futures_util::stream;
use serde_json::json;

use super::list::Filters;
use crate::admin::console::guard::AdminSession;
use crate::admin::pairings::{self as admin_pairings, ListRequest};
use crate::audit::AuditEvent;
use crate::state::AppState;
use crate::storage::pairings::ListedPairing;
use crate::ui::context::context_of;
use crate::ui::error::PageError;

/// Rows read per query while streaming.
const CHUNK: i64 = 500;

const HEADER: [&str; 13] = [
    "id",
    "username",
    "family_name",
    "given_name",
    "idnat",
    "status",
    "validated_at",
    "expires_at",
    "acr",
    "means",
    "revoked_at",
    "revoked_by",
    "revoked_reason",
];

/// A cell as written: one a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, or a
/// tab or carriage return before one) starts with a quote instead.
fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

fn iso(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Lines of CSV for `rows` (the header first when `header`).
fn lines(rows: &[ListedPairing], now: i64, header: bool) -> Result<Bytes, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record(HEADER)?;
    }
    for l in rows {
        let p = &l.pairing;
        w.write_record(
            [
                &p.id,
                &l.username,
                &l.family_name,
                &l.given_name,
                &p.idnat,
                p.status_at(now),
                &iso(p.validated_at),
                &iso(p.expires_at),
                p.acr.as_deref().unwrap_or_default(),
                &p.means,
                &p.revoked_at.map(iso).unwrap_or_default(),
                p.revoked_by.as_deref().unwrap_or_default(),
                p.revoked_reason.as_deref().unwrap_or_default(),
            ]
            .map(cell),
        )?;
    }
    w.into_inner().map(Bytes::from).map_err(|e| e.into_error())
}

/// Where the stream stands: the next page's cursor, or the end.
enum Step {
    Page(Option<String>),
    End,
}

/// GET /admin/pairings.csv?status=&expiring_within_days=
pub async fn pairings_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: AdminSession,
    query: web::Query<Filters>,
) -> Result<HttpResponse, PageError> {
    let mut request = query
        .request(CHUNK)
        .ok_or(PageError::BadRequest(|t| t.err_bad_request))?;
    request.cursor = None;
    let rows = admin_pairings::count(&state, &request)
        .await
        .context("cannot count the pairings")?;
    let filters = json!({
        "status": request.status.as_deref().unwrap_or("all"),
        "expiring_within_days": request.expiring_within_days,
    });
    let ev = AuditEvent::success("admin_console_export")
        .actor(admin.actor())
        .context(&context_of(&req))
        .details(json!({ "export": "pairings", "filters": filters, "rows": rows }));
    state.audit.record(ev).await;
    let body = stream::unfold(Step::Page(None), move |step| {
        let (state, request) = (state.clone(), request.clone());
        async move { next_chunk(&state, request, step).await }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"trousseau-pairings.csv\"",
        ))
        .insert_header((CACHE_CONTROL, "no-store"))
        .streaming(body))
}

/// The next lines of the file, and where the stream then stands.
async fn next_chunk(
    state: &AppState,
    mut request: ListRequest,
    step: Step,
) -> Option<(Result<Bytes, std::io::Error>, Step)> {
    let Step::Page(cursor) = step else {
        return None;
    };
    let header = cursor.is_none();
    request.cursor = cursor;
    match admin_pairings::list(state, &request).await {
        Ok(page) => {
            let chunk = lines(&page.items, state.clock.now(), header);
            let next = page.next_cursor.map_or(Step::End, |c| Step::Page(Some(c)));
            Some((chunk, next))
        }
        Err(e) => {
            tracing::error!(error = ?e, "the pairings export stopped");
            Some((Err(std::io::Error::other(e)), Step::End))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (raw, written) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+33 1", "'+33 1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("Dupré", "Dupré"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(cell(raw), written);
        }
    }
}
