//! The administration console: who may open it (a loa3 session with a role), what each role
//! may do, CSRF, re-authentication, the search, and the audit of every action.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use serde_json::Value;

use crate::helpers::*;
use trousseau::admin::roles;
use trousseau::admin::users::{self, NewUser};
use trousseau::audit::RequestContext;
use trousseau::authn::{AuthFactor, Method};
use trousseau::identity::{AdminRole, IdNat, LinkMethod};
use trousseau::storage::identities;

const SESSION: &str = "__Host-trousseau_session";
const CSRF: &str = "__Host-trousseau_csrf";

/// A browser signed in as `user` (created, with `role` if any) by one factor of `method`.
pub(super) async fn signed_in(
    app: &TestApp,
    user: &str,
    role: Option<AdminRole>,
    method: Method,
) -> Browser {
    let id = app.create_user(user, "Secret-1").await;
    if let Some(role) = role {
        roles::add(&app.state, user, role, "test").await.unwrap();
    }
    browser_of(app, &id, method).await
}

pub(super) async fn browser_of(app: &TestApp, id: &str, method: Method) -> Browser {
    let factor = AuthFactor {
        method,
        user_verified: true,
    };
    let ctx = RequestContext::default();
    let done =
        trousseau::session::record_login(&app.state.sessions(), None, id, factor, None, &ctx)
            .await
            .unwrap();
    let mut b = app.browser();
    b.cookies
        .insert(SESSION.into(), done.new_token.expect("a new session"));
    b
}

/// A person with given and family names, no password.
async fn person(app: &TestApp, username: &str, given: &str, family: &str) -> String {
    users::create(
        &app.state,
        NewUser {
            username: username.into(),
            given_name: given.into(),
            family_name: family.into(),
            email: None,
            password: None,
        },
        "test",
    )
    .await
    .unwrap()
    .id
}

/// Opens a person's page (setting the CSRF cookie) and answers the token.
async fn open_page(b: &mut Browser, id: &str) -> String {
    let resp = b.get(&format!("/admin/identities/{id}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    b.cookies.get(CSRF).cloned().expect("a CSRF cookie")
}

async fn status_of(app: &TestApp, id: &str) -> String {
    identities::by_id(app.state.db.pool(), id)
        .await
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_owned()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn details(r: &trousseau::storage::audit::AuditRecord) -> Value {
    serde_json::from_str(r.details.as_deref().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn the_console_needs_a_loa3_session_of_a_person_with_a_role() {
    let app = spawn_app().await;
    // No session: the login opens, and comes back to the console.
    let resp = app.browser().get("/admin").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert!(
        to.starts_with("/login?flow=") && !to.contains("reason"),
        "{to}"
    );

    // A password session (loa1) of a helpdesk agent: the step-up screen.
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Password).await;
    let resp = b.get("/admin/identities").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).contains("reason=stepup"),
        "{}",
        location(&resp)
    );

    // A card session (loa3) without any role: refused and audited.
    let mut b = signed_in(&app, "nurse", None, Method::Card).await;
    let resp = b.get("/admin").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Vous n&#39;avez pas accès à la console d&#39;administration")
            || body.contains("Vous n'avez pas accès à la console d'administration"),
        "{body}"
    );
    let refused = app.audit("admin_access_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("no_role"));

    // The same person with a card and a role reaches the dashboard.
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Auditor), Method::Card).await;
    let resp = b.get("/admin").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Tableau de bord") && !body.contains("<script"));
}

