//! Identity model: the RPPS link, reconciliation against an imported RPPS file, the `rpps`
//! claim, and the URL-polled RPPS sync job.

use serde_json::Value;
use std::path::Path;
use trousseau::admin::users;
use trousseau::clock::Clock;
use trousseau::directory::reconcile::{self, Category};
use trousseau::directory::rpps::{ImportOptions, header::HEADER_56, import_file};
use trousseau::directory::sync::{self, JobOutcome};
use trousseau::identity::{IdNat, LinkMethod};
use trousseau::storage::rpps_scope;

use crate::helpers::{
    HttpPeer, Reply, TestApp, authorize, claims, exchange, query_param, spawn_app, spawn_app_with,
    wait,
};

const PW: &str = "correct horse battery staple";
const HERE: &str = "750712184";

/// One professional line of the 56-column extraction.
fn line(idnat: &str, last: &str, first: &str, profession: &str, finess_site: &str) -> String {
    let mut f = vec![String::new(); 56];
    f[0] = "8".into();
    f[1] = idnat[1..].into();
    f[2] = idnat.into();
    f[5] = "M".into();
    f[7] = last.into();
    f[8] = first.into();
    f[9] = profession.into();
    f[11] = "C".into();
    f[13] = "S".into();
    f[15] = "SM54".into();
    f[17] = "S".into();
    f[21] = finess_site.into();
    f[22] = "750712000".into();
    f[23] = format!("F{finess_site}");
    f[24] = "CHU EXEMPLE".into();
    f[35] = "75013".into();
    f[48] = "SA01".into();
    format!("{}|", f.join("|"))
}

fn rpps_file(lines: &[String]) -> String {
    let mut s = String::from(HEADER_56);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s
}

