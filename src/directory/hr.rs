//! HR import: creates and updates identities from the HR export, keyed on the employee
//! number, and applies departures.

use anyhow::Context;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;

use crate::audit::AuditEvent;
use crate::config::HrColumns;
use crate::directory::Repository;
use crate::directory::users;
use crate::identity::{Finess, IdNat, LinkMethod, Status, name};
use crate::storage::hr::{self as store, HrRunRecord};
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::{is_unique_violation, links};

/// Lines reported in full; beyond, only counted.
pub const REPORTED_LINES: usize = 20;

/// Why an HR file was not imported at all.
#[derive(Debug, thiserror::Error)]
pub enum HrError {
    #[error("the HR file has no column {column:?} (configuration key `{key}`)")]
    MissingColumn { key: &'static str, column: String },
    #[error("the HR file is empty: no header line")]
    Empty,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A skipped line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LineIssue {
    pub line: u64,
    pub reason: String,
}

/// The outcome of one import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HrReport {
    pub run: HrRunRecord,
    /// The first [`REPORTED_LINES`] skipped lines; `run.rejected` counts them all.
    pub issues: Vec<LineIssue>,
    /// Notes that did not skip a line (an IdNat already linked elsewhere…).
    pub warnings: Vec<LineIssue>,
}

impl HrReport {
    /// Whether anything at all was taken from the file.
    pub fn imported_anything(&self) -> bool {
        self.run.created + self.run.updated + self.run.unchanged > 0
    }
}

/// One valid line of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    employee_number: String,
    given_name: String,
    family_name: String,
    birth_date: Option<String>,
    email: Option<String>,
    department: Option<String>,
    arrival: Option<String>,
    departure: Option<String>,
    idnat: Option<IdNat>,
    establishment: Option<Finess>,
}

/// Column positions found in the header.
struct Positions {
    employee_number: usize,
    given_name: usize,
    family_name: usize,
    birth_date: Option<usize>,
    email: Option<usize>,
    department: Option<usize>,
    arrival: Option<usize>,
    departure: Option<usize>,
    idnat: Option<usize>,
    establishment: Option<usize>,
}

fn positions(header: &csv::StringRecord, c: &HrColumns) -> Result<Positions, HrError> {
    let find = |name: &str| {
        let name = name.trim().to_lowercase();
        header.iter().position(|h| h.trim().to_lowercase() == name)
    };
    let required = |key: &'static str, name: &str| {
        find(name).ok_or_else(|| HrError::MissingColumn {
            key,
            column: name.to_owned(),
        })
    };
    let optional = |name: &str| {
        if name.trim().is_empty() {
            None
        } else {
            find(name)
        }
    };
    Ok(Positions {
        employee_number: required("hr.columns.employee_number", &c.employee_number)?,
        given_name: required("hr.columns.given_name", &c.given_name)?,
        family_name: required("hr.columns.family_name", &c.family_name)?,
        birth_date: optional(&c.birth_date),
        email: optional(&c.email),
        department: optional(&c.department),
        arrival: optional(&c.arrival),
        departure: optional(&c.departure),
        idnat: optional(&c.idnat),
        establishment: optional(&c.establishment_finess),
    })
}

/// `YYYY-MM-DD` or `DD/MM/YYYY` → `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<String> {
    let (y, m, d) = if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
        (y, m, d)
    } else if let [d, m, y] = s.split('/').collect::<Vec<_>>()[..] {
        (y, m, d)
    } else {
        return None;
    };
    let y: i32 = y.parse().ok().filter(|_| y.len() == 4)?;
    let m: u8 = m.parse().ok().filter(|_| m.len() <= 2)?;
    let d: u8 = d.parse().ok().filter(|_| d.len() <= 2)?;
    let month = time::Month::try_from(m).ok()?;
    time::Date::from_calendar_date(y, month, d).ok()?;
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Today in the establishment's time zone (`establishment.time_zone`), as `YYYY-MM-DD`: HR
/// dates are whole local days.
pub fn local_today(state: &Repository<'_>) -> String {
    state
        .settings
        .establishment
        .time_zone
        .date(state.clock.now())
}

