//! An enrolment code is issued only with a recorded identity check (who checked, which
//! document, in person or remote), unless `enrolment.require_proofing = false`.

use serde_json::Value;

use crate::helpers::*;
use trousseau::admin::AdminError;
use trousseau::admin::keys::enrolment_code;
use trousseau::authn::webauthn::enrolment::IdentityCheckInput;
use trousseau::identity::IdentityDocument;
use trousseau::storage::roles::checks_of;

fn desk(name: &str, document: IdentityDocument, remote: bool) -> IdentityCheckInput {
    IdentityCheckInput {
        checked_by: name.into(),
        document,
        remote,
    }
}

#[tokio::test]
async fn a_code_without_a_recorded_check_is_refused_and_nothing_is_issued() {
    let app = spawn_app().await;
    let id = app.create_user("inf-nuit", "Secret-1").await;
    let err = enrolment_code(&app.state, "inf-nuit", None, "helpdesk-1", None)
        .await
        .expect_err("refused without a check");
    let AdminError::Invalid(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("--checked-by"), "{message}");
    assert!(app.audit("enrolment_code_issued").await.is_empty());
    assert!(
        checks_of(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_check_is_recorded_with_the_code_and_audited() {
    let app = spawn_app().await;
    let id = app.create_user("inf-jour", "Secret-1").await;
    let check = desk(
        "Agnès Martin (accueil DSI)",
        IdentityDocument::Passport,
        true,
    );
    let issued = enrolment_code(&app.state, "inf-jour", None, "helpdesk-1", Some(&check))
        .await
        .expect("issued");
    assert_eq!(issued.code.len(), 14, "{}", issued.code);
    let checks = checks_of(app.state.db.pool(), &id).await.unwrap();
    assert_eq!(checks.len(), 1);
    let c = &checks[0];
    assert_eq!(
        (
            c.checked_by.as_str(),
            c.document.as_str(),
            c.remote,
            c.recorded_by.as_str()
        ),
        ("Agnès Martin (accueil DSI)", "passport", 1, "helpdesk-1")
    );
    let checked = app.audit("identity_checked").await;
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].subject.as_deref(), Some(id.as_str()));
    let issued_events = app.audit("enrolment_code_issued").await;
    let details: Value =
        serde_json::from_str(issued_events[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(details["identity_check"], c.id.as_str());
    // The code points at the check it was issued after.
    let (linked,): (Option<String>,) =
        sqlx::query_as("SELECT identity_check_id FROM enrolment_codes WHERE identity_id = $1")
            .bind(&id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(linked.as_deref(), Some(c.id.as_str()));
}

#[tokio::test]
async fn a_check_needs_the_name_of_who_checked() {
    let app = spawn_app().await;
    app.create_user("inf-soir", "Secret-1").await;
    for name in ["", "   ", "Nom\u{7}caché", &"x".repeat(201)] {
        let check = desk(name, IdentityDocument::IdCard, false);
        let err = enrolment_code(&app.state, "inf-soir", None, "helpdesk-1", Some(&check))
            .await
            .expect_err("refused");
        assert!(matches!(err, AdminError::Invalid(_)), "{name:?}: {err:?}");
    }
    assert!(app.audit("identity_checked").await.is_empty());
}

#[tokio::test]
async fn without_required_proofing_a_code_needs_no_check() {
    let app = spawn_app_with("[enrolment]\nrequire_proofing = false\n").await;
    let id = app.create_user("inf-garde", "Secret-1").await;
    enrolment_code(&app.state, "inf-garde", None, "helpdesk-1", None)
        .await
        .expect("issued");
    assert!(
        checks_of(app.state.db.pool(), &id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(app.audit("enrolment_code_issued").await.len(), 1);
}
