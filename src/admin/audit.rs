//! Reading and exporting the audit trail (design.md, "What happened"): the filters shared by
//! the console, the admin API and the CLI, the cursor of a page, and the streamed CSV export,
//! which reads the trail by keyset one page at a time so that a million events leave with
//! bounded memory.

use futures_util::Stream;
use serde_json::{Value, json};
use sqlx::AnyPool;

use super::{AdminError, users};
use crate::audit::{Audit, AuditEvent, RequestContext};
use crate::state::AppState;
use crate::storage::audit::{self as store, AuditPage, AuditRecord, PersonMatch};

/// Events read per query of an export.
pub const EXPORT_PAGE: i64 = 1_000;

/// Longest text accepted in a filter.
const MAX_FILTER: usize = 200;

/// The filters of the trail, checked: every one optional, times in Unix seconds (UTC),
/// both inclusive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditCriteria {
    /// A username or identity id (events about them or done by them), or any other actor
    /// (`api:<client>`, `cli`).
    pub person: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The outcome of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// A filter that cannot be used, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("{0}: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)")]
    Date(&'static str),
    #[error("outcome: success or failure")]
    Outcome,
    #[error("the start of the period is after its end")]
    Range,
    #[error("{0}: at most 200 characters")]
    TooLong(&'static str),
    #[error("cursor: not one this server gave")]
    Cursor,
}

impl FilterError {
    /// The stable code, shared with the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            FilterError::Date(_) => "invalid_date",
            FilterError::Outcome => "invalid_outcome",
            FilterError::Range => "invalid_range",
            FilterError::TooLong(_) => "too_long",
            FilterError::Cursor => "invalid_cursor",
        }
    }
}

/// The filters as a form or a command line gives them: text, dates in UTC.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct CriteriaText {
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub outcome: String,
    /// `YYYY-MM-DD` (from midnight) or `YYYY-MM-DDTHH:MM[:SS]`.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD` (to the end of that day) or `YYYY-MM-DDTHH:MM[:SS]`.
    #[serde(default)]
    pub to: String,
}