/// The calendar date (UTC) of a unix time, as `YYYY-MM-DD`.
pub fn iso_date(unix: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_row(p: &Positions, r: &csv::StringRecord) -> Result<Row, String> {
    let field = |i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let employee_number = field(Some(p.employee_number)).ok_or("no employee number".to_owned())?;
    if employee_number.len() > 64 || employee_number.chars().any(char::is_control) {
        return Err("the employee number is not a short printable text".into());
    }
    let given_name = field(Some(p.given_name)).ok_or("no given name".to_owned())?;
    let family_name = field(Some(p.family_name)).ok_or("no family name".to_owned())?;
    let date = |what: &str, i: Option<usize>| -> Result<Option<String>, String> {
        match field(i) {
            None => Ok(None),
            Some(s) => parse_date(&s).map(Some).ok_or(format!(
                "{what} {s:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)"
            )),
        }
    };
    let email = field(p.email);
    if let Some(e) = &email
        && (!e.contains('@') || e.contains(char::is_whitespace))
    {
        return Err(format!("{e:?} is not an email address"));
    }
    let idnat = match field(p.idnat) {
        None => None,
        Some(s) => Some(IdNat::parse(&s).map_err(|e| format!("IdNat {s:?}: {e}"))?),
    };
    let establishment = match field(p.establishment) {
        None => None,
        Some(s) => Some(Finess::parse(&s).map_err(|e| format!("FINESS {s:?}: {e}"))?),
    };
    Ok(Row {
        establishment,
        employee_number,
        given_name,
        family_name,
        birth_date: date("birth date", p.birth_date)?,
        email,
        department: field(p.department),
        arrival: date("arrival date", p.arrival)?,
        departure: date("departure date", p.departure)?,
        idnat,
    })
}

/// Reads one record of an HR export against the file's header with the configured columns,
/// as the import does before touching the repository: `Ok(Err(reason))` for a line it would
/// skip. Only for the fuzz targets.
#[doc(hidden)]
pub fn check_record(
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    columns: &HrColumns,
) -> Result<Result<(), String>, HrError> {
    let pos = positions(header, columns)?;
    Ok(parse_row(&pos, record).map(|_| ()))
}

/// Imports an HR export file. `actor` names who asked (CLI, sync job).
pub async fn import_file(
    state: &Repository<'_>,
    path: &Path,
    actor: &str,
) -> Result<HrReport, HrError> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("cannot read the HR file {}", path.display()))?;
    import_bytes(state, &path.display().to_string(), &bytes, actor).await
}

/// Imports an HR export held in memory (HR exports are small: thousands of lines).
pub async fn import_bytes(
    state: &Repository<'_>,
    source: &str,
    bytes: &[u8],
    actor: &str,
) -> Result<HrReport, HrError> {
    let started_at = state.clock.now();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let settings = &state.settings.hr;
    let delimiter = settings.delimiter.bytes().next().unwrap_or(b';');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .context("cannot read the header of the HR file")?
        .clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(HrError::Empty);
    }
    let pos = positions(&header, &settings.columns)?;
    let mut run = HrRunRecord {
        id: uuid::Uuid::now_v7().to_string(),
        source: source.to_owned(),
        started_at,
        status: "running".to_owned(),
        ..HrRunRecord::default()
    };
    store::insert_run(state.db.pool(), &run)
        .await
        .context("cannot record the HR run")?;
    let mut progress = Progress::default();
    let mut issues = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    let today = local_today(state);
    let mut record = csv::StringRecord::new();
    loop {
        progress.note(state, &run).await;
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                run.lines += 1;
                run.rejected += 1;
                push(&mut issues, line, format!("unreadable line: {e}"));
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        run.lines += 1;
        let row = match parse_row(&pos, &record) {
            Ok(r) => r,
            Err(reason) => {
                run.rejected += 1;
                push(&mut issues, line, reason);
                continue;
            }
        };
        if !seen.insert(row.employee_number.clone()) {
            run.rejected += 1;
            push(
                &mut issues,
                line,
                format!(
                    "employee number {} already seen in this file",
                    row.employee_number
                ),
            );
            continue;
        }
        match apply_row(state, &row, &run.id, &today, actor).await {
            Ok((outcome, warning)) => {
                match outcome {
                    Outcome::Created => run.created += 1,
                    Outcome::Updated => run.updated += 1,
                    Outcome::Unchanged => run.unchanged += 1,
                }
                if let Some(w) = warning {
                    push(&mut warnings, line, w);
                }
            }
            Err(reason) => {
                run.rejected += 1;
                push(&mut issues, line, reason);
            }
        }
    }
    let ending = async {
        apply_arrivals(state, &today, actor)
            .await
            .context("cannot apply the arrivals")?;
        apply_departures(state, &today, actor)
            .await
            .context("cannot apply the departures")
    }
    .await;
    run.finished_at = state.clock.now();
    let ev = match &ending {
        Ok(departed) => {
            run.departed = *departed as i64;
            run.status = "succeeded".to_owned();
            AuditEvent::success("hr_import")
        }
        Err(e) => {
            run.status = "failed".to_owned();
            run.error = Some(format!("{e:#}"));
            AuditEvent::failure("hr_import", "failed")
        }
    };
    let ev = ev.actor(actor).details(json!({
        "run": run.id, "source": run.source, "lines": run.lines, "created": run.created,
        "updated": run.updated, "unchanged": run.unchanged, "departed": run.departed,
        "rejected": run.rejected,
    }));
    let mut tx = state.db.begin().await.context("cannot record the HR run")?;
    store::update_run(&mut *tx, &run)
        .await
        .context("cannot record the HR run")?;
    state
        .audit
        .in_tx(&mut tx, ev)
        .await
        .context("cannot audit the HR run")?;
    tx.commit().await.context("cannot record the HR run")?;
    ending?;
    Ok(HrReport {
        run,
        issues,
        warnings,
    })
}

