//! Claims that need the database: the `roles` scope gives the roles from directory groups
//! (`[ldap.roles]`); the `rpps` scope gives the IdNat and the professions and
//! activities at the establishment, shaped like Pro Santé Connect's `SubjectRefPro` (psc.md);
//! Pro Santé Connect's broker always gets the establishment's `tid` (psc.md, "Trousseau as
//! third-party IdP of PSC").

use serde_json::{Map, Value, json};
use std::collections::HashSet;

use crate::directory::reconcile::is_here;
use crate::oidc::client::Client;
use crate::state::AppState;
use crate::storage::rpps_scope::{self, Situation};
use crate::storage::{identities, links};

/// Claims beyond `identity_claims` for the granted scopes (empty when none applies).
pub async fn scoped(
    state: &AppState,
    identity_id: &str,
    scopes: &[&str],
) -> anyhow::Result<Map<String, Value>> {
    let mut c = Map::new();
    let pool = state.db.pool();
    if scopes.contains(&"roles") {
        c.insert(
            "roles".into(),
            json!(crate::storage::directory::roles_of(pool, identity_id).await?),
        );
    }
    if !scopes.contains(&"rpps") {
        return Ok(c);
    }
    let Some(link) = links::of_identity(pool, identity_id).await? else {
        return Ok(c);
    };
    c.insert("SubjectNameID".into(), json!(link.idnat));
    c.insert("idnat".into(), json!(link.idnat));
    let Some(person) = rpps_scope::person(pool, &link.idnat).await? else {
        return Ok(c);
    };
    let ours: HashSet<String> = state
        .settings
        .establishment
        .finess
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    // With no FINESS configured every activity counts as here.
    let here: Vec<Situation> = rpps_scope::situations(pool, &link.idnat)
        .await?
        .into_iter()
        .filter(|s| ours.is_empty() || is_here(s, &ours))
        .collect();
    c.insert(
        "SubjectRefPro".into(),
        subject_ref_pro(
            person.civility.as_deref(),
            &person.last_name,
            &person.first_name,
            &here,
        ),
    );
    Ok(c)
}

/// The `tid` announced to Pro Santé Connect for an identity, `None` when its establishment is
/// unknown (`[psc.federation]`).
pub async fn tenant(state: &AppState, identity_id: &str) -> Result<Option<String>, sqlx::Error> {
    let federation = &state.settings.psc.federation;
    // One establishment: its `tid` whoever the person is, without reading the database (the
    // authorization and token endpoints of PSC's broker both ask).
    let own = if federation.establishments.is_empty() {
        None
    } else {
        identities::establishment_of(state.db.pool(), identity_id).await?
    };
    Ok(federation
        .tid_for(own.as_deref(), &state.settings.establishment.finess)
        .map(str::to_owned))
}

/// The database claims of an ID token for `client`: the scoped ones, and for Pro Santé
/// Connect's broker the `tid` (the authorization endpoint refused identities without one).
pub async fn for_id_token(
    state: &AppState,
    client: &Client,
    identity_id: &str,
    scopes: &[&str],
) -> anyhow::Result<Map<String, Value>> {
    let mut c = scoped(state, identity_id, scopes).await?;
    if client.policy.psc_broker {
        let tid = tenant(state, identity_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the identity's establishment has no tid"))?;
        c.insert("tid".into(), json!(tid));
    }
    Ok(c)
}

fn text(v: &Option<String>) -> Value {
    json!(v.as_deref().unwrap_or(""))
}

/// `SubjectRefPro`: one exercice per profession (and category and specialty), each with its
/// activities. Absent values are empty strings, as in the RPPS file.
pub fn subject_ref_pro(
    civility: Option<&str>,
    last_name: &str,
    first_name: &str,
    here: &[Situation],
) -> Value {
    let mut exercices: Vec<(Vec<Option<String>>, Vec<Value>)> = Vec::new();
    for s in here {
        let key = vec![
            s.profession_code.clone(),
            s.category_code.clone(),
            s.specialty_code.clone(),
        ];
        let activity = json!({
            "codeModeExercice": text(&s.mode_code),
            "codeSecteurDactivite": text(&s.sector_code),
            "numeroFinessSite": text(&s.finess_site),
            "numeroFinessetablissementJuridique": text(&s.finess_ej),
            "numeroSiretSite": text(&s.siret),
            "identifiantTechniqueDeLaStructure": text(&s.structure_id),
            "raisonSocialeSite": text(&s.structure_name),
            "codePostal": text(&s.postcode),
            "libelleCommune": text(&s.town),
            "codeRole": text(&s.role_code),
            "codeGenreActivite": text(&s.genre_code),
        });
        match exercices.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(activity),
            None => exercices.push((key, vec![activity])),
        }
    }
    let exercices: Vec<Value> = exercices
        .into_iter()
        .map(|(key, activities)| {
            let specialty = key[2].clone();
            let specialty_type = if specialty.is_some() { "S" } else { "" };
            json!({
                "codeProfession": text(&key[0]),
                "codeCategorieProfessionnelle": text(&key[1]),
                "nomDexercice": last_name,
                "prenomDexercice": first_name,
                // The public extraction gives the specialty code; its type is implied by it.
                "codeTypeSavoirFaire": specialty_type,
                "codeSavoirFaire": text(&specialty),
                "activities": activities,
            })
        })
        .collect();
    json!({ "codeCivilite": civility.unwrap_or(""), "exercices": exercices })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_activities_by_profession() {
        let a = Situation {
            profession_code: Some("10".into()),
            category_code: Some("C".into()),
            specialty_code: Some("SM54".into()),
            finess_site: Some("750712184".into()),
            ..Situation::default()
        };
        let b = Situation {
            finess_site: Some("750712200".into()),
            ..a.clone()
        };
        let v = subject_ref_pro(Some("M"), "DUPONT", "JEAN", &[a, b]);
        assert_eq!(v["codeCivilite"], "M");
        assert_eq!(v["exercices"].as_array().unwrap().len(), 1);
        let ex = &v["exercices"][0];
        assert_eq!(ex["codeProfession"], "10");
        assert_eq!(ex["nomDexercice"], "DUPONT");
        assert_eq!(ex["activities"].as_array().unwrap().len(), 2);
        assert_eq!(ex["activities"][1]["numeroFinessSite"], "750712200");
    }
}