fn text(field: &'static str, value: &str) -> Result<Option<String>, FilterError> {
    let v = value.trim();
    if v.chars().count() > MAX_FILTER {
        return Err(FilterError::TooLong(field));
    }
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

/// A date or date and time in UTC, in Unix seconds; a date alone is its first second, or its
/// last when `end_of_day`.
pub fn parse_time(
    field: &'static str,
    value: &str,
    end_of_day: bool,
) -> Result<Option<i64>, FilterError> {
    let v = value.trim().trim_end_matches(['Z', 'z']);
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || FilterError::Date(field);
    let at = if v.len() == 10 {
        let day: jiff::civil::Date = v.parse().map_err(|_| bad())?;
        let time = if end_of_day {
            jiff::civil::time(23, 59, 59, 0)
        } else {
            jiff::civil::time(0, 0, 0, 0)
        };
        day.to_datetime(time)
    } else {
        v.parse::<jiff::civil::DateTime>().map_err(|_| bad())?
    };
    let utc = at.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
    Ok(Some(utc.timestamp().as_second()))
}

impl CriteriaText {
    /// Checks the filters: a clear refusal for a date that does not parse or an unknown
    /// outcome.
    pub fn parse(&self) -> Result<AuditCriteria, FilterError> {
        let outcome = match self.outcome.trim() {
            "" => None,
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => return Err(FilterError::Outcome),
        };
        AuditCriteria {
            person: text("person", &self.person)?,
            client_id: text("client_id", &self.client_id)?,
            kind: text("kind", &self.kind)?,
            outcome,
            since: parse_time("from", &self.from, false)?,
            until: parse_time("to", &self.to, true)?,
        }
        .checked()
    }
}

impl AuditCriteria {
    /// Refuses a period that ends before it starts and overlong texts.
    pub fn checked(self) -> Result<AuditCriteria, FilterError> {
        if let (Some(s), Some(u)) = (self.since, self.until)
            && s > u
        {
            return Err(FilterError::Range);
        }
        for (field, v) in [
            ("person", &self.person),
            ("client_id", &self.client_id),
            ("kind", &self.kind),
        ] {
            if v.as_ref().is_some_and(|v| v.chars().count() > MAX_FILTER) {
                return Err(FilterError::TooLong(field));
            }
        }
        Ok(self)
    }

    /// The filters as written in the trail of an export.
    pub fn describe(&self) -> Value {
        json!({
            "person": self.person, "client_id": self.client_id, "kind": self.kind,
            "outcome": self.outcome.map(Outcome::as_str),
            "since": self.since, "until": self.until,
        })
    }

    /// The query of a page: a person given by username or id becomes the identity's events
    /// (about them, or done by them on the console or elsewhere); any other text is matched as
    /// it is against the subject and the actor.
    pub async fn resolve(
        &self,
        state: &AppState,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> Result<AuditPage, AdminError> {
        let person = match &self.person {
            None => None,
            Some(who) => Some(match users::find(state, who).await {
                Ok(i) => PersonMatch {
                    actors: vec![i.id.clone(), format!("admin:{}", i.username)],
                    ids: vec![i.id],
                },
                Err(AdminError::NotFound(_)) => PersonMatch {
                    ids: vec![who.clone()],
                    actors: vec![who.clone()],
                },
                Err(e) => return Err(e),
            }),
        };
        Ok(AuditPage {
            kind: self.kind.clone(),
            outcome: self.outcome.map(|o| o.as_str().to_owned()),
            subject: None,
            person,
            client_id: self.client_id.clone(),
            since: self.since,
            until: self.until,
            before,
            limit,
        })
    }
}

/// The cursor of the page after the event (at, id): opaque to callers.
pub fn cursor_of(at: i64, id: &str) -> String {
    super::cursor::encode(at, id)
}

/// Reads a cursor back; `None` for one this server did not give.
pub fn parse_cursor(text: &str) -> Option<(i64, String)> {
    super::cursor::decode_timed(text)
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot read the audit trail")]
    Storage(#[from] sqlx::Error),
    #[error("cannot write the CSV")]
    Csv(#[from] csv::Error),
}

/// Who asked for an export, for its own audit event.
#[derive(Debug, Clone)]
pub struct Requester {
    pub actor: String,
    pub ctx: RequestContext,
}

/// The header of the CSV.
pub const CSV_HEADER: [&str; 11] = [
    "id",
    "time_utc",
    "kind",
    "outcome",
    "reason",
    "actor",
    "subject",
    "client_id",
    "source_ip",
    "request_id",
    "details",
];

/// A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) is written after an apostrophe, so it stays text.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

fn utc(at: i64) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn write_row(w: &mut csv::Writer<Vec<u8>>, r: &AuditRecord) -> Result<(), csv::Error> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let cells = [
        r.id.clone(),
        utc(r.at),
        r.kind.clone(),
        r.outcome.clone(),
        opt(&r.reason),
        opt(&r.actor),
        opt(&r.subject),
        opt(&r.client_id),
        opt(&r.source_ip),
        opt(&r.request_id),
        opt(&r.details),
    ];
    w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))
}

/// The formats of an export: CSV for people and spreadsheets; JSON lines and syslog (RFC 5424)
/// for a SIEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailFormat {
    Csv,
    /// One JSON object per line: every column, and the time in UTC.
    JsonLines,
    /// One RFC 5424 message per line: facility authpriv, severity info for a success and
    /// warning for a failure, MSGID the event's kind, the event as JSON in MSG.
    Syslog,
}

impl TrailFormat {
    pub fn name(self) -> &'static str {
        match self {
            TrailFormat::Csv => "csv",
            TrailFormat::JsonLines => "jsonl",
            TrailFormat::Syslog => "syslog",
        }
    }
}

/// An event as one JSON object (the JSON-lines export and the syslog message).
fn json_event(r: &AuditRecord) -> Value {
    json!({
        "id": r.id,
        "time_utc": utc(r.at),
        "at": r.at,
        "kind": r.kind,
        "outcome": r.outcome,
        "reason": r.reason,
        "actor": r.actor,
        "subject": r.subject,
        "client_id": r.client_id,
        "source_ip": r.source_ip,
        "request_id": r.request_id,
        "details": r.details.as_deref().map(|d| serde_json::from_str::<Value>(d)
            .unwrap_or_else(|_| Value::String(d.to_owned()))),
    })
}

