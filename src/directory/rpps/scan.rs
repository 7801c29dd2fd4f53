//! The streaming pass over an extraction: bytes in, professionals (all their lines grouped)
//! and rejected lines out. Pure over any `BufRead`, so tests and the fuzz target feed it bytes.
//!
//! Lines are checked in place and hashed as they come; a professional is built (names,
//! professions, packed situations) only when the caller wants it, so a re-import of an
//! unchanged file costs a split and a hash per line.

use std::collections::HashSet;
use std::io::BufRead;

use super::header::{Column, HeaderError, Layout};
use super::line::{FNV_OFFSET, Fields, LineError, content_hash, fnv1a, pack, search_name};
use crate::identity::IdNat;
pub use crate::storage::rpps::Professional;

impl Professional {
    /// Builds a professional from their lines (each checked and split already).
    fn build(layout: &Layout, group: &Group) -> Professional {
        let mut p = Professional {
            idnat: group.idnat.clone(),
            civility: None,
            last_name: String::new(),
            first_name: String::new(),
            search_name: String::new(),
            professions: Vec::new(),
            profession_labels: Vec::new(),
            specialties: Vec::new(),
            finess: Vec::new(),
            situations: String::with_capacity(group.text.len() / 2),
            activities: group.activities,
            hash: group.hash,
        };
        for (i, spans) in group.spans.chunks_exact(layout.fields().max(1)).enumerate() {
            let fields = Fields::at(layout, &group.text, spans, group.control);
            if i == 0 {
                p.civility = fields.civility().map(str::to_owned);
                p.last_name = fields.get(Column::LastName).unwrap_or("").to_owned();
                p.first_name = fields.get(Column::FirstName).unwrap_or("").to_owned();
            }
            add_distinct(&mut p.professions, fields.get(Column::ProfessionCode));
            add_distinct(
                &mut p.profession_labels,
                fields.get(Column::ProfessionLabel),
            );
            add_distinct(&mut p.specialties, fields.get(Column::SpecialtyCode));
            add_distinct(&mut p.finess, fields.get(Column::FinessSite));
            add_distinct(&mut p.finess, fields.get(Column::FinessEj));
            pack(&mut p.situations, &fields);
        }
        let mut name = String::with_capacity(p.last_name.len() + p.first_name.len() + 1);
        name.push_str(&p.last_name);
        name.push(' ');
        name.push_str(&p.first_name);
        p.search_name = search_name(&name);
        p
    }
}

fn add_distinct(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(v) = value
        && !list.iter().any(|x| x == v)
    {
        list.push(v.to_owned());
    }
}

/// What the pass reports as it goes. Events go straight to the sink, one at a time: boxing
/// the large variant would cost an allocation a professional for nothing.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
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

/// Hashes [`Key`]s for the set of IdNats seen in a pass: the keys come from the file, a
/// keyed hash buys nothing there, and SipHash showed in the profile.
pub type KeyHasher = std::hash::BuildHasherDefault<FoldHasher>;

/// Multiply-and-fold hashing of a few words.
#[derive(Default)]
pub struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = content_hash(self.0, bytes);
    }

    fn finish(&self) -> u64 {
        // The table uses the top bits for tags and the low bits for buckets: mix both.
        let h = self.0;
        h ^ (h >> 29)
    }
}

/// The lines of the professional being read.
struct Group {
    idnat: IdNat,
    /// The lines, each followed by `\n`.
    text: String,
    /// The field spans of every line, as offsets into `text`.
    spans: Vec<(u32, u32)>,
    /// Some line holds control characters.
    control: bool,
    activities: u32,
    hash: u64,
}

impl Group {
    fn start(idnat: IdNat, spare: &mut Option<Group>) -> Group {
        let (mut text, mut spans) = spare.take().map(|g| (g.text, g.spans)).unwrap_or_default();
        text.clear();
        spans.clear();
        Group {
            idnat,
            text,
            spans,
            control: false,
            activities: 0,
            hash: FNV_OFFSET,
        }
    }

    fn push(&mut self, fields: &Fields<'_>) {
        let line = fields.text();
        let base = self.text.len() as u32;
        self.text.push_str(line);
        self.text.push('\n');
        self.spans
            .extend(fields.spans().iter().map(|(s, e)| (s + base, e + base)));
        self.control |= fields.has_control();
        self.activities += 1;
        self.hash = content_hash(self.hash, line.as_bytes());
    }
}

