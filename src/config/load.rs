//! Loading: built-in defaults, an optional file, then `TROUSSEAU__SECTION__KEY` environment
//! variables; relative paths resolved against the file's folder.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use std::path::{Path, PathBuf};

use super::{ConfigError, PathResolution, Settings, sqlite_path};

/// The defaults compiled into the binary; `config/default.toml` is this very file.
pub const DEFAULTS: &str = include_str!("../../config/default.toml");

impl Settings {
    /// Loads defaults, then `file` if given, then the environment. With a file, relative paths
    /// (whichever layer gave them) resolve against the file's folder, not the working directory.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        let mut base = None;
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "the file {} does not exist; give an existing file to --config",
                    path.display()
                )));
            }
            base = std::path::absolute(path)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            if base.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "cannot tell the folder of the configuration file {}",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("TROUSSEAU__").split("__"));
        Self::from_figment(figment, base.as_deref())
    }

    /// Loads defaults with the given TOML overrides on top (tests and the demo).
    pub fn from_overrides(toml: &str) -> Result<Settings, ConfigError> {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(toml));
        Self::from_figment(figment, None)
    }

    fn from_figment(figment: Figment, base: Option<&Path>) -> Result<Settings, ConfigError> {
        // The PSC client secret may come from the environment only, never a file.
        if let Some(md) = figment.find_metadata("psc.client_secret")
            && !md.name.contains("environment")
        {
            return Err(ConfigError::Key {
                key: "psc.client_secret".to_owned(),
                message: "a secret is never written in a configuration file: put it in the file \
                          named by psc.client_secret_file, or in TROUSSEAU__PSC__CLIENT_SECRET"
                    .to_owned(),
            });
        }
        let mut settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            let message = e.kind.to_string();
            if key.is_empty() {
                ConfigError::Invalid(message)
            } else {
                ConfigError::Key { key, message }
            }
        })?;
        if let Some(base) = base {
            settings.resolve_paths(base);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Makes every relative file path absolute against `base` (the configuration's folder).
    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &Path| -> PathBuf {
            if p.as_os_str().is_empty() || p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let join_text = |s: &str| -> String {
            if s.trim().is_empty() {
                s.to_owned()
            } else {
                join(Path::new(s)).to_string_lossy().into_owned()
            }
        };
        let mut moved = Vec::new();
        if let Some((path, query)) = sqlite_path(&self.database.url)
            && Path::new(path).is_relative()
            && path != ":memory:"
        {
            let resolved = base.join(path);
            moved.push(("database.url", resolved.clone(), PathBuf::from(path)));
            self.database.url = match query {
                Some(q) => format!("sqlite://{}?{q}", resolved.to_string_lossy()),
                None => format!("sqlite://{}", resolved.to_string_lossy()),
            };
        }
        let key = &self.secrets.master_key_file;
        if key.is_relative() && !key.as_os_str().is_empty() {
            moved.push(("secrets.master_key_file", base.join(key), key.clone()));
        }
        self.secrets.master_key_file = join(&self.secrets.master_key_file);
        self.audit.checkpoint_file = join(&self.audit.checkpoint_file);
        for m in &mut self.webauthn.models {
            m.root = join(&m.root);
        }
        self.ldap.ca_file = join_text(&self.ldap.ca_file);
        self.ldap.service_password_file = join_text(&self.ldap.service_password_file);
        self.sync.hr.folder = join_text(&self.sync.hr.folder);
        let source = self.sync.rpps.source.trim();
        if !(source.starts_with("http://") || source.starts_with("https://")) {
            self.sync.rpps.source = join_text(source);
        }
        let c = &mut self.cps;
        for list in [&mut c.anchors, &mut c.intermediates, &mut c.crl_files] {
            for p in list.iter_mut() {
                *p = join(p);
            }
        }
        c.tls.cert_file = join_text(&c.tls.cert_file);
        c.tls.key_file = join_text(&c.tls.key_file);
        let p = &mut self.psc;
        for f in [
            &mut p.client_secret_file,
            &mut p.tls_cert_file,
            &mut p.tls_key_file,
            &mut p.ca_file,
        ] {
            *f = join_text(f);
        }
        self.paths = PathResolution {
            base: Some(base.to_path_buf()),
            moved,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        let s = Settings::from_overrides("").expect("defaults are valid");
        assert_eq!(s.http.bind, "127.0.0.1:8080");
        assert_eq!(s.issuer(), "http://localhost:8080");
        assert_eq!(s.session.absolute_secs, 4 * 3600);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Settings::from_overrides("[http]\nbindd = \"x\"").unwrap_err();
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    #[test]
    fn bad_finess_is_named() {
        let err = Settings::from_overrides("[establishment]\nfiness = [\"750712184\", \"12\"]")
            .unwrap_err();
        assert!(err.to_string().contains("establishment.finess"), "{err}");
        let ok = Settings::from_overrides("[establishment]\nfiness = [\"750712184\"]").unwrap();
        assert_eq!(ok.establishment.finess[0].as_str(), "750712184");
    }

    #[test]
    fn psc_settings_are_checked() {
        let err = Settings::from_overrides("[psc]\nclient_secret = \"s3cret\"").unwrap_err();
        assert!(err.to_string().contains("psc.client_secret"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = Settings::from_overrides("[psc]\nenabled = true\nclient_id = \"c\"").unwrap_err();
        assert!(err.to_string().contains("psc.issuer"), "{err}");
        let err = Settings::from_overrides(
            "[psc]\nenabled = true\nenvironment = \"bas\"\nclient_id = \"c\"",
        )
        .unwrap_err();
        assert!(err.to_string().contains("psc.client_secret_file"), "{err}");
        let err = Settings::from_overrides("[psc]\nenvironment = \"staging\"").unwrap_err();
        assert!(err.to_string().contains("psc.environment"), "{err}");
        let err = Settings::from_overrides("[psc.pairing]\nwarn_days = 400").unwrap_err();
        assert!(err.to_string().contains("psc.pairing.warn_days"), "{err}");
        let ok = Settings::from_overrides("").unwrap();
        assert!(!ok.psc.enabled);
        assert_eq!(
            ok.psc.issuer(),
            "",
            "local needs an issuer; nothing is made up"
        );
    }

    #[test]
    fn cps_settings_are_checked() {
        let err = Settings::from_overrides("[cps.proxy]\ntrusted = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(err.to_string().contains("cps.proxy.trusted"), "{err}");
        let err = Settings::from_overrides("[cps]\nenabled = true").unwrap_err();
        assert!(err.to_string().contains("cps.anchors"), "{err}");
        let err = Settings::from_overrides("[cps]\ncrl_stale = \"maybe\"").unwrap_err();
        assert!(err.to_string().contains("cps.crl_stale"), "{err}");
        let ok = Settings::from_overrides("").unwrap();
        assert!(!ok.cps.enabled);
    }

    #[test]
    fn metrics_settings_are_checked() {
        let ok = Settings::from_overrides("").unwrap();
        assert_eq!(ok.metrics.allow, ["127.0.0.1", "::1"]);
        assert!(ok.metrics.bind.is_empty());
        let err = Settings::from_overrides("[metrics]\nallow = [\"10.0.0.0/33\"]").unwrap_err();
        assert!(err.to_string().contains("metrics.allow"), "{err}");
        let err = Settings::from_overrides("[metrics]\nbind = \"9100\"").unwrap_err();
        assert!(err.to_string().contains("metrics.bind"), "{err}");
        let err = Settings::from_overrides("[metrics]\nbind = \"127.0.0.1:8080\"").unwrap_err();
        assert!(err.to_string().contains("metrics.bind"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let ok =
            Settings::from_overrides("[http]\ntrusted_proxies = [\"10.0.0.1\", \"10.42.0.0/16\"]")
                .unwrap();
        assert_eq!(ok.http.trusted_networks().len(), 2);
        let err =
            Settings::from_overrides("[http]\ntrusted_proxies = [\"proxy.chu\"]").unwrap_err();
        assert!(err.to_string().contains("http.trusted_proxies"), "{err}");
        let err =
            Settings::from_overrides("[http]\ntrusted_proxies = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(err.to_string().contains("http.trusted_proxies"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_configuration_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trousseau.toml");
        std::fs::write(
            &file,
            "[database]\nurl = \"sqlite://data/t.db?mode=rwc\"\n[sync.hr]\nfolder = \"rh\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file)).unwrap();
        let base = dir.path().display();
        assert_eq!(
            s.database.url,
            format!("sqlite://{base}/data/t.db?mode=rwc")
        );
        assert_eq!(
            s.secrets.master_key_file,
            dir.path().join("data/master.key")
        );
        assert_eq!(s.sync.hr.folder, format!("{base}/rh"));
        assert_eq!(s.paths.moved.len(), 2);
        let defaults = Settings::from_overrides("").unwrap();
        assert_eq!(defaults.database.url, "sqlite://data/trousseau.db");
        assert!(defaults.paths.base.is_none());
    }

    #[test]
    fn bad_value_is_named() {
        let err = Settings::from_overrides("[session]\nidle_secs = -1").unwrap_err();
        assert!(err.to_string().contains("session.idle_secs"), "{err}");
        let err = Settings::from_overrides("[database]\nmigrate = \"perhaps\"").unwrap_err();
        assert!(err.to_string().contains("database.migrate"), "{err}");
    }
}
