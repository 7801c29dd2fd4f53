//! Locates the columns of an RPPS extraction by normalised header name (rpps.md, "The public
//! extraction file"): labels drift between versions, so names are folded before matching.

/// A column Trousseau reads, with its label in the current (56-column) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    IdType,
    IdPp,
    IdNat,
    PracticeCivilityCode,
    CivilityCode,
    LastName,
    FirstName,
    ProfessionCode,
    ProfessionLabel,
    CategoryCode,
    SpecialtyTypeCode,
    SpecialtyCode,
    ModeCode,
    Siret,
    FinessSite,
    FinessEj,
    StructureId,
    StructureName,
    StreetNumber,
    StreetType,
    StreetName,
    Distribution,
    Postcode,
    TownCode,
    Town,
    DepartmentCode,
    SectorCode,
    RoleCode,
    GenreCode,
}

/// Every column read, its label, and whether a file without it is refused.
pub const COLUMNS: &[(Column, &str, bool)] = &[
    (Column::IdType, "Type d'identifiant PP", false),
    (Column::IdPp, "Identifiant PP", false),
    (Column::IdNat, "Identification nationale PP", true),
    (
        Column::PracticeCivilityCode,
        "Code civilité d'exercice",
        false,
    ),
    (Column::CivilityCode, "Code civilité", false),
    (Column::LastName, "Nom d'exercice", true),
    (Column::FirstName, "Prénom d'exercice", true),
    (Column::ProfessionCode, "Code profession", true),
    (Column::ProfessionLabel, "Libellé profession", false),
    (
        Column::CategoryCode,
        "Code catégorie professionnelle",
        false,
    ),
    (Column::SpecialtyTypeCode, "Code type savoir-faire", false),
    (Column::SpecialtyCode, "Code savoir-faire", false),
    (Column::ModeCode, "Code mode exercice", true),
    (Column::Siret, "Numéro SIRET site", false),
    (Column::FinessSite, "Numéro FINESS site", true),
    (
        Column::FinessEj,
        "Numéro FINESS établissement juridique",
        true,
    ),
    (
        Column::StructureId,
        "Identifiant technique de la structure",
        true,
    ),
    (Column::StructureName, "Raison sociale site", false),
    (
        Column::StreetNumber,
        "Numéro Voie (coord. structure)",
        false,
    ),
    (
        Column::StreetType,
        "Libellé type de voie (coord. structure)",
        false,
    ),
    (Column::StreetName, "Libellé Voie (coord. structure)", false),
    (
        Column::Distribution,
        "Mention distribution (coord. structure)",
        false,
    ),
    (Column::Postcode, "Code postal (coord. structure)", false),
    (Column::TownCode, "Code commune (coord. structure)", false),
    (Column::Town, "Libellé commune (coord. structure)", false),
    (
        Column::DepartmentCode,
        "Code Département (structure)",
        false,
    ),
    (Column::SectorCode, "Code secteur d'activité", false),
    (Column::RoleCode, "Code rôle", false),
    (Column::GenreCode, "Code genre activité", false),
];

/// The current header (56 columns; the 2021 layout has the first 52).
pub const HEADER_56: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|Numéro FINESS établissement juridique|Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|Mention distribution (coord. structure)|Bureau cedex (coord. structure)|Code postal (coord. structure)|Code commune (coord. structure)|Libellé commune (coord. structure)|Code pays (coord. structure)|Libellé pays (coord. structure)|Téléphone (coord. structure)|Téléphone 2 (coord. structure)|Télécopie (coord. structure)|Adresse e-mail (coord. structure)|Code Département (structure)|Libellé Département (structure)|Ancien identifiant de la structure|Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|Code section tableau pharmaciens|Libellé section tableau pharmaciens|Code rôle|Libellé rôle|Code genre activité|Libellé genre activité|";

const COUNT: usize = 29;
const _: () = assert!(COLUMNS.len() == COUNT);

/// Where each column sits in the file, plus the number of fields a line must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    index: [Option<usize>; COUNT],
    fields: usize,
}

/// Why a header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty")]
    Empty,
    #[error("the header is not valid UTF-8")]
    NotUtf8,
    #[error("required column missing: \"{0}\"")]
    Missing(&'static str),
}

