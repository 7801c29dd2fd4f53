//! One data line of the extraction: a professional × one practice situation (rpps.md).

use super::header::{Column, Layout, fold_char, split_fields};
use crate::identity::IdNat;

/// One line, parsed. Empty fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub idnat: IdNat,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub activity: Activity,
}

/// A practice situation: what the professional does, where, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    pub profession_code: Option<String>,
    pub profession_label: Option<String>,
    pub category_code: Option<String>,
    pub specialty_code: Option<String>,
    pub specialty_label: Option<String>,
    pub mode_code: Option<String>,
    pub siret: Option<String>,
    pub finess_site: Option<String>,
    pub finess_ej: Option<String>,
    pub structure_id: Option<String>,
    pub structure_name: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub town_code: Option<String>,
    pub town: Option<String>,
    pub department_code: Option<String>,
    pub sector_code: Option<String>,
    pub role_code: Option<String>,
    pub genre_code: Option<String>,
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

/// Parses a data line (line end already removed). Pure: no I/O, no allocation beyond the
/// record.
pub fn parse_line(layout: &Layout, line: &str) -> Result<Record, LineError> {
    let fields: Vec<&str> = split_fields(line).collect();
    if fields.len() != layout.fields() {
        return Err(LineError::FieldCount {
            found: fields.len(),
            expected: layout.fields(),
        });
    }
    let get = |c: Column| -> Option<&str> {
        layout
            .get(c)
            .and_then(|i| fields.get(i))
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
    };
    let own = |c: Column| get(c).map(str::to_owned);
    let raw_id = get(Column::IdNat).unwrap_or("");
    let idnat = IdNat::parse(raw_id).map_err(|e| LineError::IdNat(raw_id.to_owned(), e))?;
    let last_name = own(Column::LastName).unwrap_or_default();
    let first_name = own(Column::FirstName).unwrap_or_default();
    if last_name.is_empty() && first_name.is_empty() {
        return Err(LineError::NoName);
    }
    let address = [
        Column::StreetNumber,
        Column::StreetType,
        Column::StreetName,
        Column::Distribution,
    ]
    .iter()
    .filter_map(|c| get(*c))
    .collect::<Vec<_>>()
    .join(" ");
    Ok(Record {
        idnat,
        civility: own(Column::PracticeCivilityCode).or_else(|| own(Column::CivilityCode)),
        last_name,
        first_name,
        activity: Activity {
            profession_code: own(Column::ProfessionCode),
            profession_label: own(Column::ProfessionLabel),
            category_code: own(Column::CategoryCode),
            specialty_code: own(Column::SpecialtyCode),
            specialty_label: own(Column::SpecialtyLabel),
            mode_code: own(Column::ModeCode),
            siret: own(Column::Siret),
            finess_site: own(Column::FinessSite),
            finess_ej: own(Column::FinessEj),
            structure_id: own(Column::StructureId),
            structure_name: own(Column::StructureName),
            address: (!address.is_empty()).then_some(address),
            postcode: own(Column::Postcode),
            town_code: own(Column::TownCode),
            town: own(Column::Town),
            department_code: own(Column::DepartmentCode),
            sector_code: own(Column::SectorCode),
            role_code: own(Column::RoleCode),
            genre_code: own(Column::GenreCode),
        },
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout52() -> Layout {
        let h: Vec<&str> = split_fields(super::super::header::HEADER_56)
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
                prop_assert_eq!(r.activity.town, Some(town.trim().to_owned()).filter(|t| !t.is_empty()));
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
