//! The Pro Santé Connect part of `trousseau demo`: a PSC sandbox served in the same process on
//! the next port but ten, its professionals from a small RPPS file written here (the demo user
//! is one of them), and Trousseau's `[psc]` pointed at it, so that pairing with e-CPS and the
//! e-CPS login can be tried at once.

use std::path::Path;

use crate::directory::rpps::header::{HEADER_56, line_56 as rpps_line};
use crate::sandbox::psc::SandboxSettings;

/// The demo professional's national identity (an RPPS number with its type prefix).
pub const DEMO_IDNAT: &str = "810001045367";

/// The sandbox's client secret for the demo's Trousseau (a throw-away value).
const SECRET: &str = "demo-sandbox-secret";

/// The PSC sandbox of one demo run.
pub struct DemoPsc {
    /// The sandbox's base URL (its `/ecps` phone page is here).
    pub base: String,
    /// Trousseau's `[psc]` section for this sandbox.
    pub overrides: String,
    settings: SandboxSettings,
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
    /// Writes the sandbox's files into `dir` and reads its configuration; Trousseau serves
    /// `trousseau_base` on `port`, the sandbox listens on `port + 10`.
    pub fn prepare(dir: &Path, trousseau_base: &str, port: u16) -> anyhow::Result<DemoPsc> {
        let psc_port = port
            .checked_add(10)
            .ok_or_else(|| anyhow::anyhow!("port {port}: no room for the PSC sandbox"))?;
        let base = format!("http://127.0.0.1:{psc_port}");
        std::fs::write(dir.join("rpps-demo.txt"), rpps_file())?;
        std::fs::write(dir.join("psc-secret"), SECRET)?;
        let config = format!(
            "issuer = \"{base}\"\ndatabase = \":memory:\"\nprofessionals_file = \"rpps-demo.txt\"\n\
             ciba_expires_in = 180\nciba_interval = 2\n\n\
             [[clients]]\nclient_id = \"trousseau-demo\"\nsecret = \"{SECRET}\"\n\
             redirect_uris = [\"{trousseau_base}/psc/callback\"]\n\
             post_logout_redirect_uris = [\"{trousseau_base}/\"]\n"
        );
        let path = dir.join("psc-sandbox.toml");
        std::fs::write(&path, config)?;
        let settings = SandboxSettings::load(&path)?;
        let overrides = format!(
            "[psc]\nenabled = true\nenvironment = \"local\"\n\
             issuer = \"{base}/auth/realms/esante-wallet\"\nclient_id = \"trousseau-demo\"\n\
             client_secret_file = \"{secret}\"\n",
            secret = dir.join("psc-secret").display(),
        );
        Ok(DemoPsc {
            base,
            overrides,
            settings,
            bind: format!("127.0.0.1:{psc_port}"),
        })
    }

    /// Serves the sandbox in the background of this process, loopback only.
    pub fn spawn(self) {
        let DemoPsc { settings, bind, .. } = self;
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

    #[test]
    fn the_demo_files_make_a_valid_sandbox_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let psc = DemoPsc::prepare(dir.path(), "http://localhost:8080", 8080).unwrap();
        assert_eq!(psc.base, "http://127.0.0.1:8090");
        assert!(psc.overrides.contains("environment = \"local\""));
        assert!(crate::identity::IdNat::parse(DEMO_IDNAT).is_ok());
        let directory =
            crate::sandbox::psc::directory::Directory::load(&psc.settings.professionals_file)
                .unwrap();
        let idnat = crate::identity::IdNat::parse(DEMO_IDNAT).unwrap();
        assert!(
            directory.get(&idnat).is_some(),
            "the demo user is a professional"
        );
    }
}
