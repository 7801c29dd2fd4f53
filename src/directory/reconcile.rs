//! Reconciliation of local identities with the RPPS index:
//! classifies every link and every professional practising here, stores the findings (replaced
//! by each run, `first_seen` kept), and applies the suspension policy after its grace period.

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::audit::AuditEvent;
use crate::directory::Repository;
use crate::directory::users;
use crate::identity::{Status, name};
use crate::storage::findings::{self, FindingRecord};
use crate::storage::identities::{self, IdentityRecord};
use crate::storage::links::{self, LinkRecord};
use crate::storage::rpps_scope::{self, Person, Situation};

/// Suggestions listed per unlinked identity.
const SUGGESTIONS: usize = 5;

/// What a finding says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    LinkedOk,
    LinkedIdnatUnknown,
    LinkedNoActivityHere,
    Changed,
    OnboardingCandidate,
    UnlinkedRegulated,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::LinkedOk,
        Category::LinkedIdnatUnknown,
        Category::LinkedNoActivityHere,
        Category::Changed,
        Category::OnboardingCandidate,
        Category::UnlinkedRegulated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::LinkedOk => "linked_ok",
            Category::LinkedIdnatUnknown => "linked_idnat_unknown",
            Category::LinkedNoActivityHere => "linked_no_activity_here",
            Category::Changed => "changed",
            Category::OnboardingCandidate => "onboarding_candidate",
            Category::UnlinkedRegulated => "unlinked_regulated",
        }
    }

    /// A broken link: the suspension policy applies.
    pub fn is_broken_link(self) -> bool {
        matches!(
            self,
            Category::LinkedIdnatUnknown | Category::LinkedNoActivityHere
        )
    }
}

/// One finding of the current run.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub category: Category,
    pub identity_id: Option<String>,
    pub username: Option<String>,
    pub idnat: Option<String>,
    pub detail: Value,
    pub first_seen: i64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub at: i64,
    pub counts: BTreeMap<&'static str, usize>,
    pub suspended: Vec<String>,
    pub findings: Vec<Finding>,
}

/// What the RPPS says about one professional, reduced to what reconciliation compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub last_name: String,
    pub first_name: String,
    pub professions: Vec<String>,
}

fn snapshot(p: &Person) -> Snapshot {
    let mut professions: Vec<String> = serde_json::from_str(&p.professions).unwrap_or_default();
    professions.sort();
    professions.dedup();
    Snapshot {
        last_name: p.last_name.clone(),
        first_name: p.first_name.clone(),
        professions,
    }
}

/// Whether an activity is at one of the establishment's FINESS numbers.
pub fn is_here(s: &Situation, ours: &HashSet<String>) -> bool {
    [&s.finess_site, &s.finess_ej]
        .into_iter()
        .flatten()
        .any(|f| ours.contains(f))
}

/// How well a professional's name matches an identity's: 3 same family and given names,
/// 2 same family name and initial, 1 same family name, 0 otherwise.
pub fn name_score(identity: &IdentityRecord, p: &Person) -> u8 {
    let (fi, gi) = (
        name::normalise(&identity.family_name),
        name::normalise(&identity.given_name),
    );
    let (fp, gp) = (
        name::normalise(&p.last_name),
        name::normalise(&p.first_name),
    );
    if fi.is_empty() || fi != fp {
        0
    } else if gi == gp {
        3
    } else if gi.chars().next().is_some() && gi.chars().next() == gp.chars().next() {
        2
    } else {
        1
    }
}