/// This machine's name as RFC 5424 allows it (printable ASCII without spaces, at most 255),
/// or `-`.
fn syslog_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if name.is_empty() {
        "-".to_owned()
    } else {
        name
    }
}

/// One RFC 5424 line: `<PRI>1 TIMESTAMP HOSTNAME trousseau - MSGID - MSG`.
pub fn syslog_line(r: &AuditRecord, hostname: &str) -> String {
    // authpriv (10) × 8 + severity: 6 informational, 4 warning.
    let pri = if r.outcome == "success" { 86 } else { 84 };
    // MSGID: printable ASCII, at most 32 characters (kinds are snake_case, shorter).
    let msgid: String = r
        .kind
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let msgid = if msgid.is_empty() {
        "-".to_owned()
    } else {
        msgid
    };
    format!(
        "<{pri}>1 {} {hostname} trousseau - {msgid} - {}",
        utc(r.at),
        json_event(r)
    )
}

/// What an export still has to say in the trail when it ends.
struct Ending {
    audit: Audit,
    requester: Requester,
    filters: Value,
    format: TrailFormat,
}

impl Ending {
    fn event(&self, outcome: Result<(), &'static str>, rows: u64) -> AuditEvent {
        let ev = match outcome {
            Ok(()) => AuditEvent::success("audit_exported"),
            Err(reason) => AuditEvent::failure("audit_exported", reason),
        };
        ev.actor(self.requester.actor.clone())
            .context(&self.requester.ctx)
            .details(json!({ "filters": self.filters, "rows": rows, "format": self.format.name() }))
    }
}

/// A page of events as CSV, with the header first when `header`.
fn csv_chunk(rows: &[AuditRecord], header: bool) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256 + 128));
    let written = (|| {
        if header {
            w.write_record(CSV_HEADER)?;
        }
        rows.iter().try_for_each(|r| write_row(&mut w, r))
    })();
    written.map_err(ExportError::from).and_then(|()| {
        w.into_inner()
            .map_err(|e| csv::Error::from(e.into_error()).into())
    })
}

/// A page of events, one line each.
fn lines(rows: &[AuditRecord], line: impl Fn(&AuditRecord) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 320);
    for r in rows {
        out.extend_from_slice(line(r).as_bytes());
        out.push(b'\n');
    }
    out
}

/// The state of a running export: where it stands in the trail.
struct Run {
    pool: AnyPool,
    page: AuditPage,
    rows: u64,
    started: bool,
    /// The syslog HOSTNAME, read once.
    hostname: Option<String>,
    /// Taken once the export ended and said so in the trail.
    ending: Option<Ending>,
}

impl Drop for Run {
    /// An export dropped before its end (the reader went away) is audited as interrupted.
    fn drop(&mut self) {
        let Some(ending) = self.ending.take() else {
            return;
        };
        let ev = ending.event(Err("interrupted"), self.rows);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { ending.audit.record(ev).await });
        }
    }
}

impl Run {
    /// The next chunk of CSV, or `None` once the export is over.
    async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, ExportError>> {
        let ending = self.ending.as_ref()?;
        let rows = match store::page(&self.pool, &self.page).await {
            Ok(rows) => rows,
            Err(e) => {
                let ev = ending.event(Err("storage"), self.rows);
                ending.audit.record(ev).await;
                self.ending = None;
                return Some(Err(e.into()));
            }
        };
        let chunk = match ending.format {
            TrailFormat::Csv => csv_chunk(&rows, !self.started),
            TrailFormat::JsonLines => Ok(lines(&rows, |r| json_event(r).to_string())),
            TrailFormat::Syslog => {
                let host = self.hostname.get_or_insert_with(syslog_hostname).clone();
                Ok(lines(&rows, |r| syslog_line(r, &host)))
            }
        };
        self.started = true;
        self.rows += rows.len() as u64;
        let last_page = (rows.len() as i64) < self.page.limit;
        match (&chunk, last_page, rows.last()) {
            (Ok(_), false, Some(last)) => self.page.before = Some((last.at, last.id.clone())),
            _ => {
                let outcome = if chunk.is_ok() {
                    Ok(())
                } else {
                    Err("encoding")
                };
                if let Some(ending) = self.ending.take() {
                    ending.audit.record(ending.event(outcome, self.rows)).await;
                }
            }
        }
        Some(chunk)
    }
}

