//! The Pro Santé Connect part of `trousseau demo`: a PSC sandbox served in the same process on
//! the next port but ten, its professionals from a small RPPS file written here (the demo user
//! is one of them), and Trousseau's `[psc]` pointed at it, so that pairing with e-CPS and the
//! e-CPS login can be tried at once. The federation too: Trousseau registers the sandbox's
//! broker as its PSC client (`--psc-broker`), the sandbox knows this Trousseau as the broker
//! `trousseau`, and the demo national service "DMP (démonstration)" is a client of the sandbox
//! that asks for it (`kc_idp_hint=trousseau`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;

use crate::admin::clients::ClientSpec;
use crate::config::PscSettings;
use crate::demo::DemoDmp;
use crate::directory::rpps::header::{HEADER_56, line_56 as rpps_line};
use crate::oidc::client::GrantType;
use crate::oidc::keys::SigningAlg;
use crate::psc::client::PscClient;
use crate::psc::protocol::Endpoints;
use crate::sandbox::psc::SandboxSettings;
use crate::storage::Db;

/// The demo professional's national identity (an RPPS number with its type prefix).
pub const DEMO_IDNAT: &str = "810001045367";

/// The sandbox's client secret for the demo's Trousseau (a throw-away value).
const SECRET: &str = "demo-sandbox-secret";

/// The sandbox's name for the demo's Trousseau (`kc_idp_hint`).
pub const BROKER_ALIAS: &str = "trousseau";
/// The sandbox's broker as a client of Trousseau.
pub const BROKER_CLIENT: &str = "psc";
/// The demo national service, a client of the sandbox.
pub const DMP_CLIENT: &str = "dmp-demo";
/// Its secret at the sandbox (a throw-away value).
const DMP_SECRET: &str = "demo-dmp-secret";
/// The tenant id Trousseau announces for the demo establishment.
pub const DEMO_TID: &str = "chu-demonstration";

/// The PSC sandbox of one demo run.
pub struct DemoPsc {
    /// The sandbox's base URL (its `/ecps` phone page is here).
    pub base: String,
    /// Trousseau's `[psc]` section for this sandbox, with `[psc.federation]`.
    pub overrides: String,
    dir: PathBuf,
    trousseau_base: String,
    bind: String,
}

/// The demo's RPPS file: the demo physician and a nurse.
fn rpps_file() -> String {
    let physician = rpps_line(&[
        (0, "8"),
        (1, &DEMO_IDNAT[1..]),
        (2, DEMO_IDNAT),
        (3, "DR"),
        (5, "MME"),
        (7, "DÉMO"),
        (8, "CAMILLE"),
        (9, "10"),
        (10, "Médecin"),
        (11, "C"),
        (13, "S"),
        (15, "SM54"),
        (17, "S"),
        (21, "750712184"),
        (22, "750712176"),
        (23, "F750712184"),
        (24, "CHU DE DÉMONSTRATION"),
        (35, "75013"),
        (48, "SA01"),
    ]);
    let nurse = rpps_line(&[
        (0, "8"),
        (2, "899700218896"),
        (5, "M"),
        (7, "DURAND"),
        (8, "PAUL"),
        (9, "60"),
        (11, "C"),
        (17, "S"),
        (24, "CHU DE DÉMONSTRATION"),
        (48, "SA01"),
    ]);
    format!("{HEADER_56}\n{physician}\n{nurse}\n")
}

impl DemoPsc {
    /// Writes the sandbox's professionals and Trousseau's PSC secret into `dir`; Trousseau
    /// serves `trousseau_base` on `port`, the sandbox listens on `port + 10`.
    pub fn prepare(dir: &Path, trousseau_base: &str, port: u16) -> anyhow::Result<DemoPsc> {
        let psc_port = port
            .checked_add(10)
            .ok_or_else(|| anyhow::anyhow!("port {port}: no room for the PSC sandbox"))?;
        let base = format!("http://127.0.0.1:{psc_port}");
        std::fs::write(dir.join("rpps-demo.txt"), rpps_file())?;
        std::fs::write(dir.join("psc-secret"), SECRET)?;
        let overrides = format!(
            "[psc]\nenabled = true\nenvironment = \"local\"\n\
             issuer = \"{issuer}\"\nclient_id = \"trousseau-demo\"\n\
             client_secret_file = \"{secret}\"\n\
             [psc.federation]\ntid = \"{DEMO_TID}\"\nrequire_pairing = true\n",
            issuer = Endpoints::sandbox(&base).issuer,
            secret = dir.join("psc-secret").display(),
        );
        Ok(DemoPsc {
            base,
            overrides,
            dir: dir.to_owned(),
            trousseau_base: trousseau_base.to_owned(),
            bind: format!("127.0.0.1:{psc_port}"),
        })
    }

    /// The sandbox's broker as Trousseau registers it: a `--psc-broker` client whose redirect
    /// URI is the broker's endpoint (Keycloak's form), first-party (no consent screen), with
    /// back-channel logout to the sandbox.
    pub fn broker_client(&self) -> ClientSpec {
        let issuer = Endpoints::sandbox(&self.base).issuer;
        ClientSpec {
            id: BROKER_CLIENT.into(),
            name: "Pro Santé Connect (bac à sable)".into(),
            redirect_uris: vec![format!("{issuer}/broker/{BROKER_ALIAS}/endpoint")],
            post_logout_redirect_uris: Vec::new(),
            public: false,
            grants: vec![GrantType::AuthorizationCode],
            scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
            signing_alg: SigningAlg::Es256,
            backchannel_logout_uri: Some(format!(
                "{issuer}/broker/{BROKER_ALIAS}/backchannel-logout"
            )),
            first_party: true,
            require_pkce: true,
            jwks: None,
            min_acr: None,
            max_auth_age: None,
            introspect: false,
            psc_broker: true,
        }
    }

