//! The reconciliation report as CSV: the same columns for `trousseau rpps report --format csv`
//! and the console's export. A cell that a spreadsheet would read as a formula (starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'` (CSV injection).

use crate::storage::findings::FindingRecord;

/// The header line's cells.
pub const HEADER: [&str; 5] = ["category", "user", "idnat", "first_seen", "detail"];

/// A cell made safe to open in a spreadsheet.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The CSV lines of `findings`, each with the person it is about (`user`), after the header
/// when `header` is set.
pub fn csv(findings: &[(FindingRecord, String)], header: bool) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record(HEADER)?;
    }
    for (f, user) in findings {
        w.write_record([
            neutralise(&f.category),
            neutralise(user),
            neutralise(f.idnat.as_deref().unwrap_or("")),
            rfc3339(f.first_seen),
            neutralise(&f.detail),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(category: &str, idnat: Option<&str>) -> FindingRecord {
        FindingRecord {
            id: "f".into(),
            category: category.into(),
            identity_id: None,
            idnat: idnat.map(str::to_owned),
            detail: "{}".into(),
            first_seen: 0,
            seen_at: 0,
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        for (cell, safe) in [
            ("=1+1", "'=1+1"),
            ("+33", "'+33"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("dupont", "dupont"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), safe, "{cell:?}");
        }
    }

    #[test]
    fn lines_follow_the_header() {
        let rows = vec![(
            finding("changed", Some("810001")),
            "=cmd|' /C calc'!A0".into(),
        )];
        let text = String::from_utf8(csv(&rows, true).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("category,user,idnat,first_seen,detail"));
        assert_eq!(
            lines.next(),
            Some("changed,'=cmd|' /C calc'!A0,810001,1970-01-01T00:00:00Z,{}")
        );
        let body = String::from_utf8(csv(&rows, false).unwrap()).unwrap();
        assert!(body.starts_with("changed,"));
    }
}