#[tokio::test]
async fn helpdesk_suspends_reactivates_and_ends_sessions_each_audited_with_before_and_after() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "hmartin", "Hervé", "Martin").await;
    let _their_browser = browser_of(&app, &target, Method::Password).await;
    let csrf = open_page(&mut b, &target).await;

    let url = format!("/admin/identities/{target}/suspend");
    let resp = b
        .post(&url, &[("csrf", &csrf), ("reason", "badge perdu")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).ends_with("?done=suspend"));
    assert_eq!(status_of(&app, &target).await, "suspended");

    let url = format!("/admin/identities/{target}/reactivate");
    let resp = b.post(&url, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&app, &target).await, "active");

    let _again = browser_of(&app, &target, Method::Password).await;
    let url = format!("/admin/identities/{target}/end-sessions");
    let resp = b.post(&url, &[("csrf", &csrf)]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    let actions = app.audit("admin_console_action").await;
    let mut by_action: Vec<(String, Value, Value)> = actions
        .iter()
        .map(|r| {
            let d = details(r);
            assert_eq!(r.outcome, "success");
            assert_eq!(r.actor.as_deref(), Some("admin:agent"));
            assert_eq!(r.subject.as_deref(), Some(target.as_str()));
            (
                d["action"].as_str().unwrap().to_owned(),
                d["before"].clone(),
                d["after"].clone(),
            )
        })
        .collect();
    by_action.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_action.len(), 3);
    assert_eq!(by_action[0].0, "end_sessions");
    assert_eq!(by_action[0].1["open_sessions"], 1);
    assert_eq!(by_action[0].2["ended"], 1);
    assert_eq!(by_action[1].0, "reactivate");
    assert_eq!(by_action[1].1["status"], "suspended");
    assert_eq!(by_action[1].2["status"], "active");
    assert_eq!(by_action[2].0, "suspend");
    assert_eq!(by_action[2].1["status"], "active");
    assert_eq!(by_action[2].2["status"], "suspended");
    // The core functions audit their own events too, as from the CLI.
    assert_eq!(app.audit("user_enabled").await.len(), 1);
    assert_eq!(app.audit("sessions_ended").await.len(), 1);
}

#[tokio::test]
async fn an_auditor_reads_but_cannot_act() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "audit", Some(AdminRole::Auditor), Method::Card).await;
    let target = person(&app, "hmartin", "Hervé", "Martin").await;
    let resp = b.get(&format!("/admin/identities/{target}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    assert!(
        !body.contains("/suspend\""),
        "no action form for an auditor"
    );
    let csrf = b.cookies.get(CSRF).cloned().unwrap();
    let url = format!("/admin/identities/{target}/suspend");
    let resp = b.post(&url, &[("csrf", &csrf), ("reason", "test")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &target).await, "active");
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("role"));
    assert!(app.audit("admin_console_action").await.is_empty());
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "hmartin", "Hervé", "Martin").await;
    open_page(&mut b, &target).await;
    let url = format!("/admin/identities/{target}/suspend");
    let resp = b.post(&url, &[("reason", "test")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &target).await, "active");
    let refused = app.audit("admin_console_action").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].reason.as_deref(), Some("csrf"));
}

#[tokio::test]
async fn a_destructive_action_after_a_stale_authentication_asks_to_sign_in_again() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "hmartin", "Hervé", "Martin").await;
    let csrf = open_page(&mut b, &target).await;
    app.clock
        .advance(app.state.settings.admin.reauth_idle_secs + 1);
    let url = format!("/admin/identities/{target}/suspend");
    let resp = b.post(&url, &[("csrf", &csrf), ("reason", "test")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&resp).contains("reason=reauth"),
        "{}",
        location(&resp)
    );
    assert_eq!(status_of(&app, &target).await, "active");
    let refused = app.audit("admin_action_refused").await;
    assert_eq!(
        refused[0].reason.as_deref(),
        Some("reauthentication_required")
    );
}

#[tokio::test]
async fn the_enrolment_code_page_is_never_stored_and_records_the_identity_check() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "hmartin", "Hervé", "Martin").await;
    let csrf = open_page(&mut b, &target).await;
    let url = format!("/admin/identities/{target}/enrolment-code");
    // Without who checked: refused, no code.
    let resp = b
        .post(&url, &[("csrf", &csrf), ("document", "passport")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).contains("error=checked_by_missing"));
    let form = [
        ("csrf", csrf.as_str()),
        ("checked_by", "Claire Agent"),
        ("document", "passport"),
    ];
    let resp = b.post(&url, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    let body = resp.text().await.unwrap();
    assert!(body.contains("id=\"code\""));
    let actions = app.audit("admin_console_action").await;
    let issued = actions.iter().find(|r| r.outcome == "success").unwrap();
    let d = details(issued);
    assert_eq!(d["action"], "enrolment_code");
    assert_eq!(d["before"]["code_issued"], false);
    assert_eq!(d["after"]["code_issued"], true);
    assert_eq!(d["after"]["checked_by"], "Claire Agent");
    assert!(!issued.details.as_deref().unwrap().contains("code\":\""));
}