async fn import_rpps(app: &TestApp, dir: &Path, name: &str, lines: &[String]) {
    let path = dir.join(name);
    std::fs::write(&path, rpps_file(lines)).unwrap();
    let s = &app.state;
    import_file(
        &s.db,
        &s.audit,
        &s.clock,
        &path,
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .expect("RPPS import");
}

fn settings(extra: &str) -> String {
    format!("[establishment]\nfiness = [\"{HERE}\"]\n{extra}")
}

async fn user(app: &TestApp, username: &str, given: &str, family: &str) -> String {
    users::create(
        &app.state,
        users::NewUser {
            username: username.into(),
            given_name: given.into(),
            family_name: family.into(),
            email: None,
            password: Some(secrecy::SecretString::from(PW)),
        },
        "test",
    )
    .await
    .unwrap()
    .id
}

async fn link(app: &TestApp, who: &str, idnat: &str) {
    users::link_rpps(
        &app.state,
        who,
        &IdNat::parse(idnat).unwrap(),
        LinkMethod::Admin,
        "test",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_rpps_link_is_unique_on_both_sides_and_audited() {
    let app = spawn_app().await;
    user(&app, "jdupont", "Jean", "Dupont").await;
    user(&app, "pmartin", "Paul", "Martin").await;
    link(&app, "jdupont", "810001045367").await;
    let id = IdNat::parse("810001045367").unwrap();
    let again = users::link_rpps(&app.state, "pmartin", &id, LinkMethod::Admin, "t").await;
    assert!(again.unwrap_err().to_string().contains("already linked"));
    let twice = users::link_rpps(
        &app.state,
        "jdupont",
        &IdNat::parse("0012600631").unwrap(),
        LinkMethod::CpsCard,
        "t",
    )
    .await;
    assert!(twice.unwrap_err().to_string().contains("unlink-rpps"));
    let structure = IdNat::parse("3760021832/000000018").unwrap();
    assert!(
        users::link_rpps(&app.state, "pmartin", &structure, LinkMethod::Admin, "t")
            .await
            .is_err()
    );
    let old = users::unlink_rpps(&app.state, "jdupont", "test")
        .await
        .unwrap();
    assert_eq!(old.idnat, "810001045367");
    link(&app, "pmartin", "810001045367").await;
    assert_eq!(app.audit("rpps_linked").await.len(), 2);
    assert_eq!(app.audit("rpps_unlinked").await.len(), 1);
}

#[tokio::test]
async fn reconciliation_classifies_links_and_professionals_here() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&settings(
        "[reconcile]\nsuspend_broken_links_after_days = 2\n",
    ))
    .await;
    let ok = user(&app, "jdupont", "Jean", "Dupont").await;
    let gone = user(&app, "agone", "Anne", "Gone").await;
    let away = user(&app, "pmartin", "Paul", "Martin").await;
    let unlinked = user(&app, "sdurand", "Sophie", "Durand").await;
    link(&app, "jdupont", "810000000011").await;
    link(&app, "agone", "810000000029").await;
    link(&app, "pmartin", "810000000037").await;
    let first = vec![
        line("810000000011", "DUPONT", "JEAN", "10", HERE),
        line("810000000037", "MARTIN", "PAUL", "60", "130000000"),
        line("810000000045", "DURAND", "SOPHIE", "60", HERE),
        line("810000000052", "DURAND", "SIMON", "10", HERE),
    ];
    import_rpps(&app, dir.path(), "one.txt", &first).await;
    let report = reconcile::reconcile(&app.state.repository()).await.unwrap();
    let of = |c: Category| -> Vec<(Option<String>, Option<String>)> {
        report
            .findings
            .iter()
            .filter(|f| f.category == c)
            .map(|f| (f.identity_id.clone(), f.idnat.clone()))
            .collect()
    };
    assert_eq!(
        of(Category::LinkedOk),
        vec![(Some(ok.clone()), Some("810000000011".into()))]
    );
    assert_eq!(
        of(Category::LinkedIdnatUnknown),
        vec![(Some(gone.clone()), Some("810000000029".into()))]
    );
    assert_eq!(
        of(Category::LinkedNoActivityHere),
        vec![(Some(away.clone()), Some("810000000037".into()))]
    );
    let onboarding: Vec<_> = of(Category::OnboardingCandidate)
        .into_iter()
        .map(|f| f.1.unwrap())
        .collect();
    assert_eq!(
        onboarding,
        vec!["810000000045".to_owned(), "810000000052".to_owned()]
    );
    let regulated = report
        .findings
        .iter()
        .find(|f| f.category == Category::UnlinkedRegulated)
        .expect("Sophie Durand is flagged");
    assert_eq!(regulated.identity_id.as_deref(), Some(unlinked.as_str()));
    let suggestions = regulated.detail["suggestions"].as_array().unwrap();
    assert_eq!(suggestions[0]["idnat"], "810000000045", "exact name first");
    assert_eq!(suggestions[0]["score"], 3);
    assert_eq!(suggestions[1]["idnat"], "810000000052");
    assert!(
        trousseau::storage::links::of_identity(app.state.db.pool(), &unlinked)
            .await
            .unwrap()
            .is_none(),
        "never linked on a name alone"
    );

    // A day later: the profession of Jean Dupont changed; the broken links are still in their
    // grace period.
    app.clock.advance(86_400);
    let mut second = first.clone();
    second[0] = line("810000000011", "DUPONT", "JEAN", "21", HERE);
    import_rpps(&app, dir.path(), "two.txt", &second).await;
    let report = reconcile::reconcile(&app.state.repository()).await.unwrap();
    let changed = report
        .findings
        .iter()
        .find(|f| f.category == Category::Changed)
        .expect("a change");
    assert_eq!(changed.identity_id.as_deref(), Some(ok.as_str()));
    assert!(report.suspended.is_empty());
    let broken = report
        .findings
        .iter()
        .find(|f| f.category == Category::LinkedIdnatUnknown)
        .unwrap();
    assert_eq!(
        broken.first_seen + 86_400,
        app.clock.now(),
        "first_seen is kept"
    );

    // Past the grace period, the policy suspends the broken links.
    app.clock.advance(2 * 86_400);
    let report = reconcile::reconcile(&app.state.repository()).await.unwrap();
    let mut suspended = report.suspended.clone();
    suspended.sort();
    let mut expected = vec![gone.clone(), away.clone()];
    expected.sort();
    assert_eq!(suspended, expected);
    let g = trousseau::storage::identities::by_id(app.state.db.pool(), &gone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (g.status.as_str(), g.status_reason.as_deref()),
        ("suspended", Some("rpps_link_broken"))
    );
    assert_eq!(app.audit("rpps_reconciled").await.len(), 3);
    assert!(!app.audit("rpps_finding").await.is_empty());
}

#[tokio::test]
async fn the_rpps_scope_gives_subject_ref_pro_in_id_token_and_userinfo() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&settings("")).await;
    user(&app, "jdupont", "Jean", "Dupont").await;
    link(&app, "jdupont", "810000000011").await;
    import_rpps(
        &app,
        dir.path(),
        "one.txt",
        &[
            line("810000000011", "DUPONT", "JEAN", "10", HERE),
            line("810000000011", "DUPONT", "JEAN", "10", "130000000"),
        ],
    )
    .await;
    let mut spec = app.spec("dpi");
    spec.scopes.push("rpps".into());
    let rp = app.register(spec).await;
    let (url, verifier) = crate::helpers::authorize_url(&app, &rp, &[]);
    let url = url.replace("scope=openid+profile+email", "scope=openid+profile+rpps");
    let mut browser = app.browser();
    let back = authorize(&mut browser, &url, Some(("jdupont", PW))).await;
    let code = query_param(&back, "code").expect("a code");
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["SubjectNameID"], "810000000011");
    assert_eq!(id["preferred_username"], "jdupont");
    let pro = &id["SubjectRefPro"];
    assert_eq!(pro["codeCivilite"], "M");
    let ex = &pro["exercices"][0];
    assert_eq!(ex["codeProfession"], "10");
    assert_eq!(ex["codeCategorieProfessionnelle"], "C");
    assert_eq!(ex["nomDexercice"], "DUPONT");
    assert_eq!(ex["codeSavoirFaire"], "SM54");
    let acts = ex["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 1, "only the activity here: {acts:?}");
    assert_eq!(acts[0]["numeroFinessSite"], HERE);
    assert_eq!(acts[0]["numeroFinessetablissementJuridique"], "750712000");
    assert_eq!(acts[0]["codeSecteurDactivite"], "SA01");
    assert_eq!(acts[0]["codePostal"], "75013");

    let info: Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["SubjectNameID"], "810000000011");
    assert_eq!(info["SubjectRefPro"], *pro);

    let discovery: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&"rpps".into())
    );
}

