//! `trousseau demo`: a throw-away Trousseau on a temporary SQLite database with a demo user, a
//! one-time key enrolment code, the demo DPI ([`crate::demo::dpi`]) under `/demo`, and a Pro
//! Santé Connect sandbox in the same process ([`super::demo_psc`]) for e-CPS pairing and login,
//! whose broker federates this Trousseau for the demo national service "DMP (démonstration)"
//! ([`crate::demo::dmp`], under `/demo/dmp`). It prints the walk-through, in French.

use secrecy::SecretString;
use std::sync::Arc;

use super::demo_psc::{DEMO_IDNAT, DemoPsc};
use crate::admin::clients::{self, ClientSpec};
use crate::admin::users::{self, NewUser};
use crate::app::Application;
use crate::authn::webauthn::enrolment::IdentityCheckInput;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::demo::{DemoApps, DemoRp, PASSWORD};
use crate::identity::{AdminRole, IdNat, IdentityDocument, LinkMethod};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::state::AppState;

/// Starts the demo and blocks until Ctrl+C.
pub async fn run(port: u16) -> anyhow::Result<()> {
    let dir =
        std::env::temp_dir().join(format!("trousseau-demo-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let base = format!("http://localhost:{port}");
    let psc = DemoPsc::prepare(&dir, &base, port)?;
    let overrides = format!(
        "{psc_section}[http]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n[database]\nurl = \"sqlite://{db}\"\n[secrets]\nmaster_key_file = \"{key}\"\n[webauthn]\nallow_unattested = true\n",
        db = dir.join("trousseau.db").display(),
        key = dir.join("master.key").display(),
        psc_section = psc.overrides,
    );
    let settings = Settings::from_overrides(&overrides)?;
    crate::telemetry::init(&settings.logging);
    // Register the demo user and client through the same code as the CLI, then serve.
    let (db, master) = crate::app::open(&settings).await?;
    let (state, writer) =
        AppState::new(settings.clone(), db, master, Arc::new(SystemClock)).await?;
    users::create(
        &state,
        NewUser {
            username: "demo".into(),
            given_name: "Camille".into(),
            family_name: "Démo".into(),
            email: Some("camille.demo@chu.example".into()),
            password: Some(SecretString::from(PASSWORD)),
        },
        "demo",
    )
    .await?;
    // The demo user is the sandbox's demo physician, linked as an administrator would.
    let idnat = IdNat::parse(DEMO_IDNAT)?;
    users::link_rpps(&state, "demo", &idnat, LinkMethod::Admin, "demo").await?;
    // The demo user may open the administration console (with a security key: loa3).
    crate::admin::roles::add(&state, "demo", AdminRole::Admin, "demo").await?;
    let spec = ClientSpec {
        id: "demo-dpi".into(),
        name: "DPI de démonstration".into(),
        redirect_uris: vec![format!("{base}/demo/callback")],
        post_logout_redirect_uris: vec![format!("{base}/demo")],
        public: false,
        grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(str::to_owned)
            .to_vec(),
        signing_alg: SigningAlg::Es256,
        backchannel_logout_uri: None,
        first_party: true,
        require_pkce: true,
        jwks: None,
        min_acr: None,
        max_auth_age: None,
        introspect: false,
        psc_broker: false,
    };
    // The demo records the identity check a helpdesk agent makes before handing a code over.
    let check = IdentityCheckInput {
        checked_by: "Accueil de la démonstration".into(),
        document: IdentityDocument::IdCard,
        remote: false,
    };
    let enrolment =
        crate::admin::keys::enrolment_code(&state, "demo", None, "demo", Some(&check)).await?;
    let secret = clients::create(&state, &spec, "demo")
        .await?
        .unwrap_or_default();
    // The sandbox's broker, a client of this Trousseau; then the sandbox knows its secret.
    let broker_secret = clients::create(&state, &psc.broker_client(), "demo")
        .await?
        .unwrap_or_default();
    let sandbox = psc.sandbox_settings(&broker_secret)?;
    let dmp = psc.dmp(&settings.psc, state.db.clone())?;
    writer.shutdown().await;
    let apps = DemoApps {
        dpi: DemoRp {
            client_id: spec.id,
            client_secret: secret,
            base: base.clone(),
        },
        dmp: Some(dmp),
    };
    let psc_base = psc.base.clone();
    psc.spawn(sandbox);
    let app = Application::build(settings, Arc::new(SystemClock), Some(apps)).await?;
    print!(
        "{}",
        walk_through(
            &base,
            &psc_base,
            &enrolment.code,
            &dir.display().to_string()
        )
    );
    app.run_until_stopped().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// What `trousseau demo` prints: the accounts, then the walk-through, in French.
fn walk_through(base: &str, psc: &str, code: &str, dir: &str) -> String {
    format!(
        "
  Démonstration de Trousseau (données temporaires dans {dir}).

  Compte de démonstration : identifiant « demo », mot de passe « {PASSWORD} »
  (Camille Démo, médecin, IdNat {DEMO_IDNAT}).
  Code d'enrôlement d'une clé de sécurité, à usage unique : {code}
  Pro Santé Connect (bac à sable) : {psc}
  Téléphone e-CPS du bac à sable : {psc}/ecps

  Parcours :
   1. Enrôlez une clé de sécurité : {base}/keys/enrol, avec le code ci-dessus.
   2. Ouvrez le DPI de démonstration : {base}/demo
      « Se connecter avec Trousseau », puis « Se connecter avec une clé de sécurité ».
      Le DPI affiche le jeton d'identité vérifié.
   3. Ouvrez le DMP (démonstration) : {base}/demo/dmp
      « Ouvrir le DMP avec Pro Santé Connect » : Pro Santé Connect renvoie vers Trousseau,
      qui ne redemande rien (la session du DPI suffit).
   4. La première fois, Trousseau demande l'appairage avec e-CPS ({base}/pairing) :
      « Appairer avec l'application e-CPS », puis sur le téléphone {psc}/ecps
      saisissez l'IdNat {DEMO_IDNAT}, vérifiez le code à deux chiffres et approuvez ;
      revenez sur la page d'appairage et cliquez sur « Continuer ».
   5. Pro Santé Connect affiche « Appairage de votre compte d'établissement » :
      choisissez l'IdNat {DEMO_IDNAT}, « Envoyer la demande à l'application e-CPS »,
      approuvez de nouveau sur {psc}/ecps.
      Le DMP affiche « Bienvenue dans le DMP (démonstration) ».
   6. Rouvrez le DMP ({base}/demo/dmp) : plus d'appairage ni de téléphone.
   7. Console d'administration : {base}/admin (le compte demo a le rôle admin ;
      la console exige une connexion par clé de sécurité).

  API d'administration : {base}/admin/api/v1/openapi.json (document OpenAPI 3.1).

  Avec le seul mot de passe, Trousseau demande une clé de sécurité avant de répondre
  à Pro Santé Connect (authentification résistante à l'hameçonnage exigée).
  Connexion par e-CPS : « Se connecter avec e-CPS » sur la page de connexion de Trousseau.
  Découverte OpenID Connect : {base}/.well-known/openid-configuration
  Ctrl+C pour arrêter.

"
    )
}