/// The trail matching `criteria` as CSV (header first, newest event first), streamed: pages of
/// [`EXPORT_PAGE`] events read by keyset and written as they come, never the whole result in
/// memory. The export is audited `audit_exported` with its filters and the number of rows,
/// when it ends (or `interrupted` if the reader goes away first).
pub async fn export_csv(
    state: &AppState,
    criteria: &AuditCriteria,
    requester: Requester,
) -> Result<impl Stream<Item = Result<Vec<u8>, ExportError>> + 'static, AdminError> {
    export_trail(state, criteria, requester, TrailFormat::Csv).await
}

/// The trail matching `criteria` in `format`, streamed as [`export_csv`] is.
pub async fn export_trail(
    state: &AppState,
    criteria: &AuditCriteria,
    requester: Requester,
    format: TrailFormat,
) -> Result<impl Stream<Item = Result<Vec<u8>, ExportError>> + 'static, AdminError> {
    let page = criteria.resolve(state, None, EXPORT_PAGE).await?;
    let run = Run {
        pool: state.db.pool().clone(),
        page,
        rows: 0,
        started: false,
        hostname: None,
        ending: Some(Ending {
            audit: state.audit.clone(),
            requester,
            filters: criteria.describe(),
            format,
        }),
    };
    Ok(futures_util::stream::unfold(run, |mut run| async move {
        let chunk = run.next_chunk().await?;
        Some((chunk, run))
    }))
}

/// Records an export refused for its filters.
pub async fn refuse_export(state: &AppState, requester: &Requester, e: &FilterError) {
    let ev = AuditEvent::failure("audit_exported", e.code())
        .actor(requester.actor.clone())
        .context(&requester.ctx)
        .details(json!({ "error": e.to_string() }));
    state.audit.record(ev).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_as_utc_and_bad_ones_are_refused() {
        assert_eq!(parse_time("from", "", false), Ok(None));
        assert_eq!(
            parse_time("from", "2026-12-07", false),
            Ok(Some(1_796_601_600))
        );
        assert_eq!(
            parse_time("to", "2026-12-07", true),
            Ok(Some(1_796_601_600 + 86_399))
        );
        assert_eq!(
            parse_time("from", "2026-12-07T13:45", false),
            Ok(Some(1_796_601_600 + 13 * 3600 + 45 * 60))
        );
        assert_eq!(
            parse_time("from", "2026-12-07T13:45:10Z", false),
            Ok(Some(1_796_601_600 + 13 * 3600 + 45 * 60 + 10))
        );
        for bad in ["2026-13-01", "07/12/2026", "demain", "2026-12-07T25:00"] {
            assert_eq!(
                parse_time("from", bad, false),
                Err(FilterError::Date("from"))
            );
        }
    }

    #[test]
    fn filters_refuse_unknown_outcomes_and_inverted_periods() {
        let t = |outcome: &str, from: &str, to: &str| CriteriaText {
            outcome: outcome.into(),
            from: from.into(),
            to: to.into(),
            ..Default::default()
        };
        assert_eq!(t("maybe", "", "").parse(), Err(FilterError::Outcome));
        assert_eq!(
            t("", "2026-12-08", "2026-12-07").parse(),
            Err(FilterError::Range)
        );
        let ok = t("failure", "2026-12-07", "2026-12-07").parse().unwrap();
        assert_eq!(ok.outcome, Some(Outcome::Failure));
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, out) in [
            ("=1+1", "'=1+1"),
            ("+33", "'+33"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("login", "login"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), out);
        }
    }

    #[test]
    fn cursors_read_back_and_forged_ones_are_refused() {
        let c = cursor_of(1_700_000_000, "0191-abc");
        assert_eq!(parse_cursor(&c), Some((1_700_000_000, "0191-abc".into())));
        for bad in ["", "!!", &cursor_of(1, &"x".repeat(65))] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
        use base64::Engine;
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x:y");
        assert_eq!(parse_cursor(&forged), None);
    }
}