impl Layout {
    /// Reads line 1 (BOM and line end already removed).
    pub fn parse(header: &str) -> Result<Layout, HeaderError> {
        if header.trim().is_empty() {
            return Err(HeaderError::Empty);
        }
        let names: Vec<String> = split_fields(header).map(normalise).collect();
        let mut index = [None; COUNT];
        for (slot, (_, label, required)) in index.iter_mut().zip(COLUMNS) {
            let wanted = normalise(label);
            *slot = names.iter().position(|n| *n == wanted);
            if slot.is_none() && *required {
                return Err(HeaderError::Missing(label));
            }
        }
        Ok(Layout {
            index,
            fields: names.len(),
        })
    }

    /// Number of fields of every line (the trailing `|` does not open a field).
    pub fn fields(&self) -> usize {
        self.fields
    }

    /// Position of a column, when the file has it.
    pub fn get(&self, column: Column) -> Option<usize> {
        self.index[column as usize]
    }
}

/// A line of the 56-column layout of [`HEADER_56`], `values` given by column index (the other
/// fields empty), with its trailing `|`: small extraction files for the demo and the tests.
pub fn line_56(values: &[(usize, &str)]) -> String {
    let mut fields = vec![""; 56];
    for (i, v) in values {
        if let Some(f) = fields.get_mut(*i) {
            *f = v;
        }
    }
    format!("{}|", fields.join("|"))
}

/// The fields of a line: `|`-separated, no quoting, one trailing `|` ignored.
pub fn split_fields(line: &str) -> std::str::Split<'_, char> {
    line.strip_suffix('|').unwrap_or(line).split('|')
}

/// Folds a header label: lowercase ASCII, accents removed, punctuation as spaces, and the
/// small words (d', de, du, l'…) dropped, so that "Libellé civilité d'exercice" and
/// "Libelle civilite exercice" match.
pub fn normalise(label: &str) -> String {
    let mut folded = String::with_capacity(label.len());
    for c in label.chars() {
        match fold_char(c) {
            Some(f) => folded.push_str(f),
            None if c.is_ascii_alphanumeric() => folded.push(c.to_ascii_lowercase()),
            None => folded.push(' '),
        }
    }
    folded
        .split_whitespace()
        .filter(|w| !matches!(*w, "d" | "de" | "du" | "des" | "l" | "la" | "le" | "les"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Folds the accented letters of French (and a few neighbours) to lowercase ASCII.
pub fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'œ' | 'Œ' => "oe",
        'æ' | 'Æ' => "ae",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_are_read() {
        let l56 = Layout::parse(HEADER_56).unwrap();
        assert_eq!(l56.fields(), 56);
        assert_eq!(l56.get(Column::IdNat), Some(2));
        assert_eq!(l56.get(Column::GenreCode), Some(54));
        let h52: Vec<&str> = split_fields(HEADER_56).take(52).collect();
        let l52 = Layout::parse(&format!("{}|", h52.join("|"))).unwrap();
        assert_eq!(l52.fields(), 52);
        assert_eq!(l52.get(Column::RoleCode), None);
        assert_eq!(l52.get(Column::SectorCode), Some(48));
    }

    #[test]
    fn label_drift_is_tolerated() {
        let drifted = HEADER_56
            .replace("(coord. structure)", "(coord. Structure)")
            .replace("Libellé civilité d'exercice", "Libellé civilité exercice")
            .replace("Nom d'exercice", "NOM D'EXERCICE");
        let l = Layout::parse(&drifted).unwrap();
        assert_eq!(l.get(Column::LastName), Some(7));
        assert_eq!(l.get(Column::Postcode), Some(35));
    }

    #[test]
    fn a_missing_required_column_is_named() {
        let h = HEADER_56.replace("Numéro FINESS site|", "");
        assert_eq!(
            Layout::parse(&h),
            Err(HeaderError::Missing("Numéro FINESS site"))
        );
        assert_eq!(Layout::parse(""), Err(HeaderError::Empty));
    }

    #[test]
    fn normalisation_folds_accents_and_small_words() {
        assert_eq!(
            normalise("Libellé civilité d'exercice"),
            "libelle civilite exercice"
        );
        assert_eq!(
            normalise("Code postal (coord. Structure)"),
            "code postal coord structure"
        );
        assert_eq!(
            normalise("Code Département (structure)"),
            "code departement structure"
        );
    }
}