/// Runs the reconciliation now. Called at the end of each RPPS import and by `rpps report
/// --refresh`. Findings are replaced in one transaction; policy suspensions follow.
pub async fn reconcile(state: &Repository<'_>) -> anyhow::Result<Report> {
    let now = state.clock.now();
    let pool = state.db.pool();
    let ours: Vec<String> = state
        .settings
        .establishment
        .finess
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    let ours_set: HashSet<String> = ours.iter().cloned().collect();
    let people = identities::list(pool)
        .await
        .context("cannot list identities")?;
    let by_id: HashMap<&str, &IdentityRecord> = people.iter().map(|i| (i.id.as_str(), i)).collect();
    let all_links = links::all(pool).await.context("cannot list RPPS links")?;
    let linked_idnats: HashSet<&str> = all_links.iter().map(|l| l.idnat.as_str()).collect();
    let linked_ids: HashSet<&str> = all_links.iter().map(|l| l.identity_id.as_str()).collect();
    let previous = findings::all(pool)
        .await
        .context("cannot read the findings")?;
    let first_seen_of: HashMap<(String, Option<String>, Option<String>), i64> = previous
        .iter()
        .map(|f| {
            (
                (f.category.clone(), f.identity_id.clone(), f.idnat.clone()),
                f.first_seen,
            )
        })
        .collect();
    // The RPPS view each linked identity had at the last run, to detect changes.
    let previous_view: HashMap<String, Snapshot> = previous
        .iter()
        .filter(|f| f.category == "linked_ok" || f.category == "changed")
        .filter_map(|f| {
            let d: Value = serde_json::from_str(&f.detail).ok()?;
            let snap: Snapshot = serde_json::from_value(d.get("rpps")?.clone()).ok()?;
            Some((f.identity_id.clone()?, snap))
        })
        .collect();

    let mut out: Vec<Finding> = Vec::new();
    let mut push = |category: Category,
                    identity: Option<&IdentityRecord>,
                    idnat: Option<&str>,
                    detail: Value| {
        let key = (
            category.as_str().to_owned(),
            identity.map(|i| i.id.clone()),
            idnat.map(str::to_owned),
        );
        out.push(Finding {
            category,
            identity_id: identity.map(|i| i.id.clone()),
            username: identity.map(|i| i.username.clone()),
            idnat: idnat.map(str::to_owned),
            detail,
            first_seen: first_seen_of.get(&key).copied().unwrap_or(now),
        });
    };

    for link in &all_links {
        let identity = by_id.get(link.identity_id.as_str()).copied();
        classify_link(state, link, identity, &ours_set, &previous_view, &mut push).await?;
    }

    let here = rpps_scope::people_at(pool, &ours)
        .await
        .context("cannot read the professionals practising here")?;
    for p in here
        .iter()
        .filter(|p| !linked_idnats.contains(p.idnat.as_str()))
    {
        push(
            Category::OnboardingCandidate,
            None,
            Some(&p.idnat),
            json!({ "rpps": snapshot(p) }),
        );
    }
    for i in people
        .iter()
        .filter(|i| i.status == Status::Active && !linked_ids.contains(i.id.as_str()))
    {
        let mut suggestions: Vec<(u8, &Person)> = here
            .iter()
            .filter(|p| !linked_idnats.contains(p.idnat.as_str()))
            .map(|p| (name_score(i, p), p))
            .filter(|(s, _)| *s > 0)
            .collect();
        if suggestions.is_empty() {
            continue;
        }
        suggestions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.idnat.cmp(&b.1.idnat)));
        let list: Vec<Value> = suggestions
            .iter()
            .take(SUGGESTIONS)
            .map(|(score, p)| {
                json!({ "idnat": p.idnat, "score": score, "last_name": p.last_name,
                        "first_name": p.first_name, "professions": snapshot(p).professions })
            })
            .collect();
        push(
            Category::UnlinkedRegulated,
            Some(i),
            None,
            json!({ "suggestions": list }),
        );
    }

    let suspended = apply_policy(state, &out, now).await?;
    let mut counts: BTreeMap<&'static str, usize> =
        Category::ALL.iter().map(|c| (c.as_str(), 0)).collect();
    for f in &out {
        *counts.entry(f.category.as_str()).or_default() += 1;
    }
    let records: Vec<FindingRecord> = out
        .iter()
        .map(|f| FindingRecord {
            id: uuid::Uuid::now_v7().to_string(),
            category: f.category.as_str().into(),
            identity_id: f.identity_id.clone(),
            idnat: f.idnat.clone(),
            detail: f.detail.to_string(),
            first_seen: f.first_seen,
            seen_at: now,
        })
        .collect();
    let new_findings = out.iter().filter(|f| f.first_seen == now).count();
    let mut tx = state.db.begin().await?;
    findings::replace(&mut tx, &records).await?;
    for f in out
        .iter()
        .filter(|f| f.first_seen == now && f.category != Category::LinkedOk)
        .filter(|f| f.identity_id.is_some())
    {
        let mut ev = AuditEvent::success("rpps_finding")
            .actor("reconcile")
            .reason(f.category.as_str())
            .details(json!({ "idnat": f.idnat, "detail": f.detail }));
        if let Some(id) = &f.identity_id {
            ev = ev.subject(id);
        }
        state.audit.in_tx(&mut tx, ev).await?;
    }
    let ev = AuditEvent::success("rpps_reconciled")
        .actor("reconcile")
        .details(
            json!({ "counts": counts, "new_findings": new_findings, "suspended": suspended.len() }),
        );
    state.audit.in_tx(&mut tx, ev).await?;
    tx.commit().await?;
    Ok(Report {
        at: now,
        counts,
        suspended,
        findings: out,
    })
}

