//! One data line of the extraction: a professional × one practice situation (rpps.md).
//! Lines are split in place (field spans over the line's bytes); a professional's practice
//! situations are kept packed in one text (fields separated by U+001F, situations by U+001E),
//! which is what the index stores.

use super::header::{Column, Layout, fold_char};
pub use crate::storage::rpps::{Activity, FIELD_SEP, SITUATION_SEP, unpack};

/// Where a packed situation field comes from.
#[derive(Clone, Copy)]
enum Part {
    Field(Column),
    /// Street number, type, name and distribution, joined by spaces.
    Address,
}

/// The packed fields of a situation, in the order of [`Activity`]'s fields. The specialty's
/// label is left out: it follows from its code and is the longest text of a line.
const PARTS: [Part; 18] = [
    Part::Field(Column::ProfessionCode),
    Part::Field(Column::ProfessionLabel),
    Part::Field(Column::CategoryCode),
    Part::Field(Column::SpecialtyCode),
    Part::Field(Column::ModeCode),
    Part::Field(Column::Siret),
    Part::Field(Column::FinessSite),
    Part::Field(Column::FinessEj),
    Part::Field(Column::StructureId),
    Part::Field(Column::StructureName),
    Part::Address,
    Part::Field(Column::Postcode),
    Part::Field(Column::TownCode),
    Part::Field(Column::Town),
    Part::Field(Column::DepartmentCode),
    Part::Field(Column::SectorCode),
    Part::Field(Column::RoleCode),
    Part::Field(Column::GenreCode),
];

const ADDRESS: [Column; 4] = [
    Column::StreetNumber,
    Column::StreetType,
    Column::StreetName,
    Column::Distribution,
];

/// Appends the situation of a split line to `out` (a separator first when `out` is not
/// empty). Control characters of the file become spaces, so separators stay unambiguous.
pub fn pack(out: &mut String, fields: &Fields<'_>) {
    if !out.is_empty() {
        out.push(SITUATION_SEP);
    }
    for (i, part) in PARTS.iter().enumerate() {
        if i > 0 {
            out.push(FIELD_SEP);
        }
        match part {
            Part::Field(c) => {
                if let Some(v) = fields.get(*c) {
                    push_clean(out, v, fields.control);
                }
            }
            Part::Address => {
                let mut first = true;
                for v in ADDRESS.iter().filter_map(|c| fields.get(*c)) {
                    if !first {
                        out.push(' ');
                    }
                    first = false;
                    push_clean(out, v, fields.control);
                }
            }
        }
    }
}

fn push_clean(out: &mut String, value: &str, control: bool) {
    if control && value.bytes().any(|b| b < 0x20) {
        let clean: String = value
            .chars()
            .map(|c| if c < ' ' { ' ' } else { c })
            .collect();
        out.push_str(clean.trim());
    } else {
        out.push_str(value);
    }
}

/// Why a line is skipped (stable codes, shown in reports and audit details).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("{found} fields where the header has {expected}")]
    FieldCount { found: usize, expected: usize },
    #[error("invalid IdNat {0:?}: {1}")]
    IdNat(String, crate::identity::IdNatError),
    #[error("no name")]
    NoName,
    #[error("lines of {0} are not contiguous")]
    NotContiguous(String),
}

impl LineError {
    pub fn code(&self) -> &'static str {
        match self {
            LineError::InvalidUtf8 => "invalid_utf8",
            LineError::FieldCount { .. } => "field_count",
            LineError::IdNat(..) => "invalid_idnat",
            LineError::NoName => "no_name",
            LineError::NotContiguous(_) => "not_contiguous",
        }
    }
}

/// The fields of one line, located in place.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    text: &'a str,
    spans: &'a [(u32, u32)],
    layout: &'a Layout,
    /// The line may hold control characters (packing then replaces them).
    control: bool,
}

