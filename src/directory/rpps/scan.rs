//! The streaming pass over an extraction: bytes in, professionals (all their lines grouped)
//! and rejected lines out. Pure over any `BufRead`, so tests and the fuzz target feed it bytes.

use std::collections::HashSet;
use std::io::BufRead;

use super::header::{HeaderError, Layout};
use super::line::{Activity, FNV_OFFSET, LineError, Record, fnv1a, parse_line, search_name};
use crate::identity::IdNat;

/// A professional with every activity of the file, and the hash of all their lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Professional {
    pub idnat: IdNat,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub activities: Vec<Activity>,
    pub hash: u64,
}

impl Professional {
    /// "LAST FIRST" folded for prefix search.
    pub fn search_name(&self) -> String {
        search_name(&format!("{} {}", self.last_name, self.first_name))
    }

    /// Distinct profession codes, in file order.
    pub fn professions(&self) -> Vec<String> {
        distinct(self.activities.iter().map(|a| &a.profession_code))
    }

    pub fn profession_labels(&self) -> Vec<String> {
        distinct(self.activities.iter().map(|a| &a.profession_label))
    }

    /// Distinct specialty (savoir-faire) codes.
    pub fn specialties(&self) -> Vec<String> {
        distinct(self.activities.iter().map(|a| &a.specialty_code))
    }
}

fn distinct<'a>(items: impl Iterator<Item = &'a Option<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items.flatten() {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// What the pass reports as it goes.
#[derive(Debug)]
pub enum Event {
    Professional(Professional),
    Rejected {
        line: u64,
        error: LineError,
    },
    /// Every 64 Ki lines: lines read so far and bytes consumed.
    Progress {
        lines: u64,
        bytes: u64,
    },
}

/// Why a file is refused as a whole (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("cannot read line {line}")]
    Io {
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("stopped")]
    Stopped,
}

/// Totals of a pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Data lines (header and empty lines excluded).
    pub lines: u64,
    pub professionals: u64,
    pub activities: u64,
    pub rejected: u64,
    pub bytes: u64,
}

/// A compact key for an IdNat: the 12 bytes of an RPPS IdNat, padded; longer ones hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 12]);

impl Key {
    pub fn of(id: &str) -> Key {
        let mut k = [0u8; 12];
        if id.len() <= 12 {
            k[..id.len()].copy_from_slice(id.as_bytes());
        } else {
            k[0] = 0xff;
            k[4..].copy_from_slice(&fnv1a(FNV_OFFSET, id.as_bytes()).to_le_bytes());
        }
        Key(k)
    }

    pub fn bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

struct Group {
    record: Record,
    activities: Vec<Activity>,
    hash: u64,
}

/// Reads a whole extraction. `sink` returns `false` to stop early ([`ScanError::Stopped`]).
/// The header is checked before any event is sent.
pub fn scan<R: BufRead>(
    mut reader: R,
    mut sink: impl FnMut(Event) -> bool,
) -> Result<Totals, ScanError> {
    let mut buf = Vec::with_capacity(1024);
    let mut totals = Totals::default();
    let mut line_no: u64 = 1;
    let n = reader
        .read_until(b'\n', &mut buf)
        .map_err(|source| ScanError::Io { line: 1, source })?;
    totals.bytes += n as u64;
    let header = trim_end(&buf);
    let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
    let header = std::str::from_utf8(header).map_err(|_| HeaderError::NotUtf8)?;
    let layout = Layout::parse(header)?;

    let mut seen: HashSet<Key> = HashSet::new();
    let mut current: Option<Group> = None;
    let emit = |g: Group, totals: &mut Totals, sink: &mut dyn FnMut(Event) -> bool| -> bool {
        totals.professionals += 1;
        totals.activities += g.activities.len() as u64;
        let r = g.record;
        sink(Event::Professional(Professional {
            idnat: r.idnat,
            civility: r.civility,
            last_name: r.last_name,
            first_name: r.first_name,
            activities: g.activities,
            hash: g.hash,
        }))
    };
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| ScanError::Io {
                line: line_no + 1,
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        totals.bytes += n as u64;
        if line_no.is_multiple_of(65_536)
            && !sink(Event::Progress {
                lines: line_no,
                bytes: totals.bytes,
            })
        {
            return Err(ScanError::Stopped);
        }
        let raw = trim_end(&buf);
        if raw.is_empty() {
            continue;
        }
        totals.lines += 1;
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| LineError::InvalidUtf8)
            .and_then(|text| parse_line(&layout, text));
        let record = match parsed {
            Ok(r) => r,
            Err(error) => {
                totals.rejected += 1;
                if !sink(Event::Rejected {
                    line: line_no,
                    error,
                }) {
                    return Err(ScanError::Stopped);
                }
                continue;
            }
        };
        if let Some(g) = current.as_mut()
            && g.record.idnat == record.idnat
        {
            g.hash = fnv1a(fnv1a(g.hash, raw), b"\n");
            g.activities.push(record.activity);
            continue;
        }
        if !seen.insert(Key::of(record.idnat.as_str())) {
            totals.rejected += 1;
            let error = LineError::NotContiguous(record.idnat.to_string());
            if !sink(Event::Rejected {
                line: line_no,
                error,
            }) {
                return Err(ScanError::Stopped);
            }
            continue;
        }
        let hash = fnv1a(fnv1a(FNV_OFFSET, raw), b"\n");
        let mut record = record;
        let activity = std::mem::take(&mut record.activity);
        let next = Group {
            record,
            activities: vec![activity],
            hash,
        };
        if let Some(done) = current.replace(next)
            && !emit(done, &mut totals, &mut sink)
        {
            return Err(ScanError::Stopped);
        }
    }
    if let Some(done) = current.take()
        && !emit(done, &mut totals, &mut sink)
    {
        return Err(ScanError::Stopped);
    }
    Ok(totals)
}

fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::rpps::header::HEADER_56;
    use proptest::prelude::*;

    fn line(idnat: &str, last: &str, profession: &str, finess: &str) -> String {
        let mut f = vec![""; 56];
        f[0] = "8";
        f[1] = &idnat[1..];
        f[2] = idnat;
        f[7] = last;
        f[8] = "JEAN";
        f[9] = profession;
        f[17] = "S";
        f[21] = finess;
        format!("{}|", f.join("|"))
    }

    type Outcome = (
        Result<Totals, ScanError>,
        Vec<Professional>,
        Vec<(u64, String)>,
    );

    fn run(bytes: &[u8]) -> Outcome {
        let mut pros = Vec::new();
        let mut rejected = Vec::new();
        let r = scan(bytes, |e| {
            match e {
                Event::Professional(p) => pros.push(p),
                Event::Rejected { line, error } => rejected.push((line, error.code().to_owned())),
                Event::Progress { .. } => {}
            }
            true
        });
        (r, pros, rejected)
    }

    fn file(lines: &[String], bom: bool, crlf: bool) -> Vec<u8> {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut s = String::new();
        if bom {
            s.push('\u{feff}');
        }
        s.push_str(HEADER_56);
        s.push_str(eol);
        for l in lines {
            s.push_str(l);
            s.push_str(eol);
        }
        s.into_bytes()
    }

    #[test]
    fn lines_are_grouped_per_professional_with_bom_and_crlf() {
        let lines = vec![
            line("810001045367", "DUPONT", "10", "750000001"),
            line("810001045367", "DUPONT", "10", "750000002"),
            "broken|line|".to_owned(),
            line("810002000003", "MARTIN", "60", ""),
        ];
        for (bom, crlf) in [(false, false), (true, true), (true, false), (false, true)] {
            let (totals, pros, rejected) = run(&file(&lines, bom, crlf));
            let totals = totals.unwrap();
            assert_eq!(
                (totals.lines, totals.professionals, totals.activities),
                (4, 2, 3)
            );
            assert_eq!(rejected, vec![(4, "field_count".to_owned())]);
            assert_eq!(pros[0].activities.len(), 2);
            assert_eq!(pros[0].professions(), vec!["10".to_owned()]);
            assert_eq!(pros[0].search_name(), "DUPONT JEAN");
        }
        // Same content, same hash, whatever the line ends.
        let (_, a, _) = run(&file(&lines, false, false));
        let (_, b, _) = run(&file(&lines, true, true));
        assert_eq!(a[0].hash, b[0].hash);
        let changed = vec![
            lines[0].clone(),
            line("810001045367", "DUPONT", "10", "750000003"),
        ];
        let (_, c, _) = run(&file(&changed, false, false));
        assert_ne!(a[0].hash, c[0].hash);
    }

    #[test]
    fn invalid_utf8_and_repeats_are_rejected_with_their_line() {
        let mut bytes = file(&[line("810001045367", "DUPONT", "10", "")], false, false);
        bytes.extend_from_slice(b"\xff\xfe|bad\n");
        bytes.extend_from_slice(line("810002000003", "MARTIN", "60", "").as_bytes());
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(line("810001045367", "DUPONT", "10", "").as_bytes());
        let (totals, pros, rejected) = run(&bytes);
        assert_eq!(totals.unwrap().rejected, 2);
        assert_eq!(pros.len(), 2);
        assert_eq!(
            rejected,
            vec![
                (3, "invalid_utf8".to_owned()),
                (5, "not_contiguous".to_owned())
            ]
        );
    }

    #[test]
    fn a_bad_header_is_refused_before_any_event() {
        let (r, pros, rej) = run(b"a|b|c|\n1|2|3|\n");
        assert!(matches!(r, Err(ScanError::Header(HeaderError::Missing(_)))));
        assert!(pros.is_empty() && rej.is_empty());
        assert!(matches!(
            run(b"").0,
            Err(ScanError::Header(HeaderError::Empty))
        ));
        assert!(matches!(
            run(b"\xff|\n").0,
            Err(ScanError::Header(HeaderError::NotUtf8))
        ));
    }

    #[test]
    fn keys_are_compact_and_distinct() {
        assert_ne!(Key::of("810001045367"), Key::of("81000104536"));
        assert_ne!(
            Key::of("3760021832/000000018"),
            Key::of("3760021832/000000019")
        );
    }

    proptest! {
        #[test]
        fn any_bytes_after_a_good_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut bytes = file(&[], false, false);
            bytes.extend_from_slice(&body);
            let (r, pros, rejected) = run(&bytes);
            let t = r.unwrap();
            prop_assert_eq!(t.professionals as usize, pros.len());
            prop_assert_eq!(t.rejected as usize, rejected.len());
        }

        #[test]
        fn every_good_line_is_counted_once(ids in proptest::collection::vec(0u32..50, 1..60)) {
            let lines: Vec<String> = ids.iter().map(|i| line(&format!("8100010{i:05}"), "NOM", "10", "")).collect();
            let (r, pros, rejected) = run(&file(&lines, false, false));
            let t = r.unwrap();
            prop_assert_eq!(t.activities + rejected.len() as u64, lines.len() as u64);
            prop_assert_eq!(pros.iter().map(|p| p.activities.len() as u64).sum::<u64>(), t.activities);
        }
    }
}