/// When a running import last wrote its counters to its run row: every second, or every
/// [`Progress::LINES`] lines, whichever comes first.
struct Progress {
    at: std::time::Instant,
    lines: i64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            at: std::time::Instant::now(),
            lines: 0,
        }
    }
}

impl Progress {
    const LINES: i64 = 200;

    async fn note(&mut self, state: &Repository<'_>, run: &HrRunRecord) {
        if run.lines - self.lines < Self::LINES && self.at.elapsed().as_secs() < 1 {
            return;
        }
        (self.at, self.lines) = (std::time::Instant::now(), run.lines);
        // Progress is for people watching: a failed write does not stop the import.
        if let Err(e) = store::update_run(state.db.pool(), run).await {
            tracing::warn!(error = %e, run = %run.id, "cannot write the HR run's progress");
        }
    }
}

fn push(list: &mut Vec<LineIssue>, line: u64, reason: String) {
    if list.len() < REPORTED_LINES {
        list.push(LineIssue { line, reason });
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Creates or updates the identity of one row; the outcome and an optional warning. An error
/// is a reason to skip the line.
async fn apply_row(
    state: &Repository<'_>,
    row: &Row,
    run_id: &str,
    today: &str,
    actor: &str,
) -> Result<(Outcome, Option<String>), String> {
    let db_err = |e: sqlx::Error| format!("the database refused the line: {e}");
    let now = state.clock.now();
    let mut late_arrival = None;
    let existing = identities::by_employee_number(state.db.pool(), &row.employee_number)
        .await
        .map_err(db_err)?;
    let (outcome, identity_id) = match existing {
        Some(old) => {
            let new = IdentityRecord {
                given_name: row.given_name.clone(),
                family_name: row.family_name.clone(),
                email: row.email.clone().or(old.email.clone()),
                department: row.department.clone(),
                hr_arrival: row.arrival.clone(),
                hr_departure: row.departure.clone(),
                birth_date: row.birth_date.clone().or(old.birth_date.clone()),
                updated_at: now,
                ..old.clone()
            };
            let changed = changes(&old, &new);
            // An account in use is not taken away on a date correction: said, left active.
            if changed.contains(&"hr_arrival")
                && old.status == Status::Active
                && row.arrival.as_deref().is_some_and(|a| a > today)
            {
                late_arrival = Some(format!(
                    "arrival date {} is in the future but the identity is already active: left \
                     active (trousseau user disable to stop it)",
                    row.arrival.as_deref().unwrap_or_default()
                ));
            }
            if changed.is_empty() {
                (Outcome::Unchanged, old.id)
            } else {
                let mut tx = state.db.begin().await.map_err(db_err)?;
                identities::update_hr(&mut tx, &new).await.map_err(db_err)?;
                let ev = AuditEvent::success("hr_identity_updated")
                    .actor(actor)
                    .subject(&old.id)
                    .details(json!({ "run": run_id, "employee_number": row.employee_number, "changed": changed }));
                state.audit.in_tx(&mut tx, ev).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                (Outcome::Updated, old.id)
            }
        }
        None => {
            let id = create(state, row, run_id, today, actor).await?;
            (Outcome::Created, id)
        }
    };
    let outcome = match (outcome, &row.establishment) {
        (outcome, Some(f)) => {
            let moved = set_establishment(state, &identity_id, f, run_id, actor).await?;
            match outcome {
                Outcome::Unchanged if moved => Outcome::Updated,
                other => other,
            }
        }
        (outcome, None) => outcome,
    };
    let warning = match &row.idnat {
        Some(idnat) => link_if_free(state, &identity_id, idnat, actor).await?,
        None => None,
    };
    Ok((outcome, warning.or(late_arrival)))
}

/// Records the establishment HR gives for an identity; true when it changed.
async fn set_establishment(
    state: &Repository<'_>,
    identity_id: &str,
    finess: &Finess,
    run_id: &str,
    actor: &str,
) -> Result<bool, String> {
    let db_err = |e: sqlx::Error| format!("the database refused the line: {e}");
    let old = identities::establishment_of(state.db.pool(), identity_id)
        .await
        .map_err(db_err)?;
    if old.as_deref() == Some(finess.as_str()) {
        return Ok(false);
    }
    let mut tx = state.db.begin().await.map_err(db_err)?;
    identities::set_establishment(&mut tx, identity_id, Some(finess.as_str()))
        .await
        .map_err(db_err)?;
    let ev = AuditEvent::success("hr_identity_updated")
        .actor(actor)
        .subject(identity_id)
        .details(json!({ "run": run_id, "changed": ["establishment_finess"],
                         "establishment_finess": finess.as_str() }));
    state.audit.in_tx(&mut tx, ev).await.map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

/// Names of the fields that differ.
fn changes(old: &IdentityRecord, new: &IdentityRecord) -> Vec<&'static str> {
    let mut out = Vec::new();
    let pairs: [(&'static str, Option<&str>, Option<&str>); 7] = [
        ("given_name", Some(&old.given_name), Some(&new.given_name)),
        (
            "family_name",
            Some(&old.family_name),
            Some(&new.family_name),
        ),
        ("email", old.email.as_deref(), new.email.as_deref()),
        (
            "department",
            old.department.as_deref(),
            new.department.as_deref(),
        ),
        (
            "hr_arrival",
            old.hr_arrival.as_deref(),
            new.hr_arrival.as_deref(),
        ),
        (
            "hr_departure",
            old.hr_departure.as_deref(),
            new.hr_departure.as_deref(),
        ),
        (
            "birth_date",
            old.birth_date.as_deref(),
            new.birth_date.as_deref(),
        ),
    ];
    for (name, a, b) in pairs {
        if a != b {
            out.push(name);
        }
    }
    out
}

/// Creates an identity with a username derived from the names (`jdupont`, `jdupont2`…);
/// `pending` (no login) while its arrival date is after `today`.
async fn create(
    state: &Repository<'_>,
    row: &Row,
    run_id: &str,
    today: &str,
    actor: &str,
) -> Result<String, String> {
    let pending = row.arrival.as_deref().is_some_and(|a| a > today);
    let (status, status_reason) = if pending {
        (Status::Pending, Some(ARRIVAL_REASON.to_owned()))
    } else {
        (Status::Active, None)
    };
    let db_err = |e: sqlx::Error| format!("the database refused the line: {e}");
    let stem = name::username_stem(&row.given_name, &row.family_name);
    for _attempt in 0..3 {
        let taken: HashSet<String> = identities::usernames_like(state.db.pool(), &stem)
            .await
            .map_err(db_err)?
            .into_iter()
            .collect();
        let username = std::iter::once(stem.clone())
            .chain((2..).map(|n| format!("{stem}{n}")))
            .find(|u| !taken.contains(u))
            .unwrap_or_else(|| stem.clone());
        let now = state.clock.now();
        let rec = IdentityRecord {
            id: uuid::Uuid::now_v7().to_string(),
            username,
            given_name: row.given_name.clone(),
            family_name: row.family_name.clone(),
            email: row.email.clone(),
            status,
            status_reason: status_reason.clone(),
            status_at: Some(now),
            created_at: now,
            updated_at: now,
            employee_number: Some(row.employee_number.clone()),
            department: row.department.clone(),
            hr_arrival: row.arrival.clone(),
            hr_departure: row.departure.clone(),
            birth_date: row.birth_date.clone(),
        };
        let mut tx = state.db.begin().await.map_err(db_err)?;
        match identities::insert(&mut tx, &rec).await {
            // Another writer took the username (or the employee number) meanwhile: look again.
            Err(e) if is_unique_violation(&e) => continue,
            other => other.map_err(db_err)?,
        }
        let ev = AuditEvent::success("hr_identity_created")
            .actor(actor)
            .subject(&rec.id)
            .details(json!({
                "run": run_id, "employee_number": row.employee_number, "username": rec.username,
                "status": rec.status, "arrival": row.arrival,
            }));
        state.audit.in_tx(&mut tx, ev).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        return Ok(rec.id);
    }
    Err("no free username could be derived for this person".into())
}

/// Links the IdNat given by HR when neither side is linked yet; otherwise a warning.
async fn link_if_free(
    state: &Repository<'_>,
    identity_id: &str,
    idnat: &IdNat,
    actor: &str,
) -> Result<Option<String>, String> {
    let db_err = |e: sqlx::Error| format!("the database refused the line: {e}");
    if let Some(l) = links::of_identity(state.db.pool(), identity_id)
        .await
        .map_err(db_err)?
    {
        return Ok((l.idnat != idnat.as_str()).then(|| {
            format!(
                "HR gives IdNat {idnat} but the identity is linked to {}: left unchanged",
                l.idnat
            )
        }));
    }
    match users::link_rpps(state, identity_id, idnat, LinkMethod::Admin, actor).await {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(format!("IdNat {idnat} not linked: {e}"))),
    }
}

/// The status reason of an identity waiting for its HR arrival date.
pub const ARRIVAL_REASON: &str = "hr_arrival";

/// Makes active every pending identity whose arrival date is today or earlier (or was removed
/// by HR); the number made active. Each change is audited (`user_enabled`, `hr_arrival`).
pub async fn apply_arrivals(
    state: &Repository<'_>,
    today: &str,
    actor: &str,
) -> anyhow::Result<usize> {
    let due = store::arrived_but_pending(state.db.pool(), today).await?;
    let mut done = 0;
    for (id, arrival) in &due {
        let mut tx = state.db.begin().await?;
        if !store::activate_pending(&mut tx, id, state.clock.now()).await? {
            continue;
        }
        let ev = AuditEvent::success("user_enabled")
            .actor(actor)
            .subject(id)
            .reason(ARRIVAL_REASON)
            .details(json!({ "arrival": arrival, "today": today }));
        state.audit.in_tx(&mut tx, ev).await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}

/// Marks `left` every identity whose departure date is today or earlier, revoking its sessions
/// and tokens; the number of identities concerned.
pub async fn apply_departures(
    state: &Repository<'_>,
    today: &str,
    actor: &str,
) -> anyhow::Result<usize> {
    let due = store::departed_but_active(state.db.pool(), today).await?;
    for (id, date) in &due {
        users::withdraw(
            state,
            id,
            Status::Left,
            "hr_departure",
            actor,
            json!({ "departure": date }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot mark {id} as left: {e}"))?;
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-03-01").as_deref(), Some("2026-03-01"));
        assert_eq!(parse_date("1/3/2026").as_deref(), Some("2026-03-01"));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("26-02-03"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(iso_date(0), "1970-01-01");
    }

    proptest! {
        #[test]
        fn date_formats_agree(y in 1900i32..2100, m in 1u8..=12, d in 1u8..=28) {
            let iso = format!("{y:04}-{m:02}-{d:02}");
            prop_assert_eq!(parse_date(&iso), Some(iso.clone()));
            prop_assert_eq!(parse_date(&format!("{d}/{m}/{y}")), Some(iso));
        }

        #[test]
        fn never_panics(s in "\\PC{0,16}") {
            let _ = parse_date(&s);
        }
    }
}
