//! `trousseau demo`: a throw-away Trousseau on a temporary SQLite database with a demo user and
//! the demo relying party ([`crate::demo`]) under `/demo`, and a Pro Santé Connect sandbox in
//! the same process ([`super::demo_psc`]) for e-CPS pairing and login.

use secrecy::SecretString;
use std::sync::Arc;

use super::demo_psc::{DEMO_IDNAT, DemoPsc};
use crate::admin::clients::{self, ClientSpec};
use crate::admin::users::{self, NewUser};
use crate::app::Application;
use crate::authn::webauthn::enrolment::IdentityCheckInput;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::demo::{DemoRp, PASSWORD};
use crate::identity::{IdNat, IdentityDocument, LinkMethod};
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
    writer.shutdown().await;
    let rp = DemoRp {
        client_id: spec.id,
        client_secret: secret,
        base: base.clone(),
    };
    let psc_base = psc.base.clone();
    psc.spawn();
    let app = Application::build(settings, Arc::new(SystemClock), Some(rp)).await?;
    println!();
    println!(
        "  Trousseau demo is running (temporary data in {}).",
        dir.display()
    );
    println!();
    println!("  Open   {base}/demo");
    println!("  Sign in as   demo   with the password   {PASSWORD}");
    println!();
    println!(
        "  Enrol a security key at {base}/keys/enrol with the code   {}",
        enrolment.code
    );
    println!();
    println!("  Pro Santé Connect (bac à sable) on {psc_base}:");
    println!("    pair the account at {base}/pairing (\"Appairer avec l'application e-CPS\"),");
    println!("    then approve on the e-CPS phone page {psc_base}/ecps (IdNat {DEMO_IDNAT});");
    println!("    or sign in with \"Se connecter avec e-CPS\" on the login page.");
    println!();
    println!("  Discovery: {base}/.well-known/openid-configuration");
    println!("  Press Ctrl+C to stop.");
    println!();
    app.run_until_stopped().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