#[tokio::test]
async fn the_search_finds_by_accentless_prefix_idnat_and_employee_number_50_per_page() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "dsi", Some(AdminRole::Auditor), Method::Card).await;
    let herve = person(&app, "hdupre", "Hervé", "Dupré").await;
    let other = person(&app, "jdoe", "Jeanne", "Doe").await;
    users::link_rpps(
        &app.state,
        "jdoe",
        &IdNat::parse("810001045367").unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
    let mut record = identities::by_id(app.state.db.pool(), &other)
        .await
        .unwrap()
        .unwrap();
    record.employee_number = Some("M12345".into());
    let mut tx = app.state.db.begin().await.unwrap();
    identities::update_hr(&mut tx, &record).await.unwrap();
    tx.commit().await.unwrap();

    let found = page(&mut b, "herve").await;
    assert!(found.contains(&herve) && !found.contains(&other), "{found}");
    let found = page(&mut b, "DUPR").await;
    assert!(found.contains(&herve));
    let found = page(&mut b, "8100010").await;
    assert!(found.contains(&other) && !found.contains(&herve));
    let found = page(&mut b, "m123").await;
    assert!(found.contains(&other) && !found.contains(&herve));
    let found = page(&mut b, "zzz").await;
    assert!(!found.contains(&other) && !found.contains(&herve));

    for n in 0..55 {
        person(&app, &format!("pag{n:03}"), "Paul", &format!("Page{n:03}")).await;
    }
    let first = page(&mut b, "pag").await;
    assert_eq!(first.matches("href=\"/admin/identities/").count(), 50);
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = b.get(&next).await.text().await.unwrap();
    assert_eq!(second.matches("href=\"/admin/identities/").count(), 5);
    assert!(!second.contains("rel=\"next\""));
}

async fn page(b: &mut Browser, q: &str) -> String {
    let url = format!("/admin/identities?q={q}");
    b.get(&url).await.text().await.unwrap()
}

#[tokio::test]
async fn a_persons_page_shows_the_applications_each_session_reached_and_the_cards_seen() {
    use trousseau::storage::{cards, sessions};
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "cmorel", "Claire", "Morel").await;
    let _their_browser = browser_of(&app, &target, Method::Password).await;
    let pool = app.state.db.pool();
    let now = app.state.clock.now();
    let open = sessions::open_of_identity(pool, &target).await.unwrap();
    sessions::add_client(pool, &open[0].id, "dpi-urgences", now)
        .await
        .unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    let seen = cards::Seen {
        issuer: "CN=TEST AC IGC-SANTE",
        serial: "0A1B2C",
        idnat: "810000000001",
        holder: "MOREL Claire".into(),
        not_after: now + 86_400 * 365,
        identity_id: Some(&target),
        now,
    };
    cards::record_seen(&mut tx, &seen).await.unwrap();
    tx.commit().await.unwrap();

    let html = b
        .get(&format!("/admin/identities/{target}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Applications atteintes"), "{html}");
    assert!(
        html.contains("dpi-urgences ("),
        "the client the session reached"
    );
    assert!(html.contains("Cartes CPS vues"));
    assert!(html.contains("0A1B2C") && html.contains("MOREL Claire"));

    // Someone without either.
    let other = person(&app, "nobody", "Paul", "Rien").await;
    let html = b
        .get(&format!("/admin/identities/{other}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Aucune carte CPS vue."));
}

