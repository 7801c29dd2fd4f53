//! Administration roles: assigned locally (audited with before and after), or mapped from
//! directory groups by `[admin.roles]` (nested groups count) and never in a relying party's
//! `roles` claim.

use serde_json::Value;

use crate::directory::ldap::ldap_toml;
use crate::helpers::peers::slapd::Slapd;
use crate::helpers::*;
use trousseau::admin::roles;
use trousseau::directory::ldap::{SyncOptions, sync};
use trousseau::identity::AdminRole;

#[tokio::test]
async fn local_roles_are_added_and_removed_once_each_and_audited_with_before_and_after() {
    let app = spawn_app().await;
    let id = app.create_user("dsi-iam", "Secret-1").await;
    assert!(roles::effective(&app.state, &id).await.unwrap().is_empty());
    assert!(
        roles::add(&app.state, "dsi-iam", AdminRole::Helpdesk, "root")
            .await
            .unwrap()
    );
    assert!(
        roles::add(&app.state, "dsi-iam", AdminRole::Auditor, "root")
            .await
            .unwrap()
    );
    // Adding it again changes nothing.
    assert!(
        !roles::add(&app.state, "dsi-iam", AdminRole::Helpdesk, "root")
            .await
            .unwrap()
    );
    assert_eq!(
        roles::effective(&app.state, &id).await.unwrap(),
        [AdminRole::Helpdesk, AdminRole::Auditor]
    );
    assert!(
        roles::remove(&app.state, "dsi-iam", AdminRole::Helpdesk, "root")
            .await
            .unwrap()
    );
    assert!(
        !roles::remove(&app.state, "dsi-iam", AdminRole::Admin, "root")
            .await
            .unwrap()
    );
    assert_eq!(
        roles::effective(&app.state, &id).await.unwrap(),
        [AdminRole::Auditor]
    );

    let granted = app.audit("admin_role_granted").await;
    assert_eq!(granted.len(), 3);
    let second: Value = serde_json::from_str(granted[1].details.as_deref().unwrap()).unwrap();
    assert_eq!(second["before"], serde_json::json!(["helpdesk"]));
    assert_eq!(second["after"], serde_json::json!(["helpdesk", "auditor"]));
    let withdrawn = app.audit("admin_role_withdrawn").await;
    let first: Value = serde_json::from_str(withdrawn[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(first["after"], serde_json::json!(["auditor"]));
    assert_eq!(withdrawn[0].actor.as_deref(), Some("root"));
}

#[tokio::test]
async fn an_unknown_person_gets_no_role() {
    let app = spawn_app().await;
    let err = roles::add(&app.state, "personne", AdminRole::Admin, "root")
        .await
        .expect_err("no such user");
    assert!(err.to_string().contains("no user personne"), "{err}");
    assert!(app.audit("admin_role_granted").await.is_empty());
}

#[tokio::test]
async fn directory_groups_give_administration_roles_that_never_reach_a_token() {
    let Some(s) = Slapd::start().await else {
        return;
    };
    let dn = s
        .add_user("mleroy", "Secret-1", "Marc", "Leroy", Some("E2001"))
        .await;
    let inner = s.add_group("dsi-support", &[&dn]).await;
    s.add_group("dsi", &[&inner]).await;
    s.add_group("soignants", &[&dn]).await;
    let toml = format!(
        "{}\n[admin.roles]\n\"dsi\" = \"helpdesk\"\n",
        ldap_toml(&s, &[&s.ldaps_url], "")
    );
    let app = spawn_app_with(&toml).await;
    let run = sync(&app.state.repository(), SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(run.created, 1, "{run:?}");
    let identity = trousseau::storage::identities::by_username(app.state.db.pool(), "mleroy")
        .await
        .unwrap()
        .unwrap();
    let summary = roles::summary(&app.state, &identity.id).await.unwrap();
    assert_eq!(
        summary.directory,
        [AdminRole::Helpdesk],
        "nested group dsi-support ⊂ dsi"
    );
    assert!(summary.local.is_empty());

    // The relying party asking for `roles` gets the [ldap.roles] one only.
    let mut spec = app.spec("dpi-roles");
    spec.scopes.push("roles".into());
    let rp = app.register(spec).await;
    let (url, verifier) = authorize_url(&app, &rp, &[]);
    let url = url.replace("scope=openid+profile+email", "scope=openid+profile+roles");
    let mut b = app.browser();
    let back = authorize(&mut b, &url, Some(("mleroy", "Secret-1"))).await;
    let code = query_param(&back, "code").unwrap();
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["roles"], serde_json::json!(["soignant"]));
    assert!(!tokens.to_string().contains("helpdesk"));
}
