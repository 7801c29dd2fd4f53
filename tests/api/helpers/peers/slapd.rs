//! OpenLDAP slapd started per test.
//!
//! [`Slapd::start`] runs Debian's `/usr/sbin/slapd` (2.5) in a temporary directory, on two free
//! loopback ports (`ldap://` with StartTLS, and `ldaps://`), with a test CA and a server
//! certificate made here, the configuration `tests/peers/slapd/slapd.conf.in` and the AD-like
//! schema `tests/peers/slapd/ad-lite.schema`. The `memberof` + `refint` overlays maintain
//! `memberOf`; the `ppolicy` overlay (when the module is installed) lets a test force a
//! password change. The process is killed when the [`Slapd`] is dropped.
//!
//! Observed behaviour of slapd 2.5 (Debian 12), checked by the self-tests at the bottom:
//! - a user whose entry has `pwdReset: TRUE` under a policy with `pwdMustChange: TRUE` still
//!   binds successfully (result code 0). When the bind carries the password policy request
//!   control, the response control carries the error `changeAfterReset` (2). Every later
//!   operation on that connection except bind, unbind, abandon, StartTLS, WhoAmI and the
//!   password modify extended operation fails with `insufficientAccess` (50), text
//!   "Operations are restricted to bind/unbind/abandon/StartTLS/modify password". The user
//!   changing their own password (password modify) removes `pwdReset`.
//! - a password set by the administrator (password modify or a modify of `userPassword`) sets
//!   `pwdReset: TRUE` by itself when the user's policy has `pwdMustChange: TRUE`. That is why
//!   the default policy here has `pwdMustChange: FALSE` and [`Slapd::force_password_change`]
//!   moves the user to the `cn=must-change` policy.

use crate::helpers::skip::skip;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Debian's slapd binary.
pub const SLAPD: &str = "/usr/sbin/slapd";
/// Debian's slapd module directory.
pub const MODULE_DIR: &str = "/usr/lib/ldap";
/// Debian's schema directory.
pub const SCHEMA_DIR: &str = "/etc/ldap/schema";
/// The OID of the password policy request/response control (draft-behera-ldap-password-policy).
pub const PPOLICY_CONTROL_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// A running slapd with a fresh `dc=chu,dc=local` directory: the base entry, `ou=people`,
/// `ou=groups` and (with ppolicy) `ou=policies`.
pub struct Slapd {
    /// `ldap://127.0.0.1:PORT` (plain LDAP, StartTLS available).
    pub ldap_url: String,
    /// `ldaps://127.0.0.1:PORT`.
    pub ldaps_url: String,
    /// The test CA certificate (PEM file) that signed the server certificate.
    pub ca_file: PathBuf,
    /// The test CA certificate, PEM.
    pub ca_pem: String,
    /// `dc=chu,dc=local`.
    pub base_dn: String,
    /// `ou=people,dc=chu,dc=local`: where [`Slapd::add_user`] puts users.
    pub people_dn: String,
    /// `ou=groups,dc=chu,dc=local`: where [`Slapd::add_group`] puts groups.
    pub groups_dn: String,
    /// `cn=admin,dc=chu,dc=local`: the rootdn.
    pub admin_dn: String,
    /// The rootdn's password.
    pub admin_password: String,
    /// Whether the ppolicy overlay is loaded.
    pub ppolicy: bool,
    ca_der: Vec<u8>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// Where the slapd template and schemas live in the repository.
fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/slapd")
}

/// Two distinct free loopback ports (both listeners are held until both are chosen).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    (
        a.local_addr().expect("addr").port(),
        b.local_addr().expect("addr").port(),
    )
}

