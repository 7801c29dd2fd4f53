//! The administration console's search over identities: folded words (no accents, lower
//! case) of names, username, email and employee number, one row per word, read by prefix.

use sqlx::AnyPool;

use super::Tx;
use super::identities::IdentityRecord;
use crate::identity::name::normalise;

/// A query or a field folded to the alphabet of the terms: lower-case ASCII letters and
/// digits, without spaces.
pub fn fold(text: &str) -> String {
    normalise(text)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The terms of an identity: each folded word of each field, each field whole, and the full
/// name both ways (`hervemartin`, `martinherve`), so that a typed full name matches too.
pub fn terms(r: &IdentityRecord) -> Vec<String> {
    let fields = [
        Some(r.given_name.as_str()),
        Some(r.family_name.as_str()),
        Some(r.username.as_str()),
        r.email.as_deref(),
        r.employee_number.as_deref(),
    ];
    let mut out: Vec<String> = Vec::new();
    for field in fields.into_iter().flatten() {
        let words = normalise(field);
        out.extend(words.split_whitespace().map(str::to_owned));
        out.push(fold(field));
    }
    out.push(fold(&format!("{} {}", r.given_name, r.family_name)));
    out.push(fold(&format!("{} {}", r.family_name, r.given_name)));
    out.retain(|t| !t.is_empty());
    out.iter_mut().for_each(|t| t.truncate(120));
    out.sort();
    out.dedup();
    out
}

/// Rewrites the terms of an identity, in the transaction that writes its fields.
pub async fn index(tx: &mut Tx, r: &IdentityRecord) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM identity_search WHERE identity_id = $1")
        .bind(&r.id)
        .execute(&mut **tx)
        .await?;
    for term in terms(r) {
        sqlx::query("INSERT INTO identity_search (identity_id, term) VALUES ($1, $2)")
            .bind(&r.id)
            .bind(term)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Rewrites the terms of an identity by id, after a write that changed only some fields.
pub async fn reindex(tx: &mut Tx, id: &str) -> Result<(), sqlx::Error> {
    let record: Option<IdentityRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE id = $1",
        super::identities::COLUMNS
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match record {
        Some(r) => index(tx, &r).await,
        None => Ok(()),
    }
}

/// Identities written before the search existed get their terms; how many were indexed.
pub async fn backfill(pool: &AnyPool) -> Result<usize, sqlx::Error> {
    let missing: Vec<IdentityRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // NOT EXISTS, an anti-join on the primary key's first column: PostgreSQL runs a
        // `NOT IN (subquery)` too large for its work memory as a nested loop (minutes on
        // 100,000 identities, at every start).
        "{} WHERE NOT EXISTS (SELECT 1 FROM identity_search s WHERE s.identity_id = identities.id)",
        super::identities::COLUMNS
    )))
    .fetch_all(pool)
    .await?;
    for r in &missing {
        let mut tx = pool.begin().await?;
        index(&mut tx, r).await?;
        tx.commit().await?;
    }
    Ok(missing.len())
}

/// One page of identities whose terms start with the folded `query` (or whose IdNat starts
/// with it as typed), in id order after `after`: at most `limit`.
pub async fn find(
    pool: &AnyPool,
    query: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<IdentityRecord>, sqlx::Error> {
    let folded = fold(query);
    let typed: String = query
        .trim()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if folded.is_empty() && typed.is_empty() {
        return sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{} WHERE id > $1 ORDER BY id LIMIT $2",
            super::identities::COLUMNS
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE id > $1 AND (id IN (SELECT identity_id FROM identity_search WHERE term LIKE $2) \
         OR id IN (SELECT identity_id FROM rpps_links WHERE idnat LIKE $3)) ORDER BY id LIMIT $4",
        super::identities::COLUMNS
    )))
    .bind(after)
    .bind(format!("{folded}%"))
    .bind(format!("{typed}%"))
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Status;

    #[test]
    fn terms_fold_accents_and_case_and_keep_every_word_and_the_full_name() {
        let r = IdentityRecord {
            id: "i".into(),
            username: "hdupre".into(),
            given_name: "Hervé".into(),
            family_name: "Dupré-Léger".into(),
            email: Some("Herve.Dupre@CHU.example".into()),
            status: Status::Active,
            status_reason: None,
            status_at: None,
            created_at: 0,
            updated_at: 0,
            employee_number: Some("M-12345".into()),
            department: None,
            hr_arrival: None,
            hr_departure: None,
            birth_date: None,
        };
        let t = terms(&r);
        for expected in [
            "herve",
            "dupre",
            "leger",
            "dupreleger",
            "hervedupreleger",
            "duprelegerherve",
            "hdupre",
            "herveduprechuexample",
            "m12345",
            "12345",
        ] {
            assert!(t.iter().any(|x| x == expected), "{expected} in {t:?}");
        }
        assert!(
            t.iter()
                .all(|x| x.chars().all(|c| c.is_ascii_alphanumeric()))
        );
        assert_eq!(fold("  Hervé MAR "), "hervemar");
        assert_eq!(fold("É"), "e");
    }
}