    /// Writes the sandbox's configuration (its clients: Trousseau and the DMP; its broker: this
    /// Trousseau, with the secret of [`DemoPsc::broker_client`]) and reads it back.
    pub fn sandbox_settings(&self, broker_secret: &str) -> anyhow::Result<SandboxSettings> {
        let (base, trousseau) = (&self.base, &self.trousseau_base);
        let config = format!(
            "issuer = \"{base}\"\ndatabase = \":memory:\"\nprofessionals_file = \"rpps-demo.txt\"\n\
             ciba_expires_in = 180\nciba_interval = 2\n\n\
             [[clients]]\nclient_id = \"trousseau-demo\"\nsecret = \"{SECRET}\"\n\
             redirect_uris = [\"{trousseau}/psc/callback\"]\n\
             post_logout_redirect_uris = [\"{trousseau}/\"]\n\n\
             [[clients]]\nclient_id = \"{DMP_CLIENT}\"\nsecret = \"{DMP_SECRET}\"\n\
             redirect_uris = [\"{trousseau}/demo/dmp/callback\"]\n\
             post_logout_redirect_uris = [\"{trousseau}/demo/dmp\"]\n\n\
             [[brokers]]\nalias = \"{BROKER_ALIAS}\"\ntrousseau_issuer = \"{trousseau}\"\n\
             client_id = \"{BROKER_CLIENT}\"\nclient_secret = \"{broker_secret}\"\n"
        );
        let path = self.dir.join("psc-sandbox.toml");
        std::fs::write(&path, config)?;
        SandboxSettings::load(&path)
    }

    /// The demo national service: a PSC client with the DMP's credentials at the sandbox
    /// (`psc` is Trousseau's `[psc]`), its nonces kept in `db`.
    pub fn dmp(&self, psc: &PscSettings, db: Db) -> anyhow::Result<DemoDmp> {
        let mut settings = psc.clone();
        settings.client_id = DMP_CLIENT.into();
        settings.client_secret_file.clear();
        settings.client_secret = Some(SecretString::from(DMP_SECRET));
        let client = PscClient::new(&settings, Arc::new(crate::clock::SystemClock), db, None)?
            .ok_or_else(|| anyhow::anyhow!("the demo's [psc] is not enabled"))?;
        Ok(DemoDmp {
            client,
            base: self.trousseau_base.clone(),
            alias: BROKER_ALIAS.into(),
            end_session: Endpoints::sandbox(&self.base).end_session,
        })
    }

    /// Serves the sandbox in the background of this process, loopback only.
    pub fn spawn(self, settings: SandboxSettings) {
        let bind = self.bind;
        tokio::spawn(async move {
            if let Err(e) = crate::sandbox::psc::run(settings, &bind, false).await {
                eprintln!("trousseau demo: the PSC sandbox stopped: {e:#}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::identity::IdNat;

    #[test]
    fn the_demo_files_make_a_valid_sandbox_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let psc = DemoPsc::prepare(dir.path(), "http://localhost:8080", 8080).unwrap();
        assert_eq!(psc.base, "http://127.0.0.1:8090");
        let settings = psc.sandbox_settings("broker-secret").unwrap();
        let directory =
            crate::sandbox::psc::directory::Directory::load(&settings.professionals_file).unwrap();
        let idnat = IdNat::parse(DEMO_IDNAT).unwrap();
        assert!(
            directory.get(&idnat).is_some(),
            "the demo user is a professional"
        );

        // The DMP is a client of the sandbox, its pages on the demo's Trousseau.
        let dmp = settings.client(DMP_CLIENT).expect("the DMP is a client");
        assert_eq!(
            dmp.redirect_uris,
            ["http://localhost:8080/demo/dmp/callback"]
        );
        assert_eq!(
            dmp.post_logout_redirect_uris,
            ["http://localhost:8080/demo/dmp"]
        );
        assert!(settings.client("trousseau-demo").is_some());

        // The broker `trousseau` is this Trousseau, with the secret of its client `psc`, and
        // Trousseau's client `psc` sends the codes back to that broker's endpoint.
        let [broker] = settings.brokers.as_slice() else {
            panic!("one broker: {:?}", settings.brokers);
        };
        assert_eq!(broker.alias, BROKER_ALIAS);
        assert_eq!(broker.trousseau_issuer, "http://localhost:8080");
        assert_eq!(broker.client_id, BROKER_CLIENT);
        assert_eq!(broker.client_secret, "broker-secret");
        let spec = psc.broker_client();
        assert_eq!(spec.id, BROKER_CLIENT);
        assert!(spec.psc_broker && spec.first_party && !spec.public);
        assert_eq!(
            spec.redirect_uris,
            [format!(
                "http://127.0.0.1:8090{}/broker/trousseau/endpoint",
                crate::psc::protocol::REALM_PATH
            )]
        );

        // Trousseau's side: PSC is the sandbox, the federation announces the demo's tid and
        // keeps the pairing required (the walk-through shows the pairing).
        let trousseau = Settings::from_overrides(&format!(
            "{}[http]\npublic_url = \"http://localhost:8080\"\n",
            psc.overrides
        ))
        .unwrap();
        assert_eq!(
            trousseau.psc.issuer(),
            format!("http://127.0.0.1:8090{}", crate::psc::protocol::REALM_PATH)
        );
        assert_eq!(trousseau.psc.federation.tid_for(None, &[]), Some(DEMO_TID));
        assert!(trousseau.psc.federation.require_pairing);
        assert_eq!(trousseau.issuer(), broker.trousseau_issuer);
    }
}