async fn classify_link(
    state: &Repository<'_>,
    link: &LinkRecord,
    identity: Option<&IdentityRecord>,
    ours: &HashSet<String>,
    previous_view: &HashMap<String, Snapshot>,
    push: &mut impl FnMut(Category, Option<&IdentityRecord>, Option<&str>, Value),
) -> anyhow::Result<()> {
    let pool = state.db.pool();
    let Some(person) = rpps_scope::person(pool, &link.idnat).await? else {
        push(
            Category::LinkedIdnatUnknown,
            identity,
            Some(&link.idnat),
            json!({ "method": link.method }),
        );
        return Ok(());
    };
    let now_view = snapshot(&person);
    let situations = rpps_scope::situations(pool, &link.idnat).await?;
    // With no FINESS configured, nothing can be "here": such a link is only checked for
    // existence and changes.
    if !ours.is_empty() && !situations.iter().any(|s| is_here(s, ours)) {
        push(
            Category::LinkedNoActivityHere,
            identity,
            Some(&link.idnat),
            json!({ "rpps": now_view, "activities": situations.len() }),
        );
        return Ok(());
    }
    match previous_view.get(&link.identity_id) {
        Some(before) if *before != now_view => push(
            Category::Changed,
            identity,
            Some(&link.idnat),
            json!({ "rpps": now_view, "before": before }),
        ),
        _ => push(
            Category::LinkedOk,
            identity,
            Some(&link.idnat),
            json!({ "rpps": now_view }),
        ),
    }
    Ok(())
}

/// Suspends identities whose link has been broken longer than the configured grace period.
async fn apply_policy(
    state: &Repository<'_>,
    found: &[Finding],
    now: i64,
) -> anyhow::Result<Vec<String>> {
    let Some(days) = state.settings.reconcile.suspend_broken_links_after_days else {
        return Ok(Vec::new());
    };
    let grace = i64::from(days) * 86_400;
    let mut suspended = Vec::new();
    for f in found.iter().filter(|f| f.category.is_broken_link()) {
        let Some(id) = &f.identity_id else { continue };
        if f.first_seen + grace > now {
            continue;
        }
        let Some(i) = identities::by_id(state.db.pool(), id).await? else {
            continue;
        };
        if i.status != Status::Active {
            continue;
        }
        users::withdraw(
            state,
            id,
            Status::Suspended,
            "rpps_link_broken",
            "reconcile",
            json!({ "finding": f.category.as_str(), "idnat": f.idnat, "first_seen": f.first_seen, "grace_days": days }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot suspend {id}: {e}"))?;
        suspended.push(id.clone());
    }
    Ok(suspended)
}

/// The stored findings of the last run, for `rpps report`.
pub async fn last_findings(state: &Repository<'_>) -> anyhow::Result<Vec<FindingRecord>> {
    Ok(findings::all(state.db.pool()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(given: &str, family: &str) -> IdentityRecord {
        IdentityRecord {
            id: "i".into(),
            username: "u".into(),
            given_name: given.into(),
            family_name: family.into(),
            email: None,
            status: Status::Active,
            status_reason: None,
            status_at: None,
            created_at: 0,
            updated_at: 0,
            employee_number: None,
            department: None,
            hr_arrival: None,
            hr_departure: None,
            birth_date: None,
        }
    }

    fn person(first: &str, last: &str) -> Person {
        Person {
            idnat: "810000000001".into(),
            civility: None,
            last_name: last.into(),
            first_name: first.into(),
            professions: "[\"10\"]".into(),
        }
    }

    #[test]
    fn names_rank() {
        let i = identity("Hélène", "Dupré");
        assert_eq!(name_score(&i, &person("HELENE", "DUPRE")), 3);
        assert_eq!(name_score(&i, &person("HENRI", "DUPRE")), 2);
        assert_eq!(name_score(&i, &person("ANNE", "DUPRE")), 1);
        assert_eq!(name_score(&i, &person("HELENE", "MARTIN")), 0);
    }

    #[test]
    fn here_is_site_or_entity() {
        let ours: HashSet<String> = ["750712184".to_owned()].into();
        let mut s = Situation::default();
        assert!(!is_here(&s, &ours));
        s.finess_ej = Some("750712184".into());
        assert!(is_here(&s, &ours));
    }
}