impl<'a> Fields<'a> {
    /// Splits a data line (line end removed) on `|` (no quoting; one trailing `|` ignored),
    /// reusing `spans`; checks UTF-8 and the number of fields.
    pub fn split(
        layout: &'a Layout,
        raw: &'a [u8],
        spans: &'a mut Vec<(u32, u32)>,
    ) -> Result<Fields<'a>, LineError> {
        let text = std::str::from_utf8(raw).map_err(|_| LineError::InvalidUtf8)?;
        spans.clear();
        let control = split_spans(raw, 0, spans);
        if spans.len() != layout.fields() {
            return Err(LineError::FieldCount {
                found: spans.len(),
                expected: layout.fields(),
            });
        }
        Ok(Fields {
            text,
            spans,
            layout,
            control,
        })
    }

    /// The fields of a line already split: `spans` are offsets into `text`; `control` says
    /// whether the line holds control characters.
    pub fn at(
        layout: &'a Layout,
        text: &'a str,
        spans: &'a [(u32, u32)],
        control: bool,
    ) -> Fields<'a> {
        Fields {
            text,
            spans,
            layout,
            control,
        }
    }

    /// Whether the line holds control characters.
    pub fn has_control(&self) -> bool {
        self.control
    }

    /// The text the spans point into.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn spans(&self) -> &'a [(u32, u32)] {
        self.spans
    }

    /// A column's value, trimmed; `None` when absent or empty.
    pub fn get(&self, column: Column) -> Option<&'a str> {
        let (start, end) = *self.spans.get(self.layout.get(column)?)?;
        // Spans sit on `|` boundaries, which are never inside a UTF-8 sequence.
        let value = self.text.get(start as usize..end as usize)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// The IdNat field as written (trimmed; empty when missing).
    pub fn idnat(&self) -> &'a str {
        self.get(Column::IdNat).unwrap_or("")
    }

    /// Whether the line names the professional (last or first name).
    pub fn has_name(&self) -> bool {
        self.get(Column::LastName).is_some() || self.get(Column::FirstName).is_some()
    }

    /// The civility of practice, else the civil one.
    pub fn civility(&self) -> Option<&'a str> {
        self.get(Column::PracticeCivilityCode)
            .or_else(|| self.get(Column::CivilityCode))
    }
}

/// Appends the field spans of `line` (offsets plus `base`) to `spans`: `|` separates fields,
/// one trailing `|` does not open a field. Eight bytes at a time: a field is a few bytes
/// long, too short for a search call per field to pay.
///
/// Returns whether the line holds a control character (below U+0020).
pub fn split_spans(line: &[u8], base: u32, spans: &mut Vec<(u32, u32)>) -> bool {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const BAR: u64 = 0x7c7c_7c7c_7c7c_7c7c;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut control = 0u64;
    let body = line.strip_suffix(b"|").unwrap_or(line);
    let mut start = 0usize;
    let mut push = |start: &mut usize, end: usize| {
        spans.push((base + *start as u32, base + end as u32));
        *start = end + 1;
    };
    let mut words = body.chunks_exact(8);
    let mut at = 0usize;
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let word = u64::from_le_bytes(word);
        // Non-zero when a byte is below 0x20 (exact as a yes/no answer).
        control |= word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let x = word ^ BAR;
        // High bit set exactly in the bytes of `x` that are zero, i.e. the `|` bytes.
        let mut bars = !(((x & LOW).wrapping_add(LOW)) | x) & !LOW;
        while bars != 0 {
            push(&mut start, at + (bars.trailing_zeros() / 8) as usize);
            bars &= bars - 1;
        }
        at += 8;
    }
    for (i, b) in words.remainder().iter().enumerate() {
        if *b == b'|' {
            push(&mut start, at + i);
        }
        if *b < 0x20 {
            control |= 1;
        }
    }
    spans.push((base + start as u32, base + body.len() as u32));
    control != 0
}

/// The search form of a name: uppercase ASCII letters and digits, words separated by one
/// space ("Lefèvre-Dupré  Zoé" → "LEFEVRE DUPRE ZOE").
pub fn search_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let piece = match fold_char(c) {
            Some(f) => Some(f),
            None if c.is_ascii_alphanumeric() => None,
            None => {
                space = !out.is_empty();
                continue;
            }
        };
        if space {
            out.push(' ');
            space = false;
        }
        match piece {
            Some(f) => out.push_str(&f.to_ascii_uppercase()),
            None => out.push(c.to_ascii_uppercase()),
        }
    }
    out
}