/// Reads line 1 and locates the columns; a file refused here has produced no event.
pub fn read_header<R: BufRead + ?Sized>(
    reader: &mut R,
    totals: &mut Totals,
) -> Result<Layout, ScanError> {
    let mut buf = Vec::with_capacity(4096);
    let n = reader
        .read_until(b'\n', &mut buf)
        .map_err(|source| ScanError::Io { line: 1, source })?;
    totals.bytes += n as u64;
    let header = trim_end(&buf);
    let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
    let header = std::str::from_utf8(header).map_err(|_| HeaderError::NotUtf8)?;
    Ok(Layout::parse(header)?)
}

/// Reads a whole extraction. `sink` returns `false` to stop early ([`ScanError::Stopped`]).
/// The header is checked before any event is sent.
pub fn scan<R: BufRead>(
    mut reader: R,
    sink: impl FnMut(Event) -> bool,
) -> Result<Totals, ScanError> {
    let mut totals = Totals::default();
    let layout = read_header(&mut reader, &mut totals)?;
    scan_body(reader, &layout, totals, |_, _| true, sink)
}

/// Reads the data lines after [`read_header`]. A professional is built and sent only when
/// `wanted(idnat, hash)` says so; every one is counted.
pub fn scan_body<R: BufRead>(
    mut reader: R,
    layout: &Layout,
    mut totals: Totals,
    mut wanted: impl FnMut(&str, u64) -> bool,
    mut sink: impl FnMut(Event) -> bool,
) -> Result<Totals, ScanError> {
    let mut buf = Vec::with_capacity(4096);
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(layout.fields() + 1);
    let mut line_no: u64 = 1;
    let mut seen: HashSet<Key, KeyHasher> = HashSet::default();
    let mut group: Option<Group> = None;
    let mut spare: Option<Group> = None;
    let mut finish = |g: &Group, totals: &mut Totals| {
        totals.professionals += 1;
        totals.activities += u64::from(g.activities);
        wanted(g.idnat.as_str(), g.hash).then(|| Professional::build(layout, g))
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
        let checked = Fields::split(layout, raw, &mut spans).and_then(|fields| {
            match check(&fields, group.as_ref())? {
                Some(idnat) if !seen.insert(Key::of(idnat.as_str())) => {
                    Err(LineError::NotContiguous(idnat.to_string()))
                }
                next => Ok((fields, next)),
            }
        });
        match checked {
            Err(error) => {
                totals.rejected += 1;
                if !sink(Event::Rejected {
                    line: line_no,
                    error,
                }) {
                    return Err(ScanError::Stopped);
                }
            }
            Ok((fields, None)) => {
                if let Some(g) = group.as_mut() {
                    g.push(&fields);
                }
            }
            Ok((fields, Some(idnat))) => {
                if let Some(done) = group.take() {
                    if let Some(p) = finish(&done, &mut totals)
                        && !sink(Event::Professional(p))
                    {
                        return Err(ScanError::Stopped);
                    }
                    spare = Some(done);
                }
                let mut next = Group::start(idnat, &mut spare);
                next.push(&fields);
                group = Some(next);
            }
        }
    }
    if let Some(done) = group.take()
        && let Some(p) = finish(&done, &mut totals)
        && !sink(Event::Professional(p))
    {
        return Err(ScanError::Stopped);
    }
    Ok(totals)
}

/// Checks a split line: `Ok(None)` when it continues the current professional,
/// `Ok(Some(idnat))` when it starts another one.
fn check(fields: &Fields<'_>, group: Option<&Group>) -> Result<Option<IdNat>, LineError> {
    let raw_id = fields.idnat();
    if group.is_some_and(|g| g.idnat.as_str() == raw_id) {
        return if fields.has_name() {
            Ok(None)
        } else {
            Err(LineError::NoName)
        };
    }
    let idnat = IdNat::parse(raw_id).map_err(|e| LineError::IdNat(raw_id.to_owned(), e))?;
    if !fields.has_name() {
        return Err(LineError::NoName);
    }
    Ok(Some(idnat))
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
            assert_eq!(pros[0].activities, 2);
            assert_eq!(pros[0].activities().len(), 2);
            assert_eq!(
                pros[0].finess,
                vec!["750000001".to_owned(), "750000002".to_owned()]
            );
            assert_eq!(pros[0].professions, vec!["10".to_owned()]);
            assert_eq!(pros[0].search_name, "DUPONT JEAN");
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
            prop_assert_eq!(pros.iter().map(|p| u64::from(p.activities)).sum::<u64>(), t.activities);
        }
    }
}