#[tokio::test]
async fn an_rpps_link_is_made_and_removed_with_a_reason_each_audited() {
    use trousseau::storage::links;
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Helpdesk), Method::Card).await;
    let target = person(&app, "lpetit", "Léa", "Petit").await;
    let csrf = open_page(&mut b, &target).await;
    let link = format!("/admin/identities/{target}/link-rpps");

    // Refusals: each audited, nothing linked.
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("idnat", "810001234567")], "reason_missing"),
        (
            &[("idnat", "not-an-idnat"), ("reason", "arrivée")],
            "idnat_invalid",
        ),
        (&[("idnat", ""), ("reason", "arrivée")], "idnat_invalid"),
    ];
    for (fields, reason) in cases {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let resp = b.post(&link, &form).await;
        assert!(
            location(&resp).ends_with(&format!("?error={reason}")),
            "{fields:?}"
        );
    }
    let pool = app.state.db.pool();
    assert!(links::of_identity(pool, &target).await.unwrap().is_none());
    let refused = app.audit("admin_console_action").await;
    assert_eq!(refused.len(), 3);
    assert!(refused.iter().all(|r| r.outcome == "failure"));

    let form = [
        ("csrf", csrf.as_str()),
        ("idnat", "810001234567"),
        ("reason", "arrivée de l'interne"),
    ];
    let resp = b.post(&link, &form).await;
    assert!(
        location(&resp).ends_with("?done=link_rpps"),
        "{}",
        location(&resp)
    );
    let l = links::of_identity(pool, &target)
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(l.idnat, "810001234567");
    let html = b
        .get(&format!("/admin/identities/{target}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Délier du RPPS"));

    let unlink = format!("/admin/identities/{target}/unlink-rpps");
    let resp = b
        .post(
            &unlink,
            &[("csrf", csrf.as_str()), ("reason", "erreur de saisie")],
        )
        .await;
    assert!(location(&resp).ends_with("?done=unlink_rpps"));
    assert!(links::of_identity(pool, &target).await.unwrap().is_none());

    let done: Vec<_> = app
        .audit("admin_console_action")
        .await
        .into_iter()
        .filter(|r| r.outcome == "success")
        .map(|r| details(&r))
        .collect();
    assert_eq!(done.len(), 2);
    let (linked, unlinked) = if done[0]["action"] == "link_rpps" {
        (&done[0], &done[1])
    } else {
        (&done[1], &done[0])
    };
    assert_eq!(linked["before"]["idnat"], Value::Null);
    assert_eq!(linked["after"]["idnat"], "810001234567");
    assert_eq!(linked["after"]["reason"], "arrivée de l'interne");
    assert_eq!(unlinked["before"]["idnat"], "810001234567");
    assert_eq!(unlinked["after"]["reason"], "erreur de saisie");

    // An auditor has no such form, and a forged one changes nothing.
    let mut auditor = signed_in(&app, "lecteur", Some(AdminRole::Auditor), Method::Card).await;
    let csrf = open_page(&mut auditor, &target).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("idnat", "810001234567"),
        ("reason", "x"),
    ];
    let resp = auditor.post(&link, &form).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(links::of_identity(pool, &target).await.unwrap().is_none());
}

#[tokio::test]
async fn the_dashboard_counts_todays_logins_by_means() {
    let app = spawn_app().await;
    let mut b = signed_in(&app, "agent", Some(AdminRole::Auditor), Method::Card).await;
    let someone = person(&app, "pmartin", "Paul", "Martin").await;
    let _one = browser_of(&app, &someone, Method::Password).await;
    let _two = browser_of(&app, &someone, Method::Password).await;
    let html = b.get("/admin").await.text().await.unwrap();
    assert!(html.contains("Connexions du jour par moyen"), "{html}");
    let row = |label: &str| {
        let at = html
            .find(&format!("<th scope=\"row\">{label}</th>"))
            .expect(label);
        html[at..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(
        row("Mot de passe local").contains(">2</td><td class=\"num\">0<"),
        "{}",
        row("Mot de passe local")
    );
    assert!(row("Carte CPS").contains(">1</td>"));
    // No card login set up: the page says there is no revocation list to watch.
    assert!(html.contains("Aucune liste de révocation chargée"));
}