/// Deletes the lines from `# BEGIN name` to `# END name` (both included).
fn strip_block(conf: &str, name: &str) -> String {
    let (begin, end) = (format!("# BEGIN {name}"), format!("# END {name}"));
    let mut out = String::new();
    let mut skipping = false;
    for line in conf.lines() {
        if line.trim() == begin {
            skipping = true;
        } else if line.trim() == end {
            skipping = false;
        } else if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A rustls client configuration trusting only the given CA certificate (DER).
pub fn tls_config_for(ca_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der.to_vec()))
        .expect("CA certificate");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// Opens a connection to `url` (`ldap://` or `ldaps://`) trusting `tls` and drives it on the
/// current Tokio runtime. With `starttls`, an `ldap://` connection is upgraded first.
pub async fn connect_with(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    starttls: bool,
) -> ldap3::result::Result<Ldap> {
    let settings = LdapConnSettings::new()
        .set_config(tls)
        .set_starttls(starttls)
        .set_conn_timeout(Duration::from_secs(5));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// Binds `ldap` as an administrator (test set-up: any failure stops the test).
pub async fn bind_admin(mut ldap: Ldap, dn: &str, password: &str) -> Ldap {
    ldap.simple_bind(dn, password)
        .await
        .expect("admin bind request")
        .success()
        .unwrap_or_else(|e| panic!("admin bind as {dn}: {e}"));
    ldap
}

/// Makes a CA and a server certificate for localhost / 127.0.0.1. Returns
/// (CA PEM, CA DER, server certificate PEM, server key PEM).
fn make_certificates(ca_name: &str) -> (String, Vec<u8>, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    (
        ca_cert.pem(),
        ca_cert.der().to_vec(),
        cert.pem(),
        key.serialize_pem(),
    )
}

/// Waits until `addr` accepts TCP connections or the child exits. True when it accepts.
fn wait_listening(child: &mut Child, addrs: &[SocketAddr]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if addrs
            .iter()
            .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn set(values: &[&str]) -> HashSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl Slapd {
    /// Starts a fresh slapd on free loopback ports (chosen by binding `127.0.0.1:0`, retried on
    /// a collision) in a temporary directory, with a test CA and a server certificate
    /// (SAN `localhost`, `127.0.0.1`) made with rcgen, and creates the base entry, `ou=people`
    /// and `ou=groups` (and the password policies when ppolicy is available).
    ///
    /// Returns `None` when `/usr/sbin/slapd` is missing, after a `SKIP` line; under `CI=true` or
    /// `TROUSSEAU_REQUIRE_PEERS=1` it panics and tells to install slapd (`scripts/test-all`
    /// does it).
    pub async fn start() -> Option<Slapd> {
        if !Path::new(SLAPD).exists() {
            skip(&format!(
                "{SLAPD} is missing: install it with `apt-get install slapd ldap-utils` \
                 (scripts/test-all does it)"
            ));
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("trousseau-slapd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).expect("db dir");
        let (ca_pem, ca_der, cert_pem, key_pem) = make_certificates("Trousseau test LDAP CA");
        let ca_file = d.join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("write CA");
        std::fs::write(d.join("server.pem"), cert_pem).expect("write certificate");
        std::fs::write(d.join("server.key"), key_pem).expect("write key");

        let base_dn = "dc=chu,dc=local".to_owned();
        let admin_password = format!("admin-{}", uuid::Uuid::new_v4().simple());
        let ppolicy = Path::new(MODULE_DIR).join("ppolicy.la").exists()
            || Path::new(MODULE_DIR).join("ppolicy.so").exists();
        let template =
            std::fs::read_to_string(peers_dir().join("slapd.conf.in")).expect("slapd.conf.in");
        let mut conf = strip_block(&template, "bench");
        if !ppolicy {
            conf = strip_block(&conf, "ppolicy");
        }
        let path = |p: &Path| p.display().to_string();
        let conf = conf
            .replace("@DIR@", &path(d))
            .replace("@SCHEMA_DIR@", SCHEMA_DIR)
            .replace("@PEERS_DIR@", &path(&peers_dir()))
            .replace("@MODULE_DIR@", MODULE_DIR)
            .replace("@SUFFIX@", &base_dn)
            .replace("@ROOTPW@", &admin_password)
            .replace("@CERT@", &path(&d.join("server.pem")))
            .replace("@KEY@", &path(&d.join("server.key")))
            .replace("@CA@", &path(&ca_file));
        let conf_file = d.join("slapd.conf");
        std::fs::write(&conf_file, conf).expect("write slapd.conf");

        let mut started = None;
        for _attempt in 0..5 {
            let (p, q) = free_ports();
            let log = std::fs::File::create(d.join("slapd.log")).expect("log file");
            let mut child = Command::new(SLAPD)
                .arg("-f")
                .arg(&conf_file)
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{p}/ ldaps://127.0.0.1:{q}/"))
                // Any debug level keeps slapd in the foreground, as our child.
                .args(["-d", "0"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("spawn slapd");
            let addrs: [SocketAddr; 2] = [
                format!("127.0.0.1:{p}").parse().expect("addr"),
                format!("127.0.0.1:{q}").parse().expect("addr"),
            ];
            if wait_listening(&mut child, &addrs) {
                started = Some((child, p, q));
                break;
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default();
            if !log.contains("Address already in use") {
                panic!("slapd did not start:\n{log}");
            }
        }
        let (child, p, q) = started.expect("slapd: no free ports after 5 attempts");
        let slapd = Slapd {
            ldap_url: format!("ldap://127.0.0.1:{p}"),
            ldaps_url: format!("ldaps://127.0.0.1:{q}"),
            ca_file,
            ca_pem,
            people_dn: format!("ou=people,{base_dn}"),
            groups_dn: format!("ou=groups,{base_dn}"),
            admin_dn: format!("cn=admin,{base_dn}"),
            base_dn,
            admin_password,
            ppolicy,
            ca_der,
            child: Some(child),
            dir,
        };
        slapd.populate().await;
        Some(slapd)
    }

    /// The base entry, the organizational units and the password policies.
    async fn populate(&self) {
        let mut ldap = self.admin().await;
        let b = &self.base_dn;
        let mut entries: Vec<NewEntry> = vec![
            (
                b.clone(),
                vec![
                    ("objectClass".into(), set(&["dcObject", "organization"])),
                    ("dc".into(), set(&["chu"])),
                    ("o".into(), set(&["CHU"])),
                ],
            ),
            ou(&self.people_dn, "people"),
            ou(&self.groups_dn, "groups"),
        ];
        if self.ppolicy {
            entries.push(ou(&format!("ou=policies,{b}"), "policies"));
            for (cn, must_change) in [("default", "FALSE"), ("must-change", "TRUE")] {
                entries.push((
                    format!("cn={cn},ou=policies,{b}"),
                    vec![
                        (
                            "objectClass".into(),
                            set(&["organizationalRole", "pwdPolicy"]),
                        ),
                        ("cn".into(), set(&[cn])),
                        ("pwdAttribute".into(), set(&["userPassword"])),
                        ("pwdMustChange".into(), set(&[must_change])),
                        ("pwdAllowUserChange".into(), set(&["TRUE"])),
                    ],
                ));
            }
        }
        for (dn, attrs) in entries {
            ldap.add(&dn, attrs)
                .await
                .expect("add")
                .success()
                .unwrap_or_else(|e| panic!("add {dn}: {e}"));
        }
        let _ = ldap.unbind().await;
    }

    /// The directory's scratch directory (configuration, certificates, database, `slapd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A rustls client configuration that trusts the test CA only.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        tls_config_for(&self.ca_der)
    }

    /// An unbound connection to `url` (one of `ldap_url`, `ldaps_url`) trusting the test CA;
    /// with `starttls`, an `ldap://` connection is upgraded to TLS first.
    pub async fn connect(&self, url: &str, starttls: bool) -> ldap3::result::Result<Ldap> {
        connect_with(url, self.tls_config(), starttls).await
    }

    /// A connection bound as the rootdn (over `ldap://`; the rootdn ignores the ACLs).
    pub async fn admin(&self) -> Ldap {
        let ldap = self
            .connect(&self.ldap_url, false)
            .await
            .expect("connect to slapd");
        bind_admin(ldap, &self.admin_dn, &self.admin_password).await
    }

    /// Adds an `inetOrgPerson` + `trousseauADUser` under `people_dn` with `uid` and
    /// `sAMAccountName` = `sam`, `cn`, `givenName`, `sn`, `mail` = `sam@chu.local`,
    /// `userPrincipalName` = `sam@chu.local`, `userAccountControl: 512`, `employeeID` when
    /// given, and `userPassword` (given in the add, stored as {SSHA} by ppolicy's
    /// `ppolicy_hash_cleartext`; simple binds work either way; no `pwdReset`). Returns the DN.
    pub async fn add_user(
        &self,
        sam: &str,
        password: &str,
        given: &str,
        family: &str,
        employee_id: Option<&str>,
    ) -> String {
        let dn = format!("uid={},{}", ldap3::dn_escape(sam), self.people_dn);
        let upn = format!("{sam}@chu.local");
        let cn = format!("{given} {family}");
        let mut attrs: Vec<(String, HashSet<String>)> = vec![
            (
                "objectClass".into(),
                set(&["inetOrgPerson", "trousseauADUser"]),
            ),
            ("uid".into(), set(&[sam])),
            ("cn".into(), set(&[&cn])),
            ("givenName".into(), set(&[given])),
            ("sn".into(), set(&[family])),
            ("mail".into(), set(&[&upn])),
            ("sAMAccountName".into(), set(&[sam])),
            ("userPrincipalName".into(), set(&[&upn])),
            ("userAccountControl".into(), set(&["512"])),
            ("userPassword".into(), set(&[password])),
        ];
        if let Some(e) = employee_id {
            attrs.push(("employeeID".into(), set(&[e])));
        }
        let mut ldap = self.admin().await;
        ldap.add(&dn, attrs)
            .await
            .expect("add user")
            .success()
            .unwrap_or_else(|e| panic!("add {dn}: {e}"));
        let _ = ldap.unbind().await;
        dn
    }

    /// Adds a `groupOfNames` `cn` under `groups_dn` with these member DNs (users or groups:
    /// nesting). `groupOfNames` needs at least one member. Returns the DN.
    pub async fn add_group(&self, cn: &str, members: &[&str]) -> String {
        assert!(
            !members.is_empty(),
            "groupOfNames needs at least one member"
        );
        let dn = format!("cn={},{}", ldap3::dn_escape(cn), self.groups_dn);
        let mut ldap = self.admin().await;
        ldap.add(
            &dn,
            vec![
                ("objectClass".to_owned(), set(&["groupOfNames"])),
                ("cn".to_owned(), set(&[cn])),
                ("member".to_owned(), set(members)),
            ],
        )
        .await
        .expect("add group")
        .success()
        .unwrap_or_else(|e| panic!("add {dn}: {e}"));
        let _ = ldap.unbind().await;
        dn
    }

    /// Adds `member_dn` to the group `group_dn`.
    pub async fn add_member(&self, group_dn: &str, member_dn: &str) {
        self.modify(group_dn, vec![Mod::Add("member", set_str(&[member_dn]))])
            .await;
    }

    /// Replaces every value of `attr` on `dn` (no values: deletes the attribute). As the
    /// rootdn: replacing `userPassword` of a user under the `cn=must-change` policy sets
    /// `pwdReset`.
    pub async fn replace(&self, dn: &str, attr: &str, values: &[&str]) {
        self.modify(dn, vec![Mod::Replace(attr, set_str(values))])
            .await;
    }

    async fn modify(&self, dn: &str, mods: Vec<Mod<&str>>) {
        let mut ldap = self.admin().await;
        ldap.modify(dn, mods)
            .await
            .expect("modify")
            .success()
            .unwrap_or_else(|e| panic!("modify {dn}: {e}"));
        let _ = ldap.unbind().await;
    }

    /// Deletes the entry `dn` (refint removes it from the groups it was a member of).
    pub async fn delete(&self, dn: &str) {
        let mut ldap = self.admin().await;
        ldap.delete(dn)
            .await
            .expect("delete")
            .success()
            .unwrap_or_else(|e| panic!("delete {dn}: {e}"));
        let _ = ldap.unbind().await;
    }

    /// Forces the user to change their password at the next bind: puts the entry under the
    /// `cn=must-change` policy (`pwdMustChange: TRUE`) and sets `pwdReset: TRUE`. False when
    /// ppolicy is not available. See the module documentation for what a bind then does.
    pub async fn force_password_change(&self, dn: &str) -> bool {
        if !self.ppolicy {
            return false;
        }
        let policy = format!("cn=must-change,ou=policies,{}", self.base_dn);
        let mut ldap = self.admin().await;
        let res = ldap
            .modify(
                dn,
                vec![
                    Mod::Replace("pwdPolicySubentry", set_str(&[&policy])),
                    Mod::Replace("pwdReset", set_str(&["TRUE"])),
                ],
            )
            .await;
        let _ = ldap.unbind().await;
        matches!(res, Ok(r) if r.rc == 0)
    }

    /// The attributes `attrs` of the entry `dn`, read as the rootdn (`None` when it does not
    /// exist). Operational attributes (`memberOf`, `entryCSN`, ...) must be named.
    pub async fn entry(&self, dn: &str, attrs: &[&str]) -> Option<SearchEntry> {
        let mut ldap = self.admin().await;
        let res = ldap
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .expect("search");
        let _ = ldap.unbind().await;
        let (entries, _) = res.success().ok()?;
        entries.into_iter().next().map(SearchEntry::construct)
    }

    /// Stops slapd (kill and wait); also done on drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn set_str<'a>(values: &[&'a str]) -> HashSet<&'a str> {
    values.iter().copied().collect()
}

/// An entry to add: its DN and its attributes.
type NewEntry = (String, Vec<(String, HashSet<String>)>);

fn ou(dn: &str, name: &str) -> NewEntry {
    (
        dn.to_owned(),
        vec![
            ("objectClass".into(), set(&["organizationalUnit"])),
            ("ou".into(), set(&[name])),
        ],
    )
}

/// The error of a password policy response control, if any: 0 passwordExpired,
/// 1 accountLocked, 2 changeAfterReset, ... (draft-behera-ldap-password-policy).
pub fn ppolicy_error(res: &ldap3::LdapResult) -> Option<u8> {
    let ctrl = res
        .ctrls
        .iter()
        .find(|c| c.1.ctype == PPOLICY_CONTROL_OID)?;
    let val = ctrl.1.val.as_deref()?;
    // SEQUENCE { warning [0] CHOICE OPTIONAL, error [1] ENUMERATED OPTIONAL }
    let (&tag, rest) = val.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let mut body = rest.get(1..)?;
    while let [t, len, tail @ ..] = body {
        let len = usize::from(*len);
        if *t == 0x81 && len == 1 {
            return tail.first().copied();
        }
        body = tail.get(len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::adapters::{EntriesOnly, PagedResults};
    use ldap3::controls::RawControl;
    use ldap3::exop::PasswordModify;

    async fn bind(url: &str, tls: Arc<rustls::ClientConfig>, starttls: bool, dn: &str, pw: &str) {
        let mut ldap = connect_with(url, tls, starttls).await.expect("connect");
        ldap.simple_bind(dn, pw)
            .await
            .expect("bind")
            .success()
            .expect("bind succeeds");
        ldap.extended(ldap3::exop::WhoAmI)
            .await
            .expect("whoami")
            .success()
            .expect("whoami succeeds");
        let _ = ldap.unbind().await;
    }

    #[tokio::test]
    async fn starts_fast_and_binds_over_ldaps_and_starttls() {
        let t = Instant::now();
        let Some(mut s) = Slapd::start().await else {
            return;
        };
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "slapd took {took:?} to start"
        );
        eprintln!("slapd started in {took:?}");
        let dn = s
            .add_user("jdupont", "S3cret-pw", "Jean", "Dupont", Some("E0001"))
            .await;
        bind(&s.ldaps_url, s.tls_config(), false, &dn, "S3cret-pw").await;
        bind(&s.ldap_url, s.tls_config(), true, &dn, "S3cret-pw").await;
        let e = s
            .entry(
                &dn,
                &[
                    "sAMAccountName",
                    "userPrincipalName",
                    "userAccountControl",
                    "employeeID",
                    "userPassword",
                ],
            )
            .await
            .expect("user");
        assert_eq!(e.attrs["sAMAccountName"], ["jdupont"]);
        assert_eq!(e.attrs["userPrincipalName"], ["jdupont@chu.local"]);
        assert_eq!(e.attrs["userAccountControl"], ["512"]);
        assert_eq!(e.attrs["employeeID"], ["E0001"]);
        let stored = e
            .attrs
            .get("userPassword")
            .map(|v| v[0].clone())
            .or_else(|| {
                e.bin_attrs
                    .get("userPassword")
                    .map(|v| String::from_utf8_lossy(&v[0]).into_owned())
            })
            .unwrap_or_default();
        eprintln!(
            "stored userPassword scheme: {}",
            stored.split('}').next().unwrap_or("")
        );
        // A wrong password is refused with invalidCredentials (49).
        let mut ldap = s.connect(&s.ldaps_url, false).await.expect("connect");
        let r = ldap.simple_bind(&dn, "wrong").await.expect("bind");
        assert_eq!(r.rc, 49);
        s.stop();
        assert!(TcpStream::connect(s.ldap_url.trim_start_matches("ldap://")).is_err());
    }

    #[tokio::test]
    async fn wrong_ca_fails_tls() {
        let Some(s) = Slapd::start().await else {
            return;
        };
        // The CA file on disk is the one in ca_pem, and slapd logs into dir().
        assert_eq!(
            std::fs::read_to_string(&s.ca_file).expect("CA file"),
            s.ca_pem
        );
        assert!(s.dir().join("slapd.log").exists());
        let (_, other_ca, _, _) = make_certificates("Another CA");
        let err = connect_with(&s.ldaps_url, tls_config_for(&other_ca), false).await;
        assert!(err.is_err(), "ldaps with a wrong CA must fail");
        let err = connect_with(&s.ldap_url, tls_config_for(&other_ca), true).await;
        assert!(err.is_err(), "StartTLS with a wrong CA must fail");
        eprintln!(
            "wrong CA: {}",
            err.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }

    #[tokio::test]
    async fn member_of_nested_groups_and_refint() {
        let Some(s) = Slapd::start().await else {
            return;
        };
        let alice = s
            .add_user("alice", "pw-alice", "Alice", "Martin", None)
            .await;
        let bob = s.add_user("bob", "pw-bob", "Bob", "Durand", None).await;
        let nurses = s.add_group("nurses", &[&alice]).await;
        let staff = s.add_group("staff", &[&nurses, &bob]).await;
        let member_of = |e: Option<SearchEntry>| -> Vec<String> {
            let mut v = e
                .and_then(|e| e.attrs.get("memberOf").cloned())
                .unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(
            member_of(s.entry(&alice, &["memberOf"]).await),
            [nurses.as_str()]
        );
        assert_eq!(
            member_of(s.entry(&bob, &["memberOf"]).await),
            [staff.as_str()]
        );
        // The nested group gets memberOf; the overlay is not transitive (alice is not in staff).
        assert_eq!(
            member_of(s.entry(&nurses, &["memberOf"]).await),
            [staff.as_str()]
        );
        s.add_member(&nurses, &bob).await;
        assert_eq!(
            member_of(s.entry(&bob, &["memberOf"]).await),
            [nurses.clone(), staff.clone()]
        );
        // Deleting a user removes it from its groups (refint) and memberOf follows.
        s.delete(&bob).await;
        let staff_entry = s.entry(&staff, &["member"]).await.expect("staff");
        assert_eq!(staff_entry.attrs["member"], [nurses.as_str()]);
        assert!(s.entry(&bob, &["cn"]).await.is_none());
    }

    #[tokio::test]
    async fn modify_timestamp_and_entry_csn_change_and_paged_search() {
        let Some(s) = Slapd::start().await else {
            return;
        };
        let dn = s
            .add_user("carol", "pw-carol", "Carol", "Petit", None)
            .await;
        let read = || {
            s.entry(
                &dn,
                &["modifyTimestamp", "entryCSN", "entryUUID", "givenName"],
            )
        };
        let before = read().await.expect("carol");
        // modifyTimestamp has one-second resolution.
        crate::helpers::wait::next_second().await;
        s.replace(&dn, "givenName", &["Caroline"]).await;
        let after = read().await.expect("carol");
        assert_eq!(after.attrs["givenName"], ["Caroline"]);
        assert_ne!(before.attrs["entryCSN"], after.attrs["entryCSN"]);
        assert_ne!(
            before.attrs["modifyTimestamp"],
            after.attrs["modifyTimestamp"]
        );
        assert_eq!(before.attrs["entryUUID"], after.attrs["entryUUID"]);

        for i in 0..25 {
            s.add_user(&format!("p{i:03}"), "pw", "P", &format!("N{i}"), None)
                .await;
        }
        let mut ldap = s.admin().await;
        let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(10)),
        ];
        let mut stream = ldap
            .streaming_search_with(
                adapters,
                &s.people_dn,
                Scope::OneLevel,
                "(objectClass=inetOrgPerson)",
                vec!["uid", "entryUUID"],
            )
            .await
            .expect("paged search");
        let mut n = 0;
        while let Some(_e) = stream.next().await.expect("entry") {
            n += 1;
        }
        stream.finish().await.success().expect("paged search done");
        assert_eq!(n, 26);
    }

    #[tokio::test]
    async fn password_modify_by_self_and_forced_change() {
        let Some(s) = Slapd::start().await else {
            return;
        };
        let dn = s.add_user("dave", "old-pw", "Dave", "Roux", None).await;
        let tls = s.tls_config();
        // The user changes their own password over ldaps.
        let mut ldap = connect_with(&s.ldaps_url, tls.clone(), false)
            .await
            .expect("connect");
        ldap.simple_bind(&dn, "old-pw")
            .await
            .expect("bind")
            .success()
            .expect("bind ok");
        ldap.extended(PasswordModify {
            user_id: None,
            old_pass: Some("old-pw"),
            new_pass: Some("new-pw"),
        })
        .await
        .expect("passmod")
        .success()
        .expect("password modify by self");
        let _ = ldap.unbind().await;
        let mut ldap = connect_with(&s.ldaps_url, tls.clone(), false)
            .await
            .expect("connect");
        assert_eq!(ldap.simple_bind(&dn, "old-pw").await.expect("bind").rc, 49);
        bind(&s.ldaps_url, tls.clone(), false, &dn, "new-pw").await;

        if !s.force_password_change(&dn).await {
            skip("slapd has no ppolicy overlay: force_password_change is not tested");
            return;
        }
        let e = s
            .entry(&dn, &["pwdReset", "pwdPolicySubentry"])
            .await
            .expect("dave");
        assert_eq!(e.attrs["pwdReset"], ["TRUE"]);
        // Fact 1: the bind itself succeeds; with the ppolicy request control the response
        // control says changeAfterReset (2).
        let mut ldap = connect_with(&s.ldaps_url, tls.clone(), false)
            .await
            .expect("connect");
        let r = ldap
            .with_controls(RawControl {
                ctype: PPOLICY_CONTROL_OID.to_owned(),
                crit: false,
                val: None,
            })
            .simple_bind(&dn, "new-pw")
            .await
            .expect("bind");
        eprintln!(
            "forced change: bind rc={} text={:?} ppolicy error={:?}",
            r.rc,
            r.text,
            ppolicy_error(&r)
        );
        assert_eq!(r.rc, 0);
        assert_eq!(ppolicy_error(&r), Some(2));
        // Fact 2: any search on that connection is refused with insufficientAccess (50).
        let res = ldap
            .search(&dn, Scope::Base, "(objectClass=*)", vec!["cn"])
            .await
            .expect("search");
        eprintln!(
            "forced change: search rc={} text={:?}",
            res.1.rc, res.1.text
        );
        assert_eq!(res.1.rc, 50);
        // A wrong password is still invalidCredentials, without the control's error.
        let mut other = connect_with(&s.ldaps_url, tls.clone(), false)
            .await
            .expect("connect");
        assert_eq!(other.simple_bind(&dn, "bad").await.expect("bind").rc, 49);
        // Fact 3: the user may still change their own password, which clears pwdReset.
        ldap.extended(PasswordModify {
            user_id: None,
            old_pass: Some("new-pw"),
            new_pass: Some("newer-pw"),
        })
        .await
        .expect("passmod")
        .success()
        .expect("password modify while restricted");
        let _ = ldap.unbind().await;
        let e = s.entry(&dn, &["pwdReset"]).await.expect("dave");
        assert!(!e.attrs.contains_key("pwdReset"));
        let mut ldap = connect_with(&s.ldaps_url, tls.clone(), false)
            .await
            .expect("connect");
        ldap.simple_bind(&dn, "newer-pw")
            .await
            .expect("bind")
            .success()
            .expect("bind ok");
        let res = ldap
            .search(&dn, Scope::Base, "(objectClass=*)", vec!["cn"])
            .await
            .expect("search");
        assert_eq!(res.1.rc, 0);
        // Fact 4: under the must-change policy, a password set by the rootdn sets pwdReset again.
        s.replace(&dn, "userPassword", &["admin-set"]).await;
        let e = s.entry(&dn, &["pwdReset"]).await.expect("dave");
        eprintln!(
            "after an admin reset: pwdReset={:?}",
            e.attrs.get("pwdReset")
        );
    }
}