#[tokio::test]
async fn the_rpps_job_polls_a_url_imports_once_and_reconciles() {
    // The zip the ANS distributes, holding the extraction.
    let txt = rpps_file(&[line("810000000011", "DUPONT", "JEAN", "10", HERE)]);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "PS_LibreAcces_Personne_activite_202605010000.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, txt.as_bytes()).unwrap();
    let body = zip.finish().unwrap().into_inner();
    let peer = HttpPeer::start(move |_| Reply::ok("text/plain", body.clone())).await;
    let url = peer.url("/PS_LibreAcces_Personne_activite.txt");
    let app = spawn_app_with(&settings(&format!(
        "[sync.rpps]\nsource = \"{url}\"\ninterval_secs = 86400\n"
    )))
    .await;
    user(&app, "jdupont", "Jean", "Dupont").await;
    link(&app, "jdupont", "810000000011").await;
    let importer = sync::rpps_importer();
    // `serve` may have started the job already: wait for its lease to be free.
    let out = wait::value("the RPPS job lease", || async {
        let out = sync::run_rpps_once(&app.state.repository(), "node-test", &importer)
            .await
            .unwrap();
        (out != JobOutcome::Busy).then_some(out)
    })
    .await;
    assert_ne!(out, JobOutcome::Busy);
    let person = rpps_scope::person(app.state.db.pool(), "810000000011")
        .await
        .unwrap();
    assert_eq!(person.unwrap().last_name, "DUPONT");
    assert_eq!(
        sync::run_rpps_once(&app.state.repository(), "node-test", &importer)
            .await
            .unwrap(),
        JobOutcome::Unchanged,
        "same content: not imported again"
    );
    assert!(peer.count() >= 2);
    if let JobOutcome::Done(summary) = &out {
        assert!(summary.contains("reconciliation"), "{summary}");
    }
    assert!(!app.audit("rpps_reconciled").await.is_empty());
}
