//! Looks professionals up in the current snapshot, by IdNat or by name prefix.

use crate::identity::IdNat;
use crate::storage::from_json_list;
use crate::storage::rpps::{self as store, ProfessionalRecord};

use super::line::search_name;

/// A professional found, with professions as "code label".
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub idnat: String,
    pub civility: Option<String>,
    pub last_name: String,
    pub first_name: String,
    pub professions: Vec<String>,
    pub specialties: Vec<String>,
    pub activities: i64,
}

impl From<ProfessionalRecord> for Found {
    fn from(r: ProfessionalRecord) -> Found {
        let codes = from_json_list(&r.professions);
        let labels = from_json_list(&r.profession_labels);
        let professions = codes
            .iter()
            .enumerate()
            .map(|(i, c)| match labels.get(i) {
                Some(l) if codes.len() == labels.len() => format!("{c} {l}"),
                _ => c.clone(),
            })
            .collect();
        Found {
            idnat: r.idnat,
            civility: r.civility,
            last_name: r.last_name,
            first_name: r.first_name,
            professions,
            specialties: from_json_list(&r.specialties),
            activities: r.activities,
        }
    }
}

/// An IdNat finds that professional; any other text is a name prefix, "LAST FIRST" first,
/// then "FIRST LAST" when that finds nobody.
pub async fn search(
    db: &crate::storage::Db,
    text: &str,
    limit: i64,
) -> Result<Vec<Found>, sqlx::Error> {
    if let Ok(idnat) = IdNat::parse(text) {
        let found = store::find(db.pool(), idnat.as_str()).await?;
        return Ok(found.into_iter().map(Found::from).collect());
    }
    let folded = search_name(text);
    if folded.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = store::search_by_name(db.pool(), &folded, limit).await?;
    if rows.is_empty() && folded.contains(' ') {
        let mut words: Vec<&str> = folded.split(' ').collect();
        words.rotate_right(1);
        rows = store::search_by_name(db.pool(), &words.join(" "), limit).await?;
    }
    Ok(rows.into_iter().map(Found::from).collect())
}