/// FNV-1a, 64 bits: a stable content hash (the standard hasher may change between releases,
/// which would make every professional look changed after an upgrade).
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The content hash of a professional's lines: stable across releases (like [`fnv1a`]) but
/// eight bytes a step. Each step is a bijection of the word, so a line that differs in one
/// word always changes the hash.
pub fn content_hash(mut hash: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut step = |word: u64| hash = (hash ^ word).wrapping_mul(K).rotate_left(31);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        step(u64::from_le_bytes(word));
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    step(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdNat;
    use proptest::prelude::*;

    /// One line, parsed (what the scan builds per professional, for one line).
    #[derive(Debug)]
    struct Record {
        idnat: IdNat,
        civility: Option<String>,
        last_name: String,
        first_name: String,
        activity: Activity,
    }

    fn parse_line(layout: &Layout, line: &str) -> Result<Record, LineError> {
        let mut spans = Vec::new();
        let fields = Fields::split(layout, line.as_bytes(), &mut spans)?;
        let raw_id = fields.idnat();
        let idnat = IdNat::parse(raw_id).map_err(|e| LineError::IdNat(raw_id.to_owned(), e))?;
        if !fields.has_name() {
            return Err(LineError::NoName);
        }
        let mut packed = String::new();
        pack(&mut packed, &fields);
        Ok(Record {
            idnat,
            civility: fields.civility().map(str::to_owned),
            last_name: fields.get(Column::LastName).unwrap_or("").to_owned(),
            first_name: fields.get(Column::FirstName).unwrap_or("").to_owned(),
            activity: unpack(&packed).pop().unwrap_or_default(),
        })
    }

    fn layout52() -> Layout {
        let h: Vec<&str> = super::super::header::split_fields(super::super::header::HEADER_56)
            .take(52)
            .collect();
        Layout::parse(&format!("{}|", h.join("|"))).unwrap()
    }

    const SPEC_LINE: &str = "0|012600631|0012600631|||M|Monsieur|DUPONT|JEAN|26|Audioprothésiste|C|Civil|||||S|Salarié|49940088500020||||C49940088500020|OPTIQUE EXEMPLE||OPTIQUE EXEMPLE||9||RTE|Route|DE BESANCON||25300 PONTARLIER|25300|||||||||||349940088500020|ARS/Variable/Variable|SA42|Appareillage médical|||";

    #[test]
    fn the_spec_sample_line_is_read() {
        let r = parse_line(&layout52(), SPEC_LINE).unwrap();
        assert_eq!(r.idnat.as_str(), "0012600631");
        assert_eq!(r.civility.as_deref(), Some("M"));
        assert_eq!(
            (r.last_name.as_str(), r.first_name.as_str()),
            ("DUPONT", "JEAN")
        );
        let a = &r.activity;
        assert_eq!(a.profession_code.as_deref(), Some("26"));
        assert_eq!(a.mode_code.as_deref(), Some("S"));
        assert_eq!(a.structure_id.as_deref(), Some("C49940088500020"));
        assert_eq!(a.structure_name.as_deref(), Some("OPTIQUE EXEMPLE"));
        assert_eq!(a.address.as_deref(), Some("9 Route DE BESANCON"));
        assert_eq!(a.postcode.as_deref(), Some("25300"));
        assert_eq!(a.sector_code.as_deref(), Some("SA42"));
        assert_eq!(a.finess_site, None);
    }

    #[test]
    fn bad_lines_say_why() {
        let l = layout52();
        assert_eq!(
            parse_line(&l, "0|1|2|").unwrap_err(),
            LineError::FieldCount {
                found: 3,
                expected: 52
            }
        );
        let bad = SPEC_LINE.replace("|0012600631|", "|9012600631|");
        assert_eq!(parse_line(&l, &bad).unwrap_err().code(), "invalid_idnat");
        let noname = SPEC_LINE.replace("|DUPONT|JEAN|", "|||");
        assert_eq!(parse_line(&l, &noname).unwrap_err(), LineError::NoName);
        // A quote is a literal character: no quoting in this format.
        let quoted = SPEC_LINE.replace("OPTIQUE EXEMPLE||OPTIQUE", "\"OPTIQUE|\"||OPTIQUE");
        assert!(parse_line(&l, &quoted).is_err());
        // The trailing `|` may be missing.
        let last_set = SPEC_LINE.replace("médical|||", "médical||X");
        assert!(parse_line(&l, &last_set).is_ok());
    }

    #[test]
    fn situations_survive_packing_and_control_characters_become_spaces() {
        let l = layout52();
        let line = SPEC_LINE.replace("OPTIQUE EXEMPLE||OPTIQUE", "OPTIQUE\u{1e}EX\u{1f}||OPTIQUE");
        let mut spans = Vec::new();
        let fields = Fields::split(&l, line.as_bytes(), &mut spans).unwrap();
        let mut packed = String::new();
        pack(&mut packed, &fields);
        pack(&mut packed, &fields);
        let back = unpack(&packed);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], back[1]);
        assert_eq!(back[0].structure_name.as_deref(), Some("OPTIQUE EX"));
        assert_eq!(back[0].address.as_deref(), Some("9 Route DE BESANCON"));
        assert_eq!(back[0].profession_code.as_deref(), Some("26"));
        assert_eq!(back[0].genre_code, None);
        assert!(unpack("").is_empty());
    }

    proptest! {
        #[test]
        fn spans_match_a_plain_split(line in "[|a}{\\x7c\\x7d\\x00-\\x7f]{0,80}") {
            let mut spans = Vec::new();
            let control = split_spans(line.as_bytes(), 3, &mut spans);
            prop_assert_eq!(control, line.bytes().any(|b| b < 0x20));
            let body = line.strip_suffix('|').unwrap_or(&line);
            let plain: Vec<&str> = body.split('|').collect();
            let got: Vec<&str> = spans.iter().map(|(s, e)| &line[*s as usize - 3..*e as usize - 3]).collect();
            prop_assert_eq!(got, plain);
        }
    }

    #[test]
    fn the_content_hash_sees_every_byte_and_the_length() {
        let a = content_hash(FNV_OFFSET, SPEC_LINE.as_bytes());
        assert_eq!(a, content_hash(FNV_OFFSET, SPEC_LINE.as_bytes()));
        let mut other = SPEC_LINE.as_bytes().to_vec();
        for i in [0, 7, 8, other.len() - 1] {
            other[i] ^= 1;
            assert_ne!(a, content_hash(FNV_OFFSET, &other));
            other[i] ^= 1;
        }
        assert_ne!(
            content_hash(FNV_OFFSET, b"ab"),
            content_hash(FNV_OFFSET, b"ab\0")
        );
    }

    #[test]
    fn names_are_folded_for_search() {
        assert_eq!(search_name("Lefèvre-Dupré  Zoé"), "LEFEVRE DUPRE ZOE");
        assert_eq!(search_name("  d'Œillet "), "D OEILLET");
        assert_eq!(search_name(""), "");
    }

    proptest! {
        #[test]
        fn parse_line_never_panics(line in "\\PC{0,400}") {
            let _ = parse_line(&layout52(), &line);
        }

        #[test]
        fn any_field_content_without_separators_round_trips(
            last in "[A-Za-zéèÉ' -]{1,30}", first in "[A-Za-zï-]{0,20}", town in "[^|\r\n]{0,40}"
        ) {
            let line = SPEC_LINE
                .replace("|DUPONT|JEAN|", &format!("|{last}|{first}|"))
                .replace("|25300 PONTARLIER|25300||", &format!("|25300 PONTARLIER|25300||{town}"));
            let parsed = parse_line(&layout52(), &line);
            if last.trim().is_empty() && first.trim().is_empty() {
                prop_assert_eq!(parsed.unwrap_err(), LineError::NoName);
            } else {
                let r = parsed.unwrap();
                prop_assert_eq!(r.last_name, last.trim().to_owned());
                let clean: String = town.chars().map(|c| if c < ' ' { ' ' } else { c }).collect();
                prop_assert_eq!(r.activity.town, Some(clean.trim().to_owned()).filter(|t| !t.is_empty()));
            }
        }

        #[test]
        fn search_names_are_uppercase_ascii_words(text in "\\PC{0,60}") {
            let s = search_name(&text);
            prop_assert!(s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '));
            prop_assert!(!s.starts_with(' ') && !s.ends_with(' ') && !s.contains("  "));
        }
    }
}
