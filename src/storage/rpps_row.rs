//! The rows of `rpps_professionals` as the import writes them: a professional with their
//! practice situations packed in one text (fields separated by U+001F, situations by U+001E).

use crate::identity::IdNat;

/// A professional with every activity of the file, and the hash of all their lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Professional {
    pub idnat: IdNat,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    /// "LAST FIRST" folded for prefix search.
    pub search_name: String,
    /// Distinct profession codes, in file order.
    pub professions: Vec<String>,
    pub profession_labels: Vec<String>,
    /// Distinct specialty (savoir-faire) codes.
    pub specialties: Vec<String>,
    /// Distinct FINESS numbers (sites and legal entities) of the situations.
    pub finess: Vec<String>,
    /// Every situation, packed (see `directory::rpps::pack`).
    pub situations: String,
    /// How many situations `situations` holds.
    pub activities: u32,
    pub hash: u64,
}

impl Professional {
    /// The practice situations, unpacked.
    pub fn activities(&self) -> Vec<Activity> {
        unpack(&self.situations)
    }
}

/// A practice situation: what the professional does, where, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    pub profession_code: Option<String>,
    pub profession_label: Option<String>,
    pub category_code: Option<String>,
    pub specialty_code: Option<String>,
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

/// Separates the fields of a packed situation.
pub const FIELD_SEP: char = '\u{1f}';
/// Separates the situations of a packed list.
pub const SITUATION_SEP: char = '\u{1e}';

impl Activity {
    fn slot(&mut self, i: usize) -> Option<&mut Option<String>> {
        Some(match i {
            0 => &mut self.profession_code,
            1 => &mut self.profession_label,
            2 => &mut self.category_code,
            3 => &mut self.specialty_code,
            4 => &mut self.mode_code,
            5 => &mut self.siret,
            6 => &mut self.finess_site,
            7 => &mut self.finess_ej,
            8 => &mut self.structure_id,
            9 => &mut self.structure_name,
            10 => &mut self.address,
            11 => &mut self.postcode,
            12 => &mut self.town_code,
            13 => &mut self.town,
            14 => &mut self.department_code,
            15 => &mut self.sector_code,
            16 => &mut self.role_code,
            17 => &mut self.genre_code,
            _ => return None,
        })
    }
}

/// The situations of a packed list.
pub fn unpack(packed: &str) -> Vec<Activity> {
    if packed.is_empty() {
        return Vec::new();
    }
    packed
        .split(SITUATION_SEP)
        .map(|situation| {
            let mut a = Activity::default();
            for (i, v) in situation.split(FIELD_SEP).enumerate() {
                if let Some(slot) = a.slot(i)
                    && !v.is_empty()
                {
                    *slot = Some(v.to_owned());
                }
            }
            a
        })
        .collect()
}
