//! The sandbox's professionals, read from an RPPS extraction file (rpps.md) with the
//! project's RPPS parsing: one professional per IdNat, their PSC claims (`SubjectRefPro`,
//! `otherIds`, names) built from the file's columns.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::directory::rpps::header::{Layout, normalise, split_fields};
use crate::identity::{IdNat, IdNatKind};
use crate::psc::protocol::{
    Exercice, OtherId, PALIER, PscActivity, PscClaims, SubjectRefPro, subject,
};

/// The OID after a profession code in `SubjectRole` (the nomenclature of professions).
const ROLE_OID: &str = "1.2.250.1.71.1.2.7";

/// A professional the sandbox knows.
#[derive(Debug, Clone)]
pub struct Professional {
    pub idnat: IdNat,
    /// PSC's `sub`: `f:<uuid>:<IdNat>`, stable across restarts.
    pub sub: String,
    pub claims: PscClaims,
}

/// Every professional of the file, by IdNat.
#[derive(Debug, Default)]
pub struct Directory {
    by_idnat: HashMap<IdNat, Professional>,
    /// Lines skipped (bad IdNat, wrong field count).
    pub skipped: usize,
}

impl Directory {
    pub fn get(&self, idnat: &IdNat) -> Option<&Professional> {
        self.by_idnat.get(idnat)
    }

    /// Every professional, in no particular order.
    pub fn professionals(&self) -> impl Iterator<Item = &Professional> {
        self.by_idnat.values()
    }

    pub fn len(&self) -> usize {
        self.by_idnat.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_idnat.is_empty()
    }

    /// Reads an extraction file.
    pub fn load(path: &Path) -> anyhow::Result<Directory> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{}: not UTF-8", path.display()))?;
        Directory::parse(text).with_context(|| format!("professionals_file {}", path.display()))
    }

    /// Reads the text of an extraction.
    pub fn parse(text: &str) -> anyhow::Result<Directory> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let layout = Layout::parse(header)?;
        let columns: HashMap<String, usize> = split_fields(header)
            .enumerate()
            .map(|(i, name)| (normalise(name), i))
            .collect();
        let mut groups: BTreeMap<IdNat, Vec<Vec<&str>>> = BTreeMap::new();
        let mut skipped = 0;
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = split_fields(line).map(str::trim).collect();
            let at = |label: &str| {
                columns
                    .get(&normalise(label))
                    .and_then(|i| fields.get(*i).copied())
                    .unwrap_or("")
            };
            if fields.len() != layout.fields() {
                skipped += 1;
                continue;
            }
            match IdNat::parse(at("Identification nationale PP")) {
                Ok(idnat) => groups.entry(idnat).or_default().push(fields),
                Err(_) => skipped += 1,
            }
        }
        if groups.is_empty() {
            bail!("no professional in the file");
        }
        let by_idnat = groups
            .into_iter()
            .map(|(idnat, rows)| {
                let p = build(&columns, idnat.clone(), &rows);
                (idnat, p)
            })
            .collect();
        Ok(Directory { by_idnat, skipped })
    }
}

/// A stable UUID for an IdNat (the `sub` must not change when the sandbox restarts).
fn stable_uuid(idnat: &IdNat) -> String {
    let digest = Sha256::digest(format!("psc-sandbox:{idnat}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn build(columns: &HashMap<String, usize>, idnat: IdNat, rows: &[Vec<&str>]) -> Professional {
    let get = |row: &Vec<&str>, label: &str| -> String {
        columns
            .get(&normalise(label))
            .and_then(|i| row.get(*i))
            .map(|v| (*v).to_owned())
            .unwrap_or_default()
    };
    let first = &rows[0];
    let civility = get(first, "Code civilité");
    let mut exercices: Vec<Exercice> = Vec::new();
    for row in rows {
        let exercice = Exercice {
            code_profession: get(row, "Code profession"),
            code_categorie_professionnelle: get(row, "Code catégorie professionnelle"),
            code_civilite_dexercice: get(row, "Code civilité d'exercice"),
            nom_dexercice: get(row, "Nom d'exercice"),
            prenom_dexercice: get(row, "Prénom d'exercice"),
            code_type_savoir_faire: get(row, "Code type savoir-faire"),
            code_savoir_faire: get(row, "Code savoir-faire"),
            activities: Vec::new(),
        };
        let activity = PscActivity {
            code_mode_exercice: get(row, "Code mode exercice"),
            code_secteur_dactivite: get(row, "Code secteur d'activité"),
            code_section_pharmacien: get(row, "Code section tableau pharmaciens"),
            code_role: get(row, "Code rôle"),
            code_genre_activite: get(row, "Code genre activité"),
            numero_siret_site: get(row, "Numéro SIRET site"),
            numero_siren_site: get(row, "Numéro SIREN site"),
            numero_finess_site: get(row, "Numéro FINESS site"),
            numero_finess_etablissement_juridique: get(
                row,
                "Numéro FINESS établissement juridique",
            ),
            identifiant_technique_de_la_structure: get(
                row,
                "Identifiant technique de la structure",
            ),
            raison_sociale_site: get(row, "Raison sociale site"),
            enseigne_commerciale_site: get(row, "Enseigne commerciale site"),
            complement_destinataire: get(row, "Complément destinataire (coord. structure)"),
            complement_point_geographique: get(
                row,
                "Complément point géographique (coord. structure)",
            ),
            numero_voie: get(row, "Numéro Voie (coord. structure)"),
            indice_repetition_voie: get(row, "Indice répétition voie (coord. structure)"),
            code_type_de_voie: get(row, "Code type de voie (coord. structure)"),
            libelle_voie: get(row, "Libellé Voie (coord. structure)"),
            mention_distribution: get(row, "Mention distribution (coord. structure)"),
            bureau_cedex: get(row, "Bureau cedex (coord. structure)"),
            code_postal: get(row, "Code postal (coord. structure)"),
            code_commune: get(row, "Code commune (coord. structure)"),
            code_pays: get(row, "Code pays (coord. structure)"),
            telephone: get(row, "Téléphone (coord. structure)"),
            telephone2: get(row, "Téléphone 2 (coord. structure)"),
            telecopie: get(row, "Télécopie (coord. structure)"),
            adresse_e_mail: get(row, "Adresse e-mail (coord. structure)"),
            code_departement: get(row, "Code Département (structure)"),
            ancien_identifiant_de_la_structure: get(row, "Ancien identifiant de la structure"),
            autorite_denregistrement: get(row, "Autorité d'enregistrement"),
        };
        let same = exercices.iter_mut().find(|e| {
            e.code_profession == exercice.code_profession
                && e.code_categorie_professionnelle == exercice.code_categorie_professionnelle
                && e.code_type_savoir_faire == exercice.code_type_savoir_faire
                && e.code_savoir_faire == exercice.code_savoir_faire
        });
        match same {
            Some(e) => e.activities.push(activity),
            None => {
                let mut e = exercice;
                e.activities.push(activity);
                exercices.push(e);
            }
        }
    }
    let first_activity = exercices.first().and_then(|e| e.activities.first());
    let organisation = first_activity
        .map(|a| a.raison_sociale_site.clone())
        .filter(|s| !s.is_empty());
    let organisation_id = first_activity
        .map(|a| a.identifiant_technique_de_la_structure.clone())
        .filter(|s| !s.is_empty());
    let mut roles: Vec<String> = Vec::new();
    for e in &exercices {
        let role = format!("{}^{ROLE_OID}", e.code_profession);
        if !e.code_profession.is_empty() && !roles.contains(&role) {
            roles.push(role);
        }
    }
    let origine = match idnat.kind() {
        IdNatKind::Rpps => "RPPS",
        IdNatKind::Adeli => "ADELI",
        IdNatKind::Finess => "FINESS",
        IdNatKind::Siret => "SIRET",
    };
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let claims = PscClaims {
        subject_name_id: idnat.to_string(),
        preferred_username: Some(idnat.to_string()),
        given_name: nonempty(get(first, "Prénom d'exercice")),
        family_name: nonempty(get(first, "Nom d'exercice")),
        code_civilite: nonempty(civility.clone()),
        subject_organization: organisation,
        subject_organization_id: organisation_id,
        subject_role: roles,
        palier_authentification: Some(PALIER.to_owned()),
        auth_mode: None,
        other_ids: vec![OtherId {
            identifiant: idnat.to_string(),
            origine: origine.to_owned(),
            qualite: 1,
        }],
        subject_ref_pro: Some(SubjectRefPro {
            code_civilite: civility,
            exercices,
        }),
    };
    Professional {
        sub: subject(&stable_uuid(&idnat), &idnat),
        idnat,
        claims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::rpps::header::{HEADER_56, line_56 as line};

    #[test]
    fn claims_come_from_the_file() {
        let a = line(&[
            (2, "810001045367"),
            (5, "MME"),
            (7, "MARTIN"),
            (8, "CLAIRE"),
            (9, "10"),
            (11, "C"),
            (13, "S"),
            (15, "SM54"),
            (17, "S"),
            (21, "750712184"),
            (22, "750712176"),
            (23, "F750712184"),
            (24, "CHU TEST"),
            (35, "75013"),
            (46, "1750712184"),
            (48, "SA01"),
        ]);
        let b = line(&[
            (2, "810001045367"),
            (7, "MARTIN"),
            (8, "CLAIRE"),
            (9, "10"),
            (11, "C"),
            (13, "S"),
            (15, "SM54"),
            (17, "L"),
            (24, "CABINET MARTIN"),
        ]);
        let c = line(&[(2, "0012600631"), (7, "DUPONT"), (8, "JEAN"), (9, "26")]);
        let text = format!("{HEADER_56}\n{a}\n{b}\n{c}\nnot|a|line\n");
        let dir = Directory::parse(&text).unwrap();
        assert_eq!(dir.len(), 2);
        assert_eq!(dir.skipped, 1);
        let p = dir.get(&IdNat::parse("810001045367").unwrap()).unwrap();
        assert!(p.sub.starts_with("f:") && p.sub.ends_with(":810001045367"));
        assert_eq!(p.claims.family_name.as_deref(), Some("MARTIN"));
        assert_eq!(
            p.claims.subject_organization_id.as_deref(),
            Some("F750712184")
        );
        assert_eq!(p.claims.subject_role, vec!["10^1.2.250.1.71.1.2.7"]);
        let refpro = p.claims.subject_ref_pro.as_ref().unwrap();
        assert_eq!(refpro.code_civilite, "MME");
        assert_eq!(refpro.exercices.len(), 1);
        assert_eq!(refpro.exercices[0].activities.len(), 2);
        let first = &refpro.exercices[0].activities[0];
        assert_eq!(first.numero_finess_etablissement_juridique, "750712176");
        assert_eq!(first.ancien_identifiant_de_la_structure, "1750712184");
        assert_eq!(first.code_secteur_dactivite, "SA01");
        let adeli = dir.get(&IdNat::parse("0012600631").unwrap()).unwrap();
        assert_eq!(adeli.claims.other_ids[0].origine, "ADELI");
        let again = Directory::parse(&text).unwrap();
        assert_eq!(again.get(&p.idnat).unwrap().sub, p.sub);
    }

    #[test]
    fn a_file_without_required_columns_is_refused() {
        let header = HEADER_56.replace("Code profession|", "");
        assert!(Directory::parse(&format!("{header}\n")).is_err());
    }
}
