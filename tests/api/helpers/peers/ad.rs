//! Samba AD domain controller (see scripts/peers/samba-ad).
//!
//! `scripts/peers/samba-ad start` provisions and starts one real Samba 4.17 Active Directory
//! domain controller per machine (realm `CHU.LOCAL`, loopback only) and prints the `TEST_AD_*`
//! variables read by [`Ad::from_env`]. The directory is shared and persistent: tests create
//! their objects under `TEST_AD_TEST_OU` with [`Ad::unique_name`] names, delete them when done,
//! and hold [`Ad::lock`] so that only one of them talks to the server at a time.
//! See docs/testing-peers.md ("Samba Active Directory").

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapError, Mod, Scope, SearchEntry};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// `userAccountControl` of an enabled normal account.
const UAC_NORMAL: &str = "512";
/// `userAccountControl` of a disabled normal account (`ACCOUNTDISABLE | NORMAL_ACCOUNT`).
const UAC_DISABLED: &str = "514";
/// `groupType` of a global security group (`GLOBAL | SECURITY_ENABLED`).
const GROUP_TYPE_GLOBAL_SECURITY: &str = "-2147483646";
/// The password settings object that [`Ad::expire_password`] applies to single users.
const EXPIRY_PSO_CN: &str = "Trousseau Expired Passwords";
/// Its maximum password age: two days, as a negative count of 100 ns intervals. Samba 4.17
/// treats any maximum age shorter than one day (> -864000000000) as "never expires".
const EXPIRY_PSO_MAX_AGE: &str = "-1728000000000";
/// How far in the past [`Ad::expire_password`] puts pwdLastSet: ten days, in 100 ns units.
const EXPIRED_PWD_LAST_SET_AGE: u64 = 10 * 86_400 * 10_000_000;
/// Samba's private control DSDB_CONTROL_PASSWORD_BYPASS_LAST_SET_OID: lets a local (ldb)
/// modify write any pwdLastSet value. Refused over LDAP.
const BYPASS_LAST_SET_CONTROL: &str = "local_oid:1.3.6.1.4.1.7165.4.3.20:0";
/// Seconds between 1601-01-01 (Windows FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET_SECS: u64 = 11_644_473_600;

/// Serialises the tests that use the one Samba domain controller of the machine.
static AD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Samba Active Directory domain controller started by `scripts/peers/samba-ad`.
#[derive(Clone, Debug)]
pub struct Ad {
    /// LDAPS URL, `ldaps://127.0.0.1:636`.
    pub url: String,
    /// Plain LDAP URL for StartTLS, `ldap://127.0.0.1:389`.
    pub starttls_url: String,
    /// PEM file of the test CA that signed the server certificate.
    pub ca_file: PathBuf,
    /// Domain naming context, `DC=chu,DC=local`.
    pub base_dn: String,
    /// OU where tests create their users and groups.
    pub test_ou: String,
    /// DN of the domain Administrator.
    pub admin_dn: String,
    /// Password of the domain Administrator.
    pub admin_password: String,
    /// DNS realm in lower case, the `userPrincipalName` suffix: `chu.local`.
    pub realm: String,
    /// Domain `lockoutThreshold`: bad passwords before an account is locked out.
    pub lockout_threshold: u32,
    /// The DC's own database file (`private/sam.ldb` under the state directory), written
    /// locally with `ldbmodify` by [`Ad::expire_password`] (needs the same machine and root).
    pub sam_ldb: PathBuf,
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set; run: eval \"$(scripts/peers/samba-ad start)\"")
    })
}

/// Encodes a password as `unicodePwd` wants it: the quoted password in UTF-16LE.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Current time as a Windows FILETIME (100 ns intervals since 1601-01-01 UTC).
fn filetime_now() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (since_epoch.as_secs() + FILETIME_UNIX_OFFSET_SECS) * 10_000_000
        + u64::from(since_epoch.subsec_nanos()) / 100
}

/// Escapes a value for use inside an LDAP filter (RFC 4515).
pub fn filter_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

fn set(values: &[&str]) -> HashSet<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

fn attr(name: &str, values: &[&str]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (name.as_bytes().to_vec(), set(values))
}

impl Ad {
    /// From the TEST_AD_* variables. None when TEST_AD_URL is unset, after a `SKIP` line —
    /// under `CI=true` or TROUSSEAU_REQUIRE_PEERS=1 it panics with a message telling to run
    /// `scripts/peers/samba-ad start`.
    pub fn from_env() -> Option<Ad> {
        if std::env::var("TEST_AD_URL").map_or(true, |v| v.is_empty()) {
            crate::helpers::skip::skip(
                "TEST_AD_URL is not set, no Samba AD: run \
                 eval \"$(scripts/peers/samba-ad start)\" first",
            );
            return None;
        }
        Some(Ad {
            url: env_var("TEST_AD_URL"),
            starttls_url: env_var("TEST_AD_STARTTLS_URL"),
            ca_file: PathBuf::from(env_var("TEST_AD_CA")),
            base_dn: env_var("TEST_AD_BASE"),
            test_ou: env_var("TEST_AD_TEST_OU"),
            admin_dn: env_var("TEST_AD_ADMIN_DN"),
            admin_password: env_var("TEST_AD_ADMIN_PASSWORD"),
            realm: env_var("TEST_AD_REALM"),
            lockout_threshold: env_var("TEST_AD_LOCKOUT_THRESHOLD")
                .parse()
                .expect("TEST_AD_LOCKOUT_THRESHOLD is a number"),
            sam_ldb: PathBuf::from(env_var("TEST_AD_SAM_LDB")),
        })
    }

    /// A tokio Mutex guard: AD tests run one at a time (Samba is one per machine).
    pub async fn lock() -> tokio::sync::MutexGuard<'static, ()> {
        AD_LOCK.lock().await
    }

    /// A rustls client configuration (ring provider) trusting only the test CA.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        let ca = CertificateDer::pem_file_iter(&self.ca_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.ca_file.display()))
            .next()
            .expect("a PEM certificate")
            .expect("a valid PEM certificate");
        super::slapd::tls_config_for(&ca)
    }

    /// Opens a connection to `url` (TLS verified against the test CA; StartTLS when
    /// `starttls`), without binding, and spawns its driver on the current runtime.
    pub async fn connect(&self, url: &str, starttls: bool) -> Result<Ldap, LdapError> {
        let mut ldap = super::slapd::connect_with(url, self.tls_config(), starttls).await?;
        ldap.with_timeout(Duration::from_secs(30));
        Ok(ldap)
    }

    /// A connection bound as the domain Administrator over LDAPS.
    pub async fn admin(&self) -> Ldap {
        let ldap = self
            .connect(&self.url, false)
            .await
            .expect("LDAPS connection");
        super::slapd::bind_admin(ldap, &self.admin_dn, &self.admin_password).await
    }

    /// A unique sAMAccountName: `prefix` + 10 random lowercase alphanumeric characters
    /// (tests run against a shared, persistent AD). `prefix` is at most 10 characters,
    /// since a sAMAccountName has at most 20.
    pub fn unique_name(prefix: &str) -> String {
        assert!(
            prefix.len() <= 10,
            "sAMAccountName prefix too long: {prefix}"
        );
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes).expect("random bytes");
        let suffix: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
            .collect();
        format!("{prefix}{suffix}")
    }

    /// Creates an enabled user `CN=<sam>` under `test_ou` with `password` (unicodePwd over
    /// LDAPS, UTF-16LE quoted) and givenName, sn, displayName, mail (`sam@realm`),
    /// employeeID (when given) and userPrincipalName (`sam@realm`) set; returns its DN.
    pub async fn create_user(
        &self,
        sam: &str,
        password: &str,
        given: &str,
        family: &str,
        employee_id: Option<&str>,
    ) -> String {
        let dn = format!("CN={sam},{}", self.test_ou);
        let upn = format!("{sam}@{}", self.realm);
        let display = format!("{given} {family}");
        let mut attrs = vec![
            attr(
                "objectClass",
                &["top", "person", "organizationalPerson", "user"],
            ),
            attr("cn", &[sam]),
            attr("sAMAccountName", &[sam]),
            attr("userPrincipalName", &[&upn]),
            attr("givenName", &[given]),
            attr("sn", &[family]),
            attr("displayName", &[&display]),
            attr("mail", &[&upn]),
            attr("userAccountControl", &[UAC_NORMAL]),
            (
                b"unicodePwd".to_vec(),
                HashSet::from([unicode_pwd(password)]),
            ),
        ];
        if let Some(id) = employee_id {
            attrs.push(attr("employeeID", &[id]));
        }
        let mut ldap = self.admin().await;
        ldap.add(&dn, attrs)
            .await
            .expect("add request")
            .success()
            .unwrap_or_else(|e| panic!("cannot create user {dn}: {e}"));
        let _ = ldap.unbind().await;
        dn
    }

    async fn modify(&self, dn: &str, mods: Vec<Mod<Vec<u8>>>) {
        let mut ldap = self.admin().await;
        ldap.modify(dn, mods)
            .await
            .expect("modify request")
            .success()
            .unwrap_or_else(|e| panic!("cannot modify {dn}: {e}"));
        let _ = ldap.unbind().await;
    }

    /// Replaces the values of `attr` on `dn` (no values: deletes the attribute).
    pub async fn set_attr(&self, dn: &str, attr: &str, values: &[&str]) {
        self.modify(
            dn,
            vec![Mod::Replace(attr.as_bytes().to_vec(), set(values))],
        )
        .await;
    }

    /// Resets the password as the admin (unicodePwd replace over LDAPS); pwdLastSet becomes now.
    pub async fn set_password(&self, dn: &str, password: &str) {
        let value = HashSet::from([unicode_pwd(password)]);
        self.modify(dn, vec![Mod::Replace(b"unicodePwd".to_vec(), value)])
            .await;
    }

    /// Disables the account (userAccountControl 514): binds then fail with `data 533`.
    pub async fn disable(&self, dn: &str) {
        self.set_attr(dn, "userAccountControl", &[UAC_DISABLED])
            .await;
    }

    /// Enables the account again (userAccountControl 512).
    pub async fn enable(&self, dn: &str) {
        self.set_attr(dn, "userAccountControl", &[UAC_NORMAL]).await;
    }

    /// Sets pwdLastSet = 0 ("user must change password at next logon"): binds with the right
    /// password then fail with `data 773`.
    pub async fn must_change_password(&self, dn: &str) {
        self.set_attr(dn, "pwdLastSet", &["0"]).await;
    }

    /// Makes the user's password expired, so that binds with the right password fail with
    /// `data 532`, without touching other users or the domain policy.
    ///
    /// Over LDAP, pwdLastSet can only be written as 0 (must change: 773) or -1 (now), and
    /// Samba 4.17 treats a maximum password age under one day as "never expires". So:
    /// 1. the user is added to `msDS-PSOAppliesTo` of a fine-grained password policy
    ///    (`CN=Trousseau Expired Passwords`, created when missing) whose
    ///    `msDS-MaximumPasswordAge` is two days (the domain's own policy never expires);
    /// 2. pwdLastSet is set ten days back by `ldbmodify` on the DC's local `sam.ldb`
    ///    ([`Ad::sam_ldb`]) with Samba's private "bypass last set" control, which the LDAP
    ///    server refuses. This needs the tests to run as root on the DC's machine.
    ///
    /// The user's `msDS-UserPasswordExpiryTimeComputed` is then in the past. Deleting the user
    /// removes the PSO link; [`Ad::enable`] does not undo this, a password reset does.
    pub async fn expire_password(&self, dn: &str) {
        let pso = self.ensure_expiry_pso().await;
        let already = self.read(&pso, &["msDS-PSOAppliesTo"]).await;
        let linked = already
            .attrs
            .get("msDS-PSOAppliesTo")
            .is_some_and(|v| v.iter().any(|d| d.eq_ignore_ascii_case(dn)));
        if !linked {
            self.modify(
                &pso,
                vec![Mod::Add(b"msDS-PSOAppliesTo".to_vec(), set(&[dn]))],
            )
            .await;
        }
        assert!(
            dn.is_ascii() && !dn.contains('\n'),
            "expire_password: plain ASCII DNs only"
        );
        let last_set = filetime_now() - EXPIRED_PWD_LAST_SET_AGE;
        let ldif =
            format!("dn: {dn}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: {last_set}\n");
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, ldif.as_bytes()).expect("write LDIF");
        let out = tokio::process::Command::new("ldbmodify")
            .arg("-H")
            .arg(&self.sam_ldb)
            .arg(format!("--controls={BYPASS_LAST_SET_CONTROL}"))
            .arg(file.path())
            .output()
            .await
            .expect("run ldbmodify (Debian package ldb-tools)");
        assert!(
            out.status.success(),
            "ldbmodify on {} failed (tests must run as root on the DC's machine): {}{}",
            self.sam_ldb.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let entry = self
            .read(dn, &["msDS-UserPasswordExpiryTimeComputed"])
            .await;
        let expiry: u64 = entry
            .attrs
            .get("msDS-UserPasswordExpiryTimeComputed")
            .and_then(|v| v.first())
            .and_then(|v| v.parse().ok())
            .expect("msDS-UserPasswordExpiryTimeComputed");
        assert!(
            expiry < filetime_now(),
            "{dn}: password expiry {expiry} not in the past"
        );
    }

    /// DN of the PSO used by [`Ad::expire_password`]; creates it when missing.
    async fn ensure_expiry_pso(&self) -> String {
        let dn = format!(
            "CN={EXPIRY_PSO_CN},CN=Password Settings Container,CN=System,{}",
            self.base_dn
        );
        let mut ldap = self.admin().await;
        let found = ldap
            .search(&dn, Scope::Base, "(objectClass=*)", vec!["cn"])
            .await
            .expect("search request");
        if found.1.rc == 32 {
            // lockout settings in 100 ns units, negative: one minute, like the domain.
            let threshold = self.lockout_threshold.to_string();
            let attrs = vec![
                attr("objectClass", &["msDS-PasswordSettings"]),
                attr("msDS-PasswordSettingsPrecedence", &["1"]),
                attr("msDS-PasswordReversibleEncryptionEnabled", &["FALSE"]),
                attr("msDS-PasswordHistoryLength", &["0"]),
                attr("msDS-PasswordComplexityEnabled", &["FALSE"]),
                attr("msDS-MinimumPasswordLength", &["1"]),
                attr("msDS-MinimumPasswordAge", &["0"]),
                attr("msDS-MaximumPasswordAge", &[EXPIRY_PSO_MAX_AGE]),
                attr("msDS-LockoutThreshold", &[&threshold]),
                attr("msDS-LockoutObservationWindow", &["-600000000"]),
                attr("msDS-LockoutDuration", &["-600000000"]),
            ];
            let res = ldap.add(&dn, attrs).await.expect("add request");
            // 68: another test process created it meanwhile.
            assert!(
                res.rc == 0 || res.rc == 68,
                "cannot create PSO {dn}: {res:?}"
            );
        } else {
            found
                .success()
                .unwrap_or_else(|e| panic!("cannot read PSO {dn}: {e}"));
            // a PSO left by an older version of this helper may carry another maximum age
            let (entries, _) = ldap
                .search(
                    &dn,
                    Scope::Base,
                    "(objectClass=*)",
                    vec!["msDS-MaximumPasswordAge"],
                )
                .await
                .expect("search request")
                .success()
                .expect("read PSO");
            let entry = SearchEntry::construct(entries.into_iter().next().expect("the PSO"));
            if entry
                .attrs
                .get("msDS-MaximumPasswordAge")
                .and_then(|v| v.first())
                .map(String::as_str)
                != Some(EXPIRY_PSO_MAX_AGE)
            {
                ldap.modify(
                    &dn,
                    vec![Mod::Replace(
                        "msDS-MaximumPasswordAge",
                        HashSet::from([EXPIRY_PSO_MAX_AGE]),
                    )],
                )
                .await
                .expect("modify request")
                .success()
                .expect("update the PSO's maximum age");
            }
        }
        let _ = ldap.unbind().await;
        dn
    }

    /// Binds with wrong passwords until the account is locked out (`data 775`).
    pub async fn lock_out(&self, sam: &str) {
        let who = format!("{sam}@{}", self.realm);
        for _ in 0..self.lockout_threshold + 3 {
            if let Err(msg) = self.try_bind(&who, "wrong-password-for-lockout").await
                && msg.contains("data 775")
            {
                return;
            }
        }
        panic!(
            "{who} not locked out after {} wrong binds",
            self.lockout_threshold + 3
        );
    }

    /// Unlocks the account (lockoutTime = 0, which also resets badPwdCount).
    pub async fn unlock(&self, dn: &str) {
        self.set_attr(dn, "lockoutTime", &["0"]).await;
    }

    /// Deletes the entry; an entry already gone is not an error.
    pub async fn delete(&self, dn: &str) {
        let mut ldap = self.admin().await;
        let res = ldap.delete(dn).await.expect("delete request");
        assert!(res.rc == 0 || res.rc == 32, "cannot delete {dn}: {res:?}");
        let _ = ldap.unbind().await;
    }

    /// Creates a global security group `CN=<name>` (sAMAccountName `name`) under `test_ou`
    /// with `members` (DNs of users or groups); returns its DN.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let dn = format!("CN={name},{}", self.test_ou);
        let mut attrs = vec![
            attr("objectClass", &["top", "group"]),
            attr("cn", &[name]),
            attr("sAMAccountName", &[name]),
            attr("groupType", &[GROUP_TYPE_GLOBAL_SECURITY]),
        ];
        if !members.is_empty() {
            attrs.push(attr("member", members));
        }
        let mut ldap = self.admin().await;
        ldap.add(&dn, attrs)
            .await
            .expect("add request")
            .success()
            .unwrap_or_else(|e| panic!("cannot create group {dn}: {e}"));
        let _ = ldap.unbind().await;
        dn
    }

    /// Adds `member_dn` to the `member` attribute of `group_dn`.
    pub async fn add_member(&self, group_dn: &str, member_dn: &str) {
        self.modify(
            group_dn,
            vec![Mod::Add(b"member".to_vec(), set(&[member_dn]))],
        )
        .await;
    }

    /// Simple bind at `url` (StartTLS when `starttls`) as `who` with `password`: Ok(()) or
    /// Err("rc=<code>: <diagnostic message>").
    pub async fn try_bind_at(
        &self,
        url: &str,
        starttls: bool,
        who: &str,
        password: &str,
    ) -> Result<(), String> {
        let mut ldap = self
            .connect(url, starttls)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let res = ldap
            .simple_bind(who, password)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let _ = ldap.unbind().await;
        if res.rc == 0 {
            Ok(())
        } else {
            Err(format!("rc={}: {}", res.rc, res.text))
        }
    }

    /// Simple bind over LDAPS as `who` (UPN, DN or `CHU\sam`) with `password`; Ok(()) or
    /// Err(result code and diagnostic message text), e.g.
    /// "rc=49: 80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v1db1".
    pub async fn try_bind(&self, who: &str, password: &str) -> Result<(), String> {
        self.try_bind_at(&self.url, false, who, password).await
    }

    /// The rootDSE's highestCommittedUSN.
    pub async fn highest_usn(&self) -> u64 {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                vec!["highestCommittedUSN"],
            )
            .await
            .expect("search request")
            .success()
            .expect("rootDSE");
        let _ = ldap.unbind().await;
        let entry = SearchEntry::construct(entries.into_iter().next().expect("rootDSE entry"));
        entry.attrs["highestCommittedUSN"][0]
            .parse()
            .expect("a number")
    }

    /// The attributes `attrs` of `dn` (admin search, base scope).
    pub async fn read(&self, dn: &str, attrs: &[&str]) -> SearchEntry {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .expect("search request")
            .success()
            .unwrap_or_else(|e| panic!("cannot read {dn}: {e}"));
        let _ = ldap.unbind().await;
        SearchEntry::construct(entries.into_iter().next().expect("one entry"))
    }

    /// DNs of the entries under `base` matching `filter` (subtree, admin, paged by `page_size`).
    pub async fn search_dns_paged(&self, base: &str, filter: &str, page_size: i32) -> Vec<String> {
        let mut ldap = self.admin().await;
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page_size)),
        ];
        let mut stream = ldap
            .streaming_search_with(adapters, base, Scope::Subtree, filter, vec!["1.1"])
            .await
            .expect("search request");
        let mut dns = Vec::new();
        while let Some(entry) = stream.next().await.expect("search entry") {
            dns.push(SearchEntry::construct(entry).dn);
        }
        stream
            .finish()
            .await
            .success()
            .expect("paged search result");
        let _ = ldap.unbind().await;
        dns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Pa55-test-word";

    /// A fresh user; returns (sam, DN, UPN).
    async fn user(ad: &Ad, prefix: &str) -> (String, String, String) {
        let sam = Ad::unique_name(prefix);
        let dn = ad
            .create_user(&sam, PASSWORD, "Test", "User", Some("E123"))
            .await;
        let upn = format!("{sam}@{}", ad.realm);
        (sam, dn, upn)
    }

    fn expect_data(res: Result<(), String>, code: &str) {
        let msg = res.expect_err("the bind must fail");
        assert!(
            msg.contains(&format!("data {code},")),
            "expected data {code}, got: {msg}"
        );
    }

    #[tokio::test]
    async fn bind_ok_over_ldaps_and_starttls_as_upn_dn_and_down_level_name() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (sam, dn, upn) = user(&ad, "tb").await;
        ad.try_bind(&upn, PASSWORD).await.unwrap();
        ad.try_bind(&dn, PASSWORD).await.unwrap();
        ad.try_bind(&format!("CHU\\{sam}"), PASSWORD).await.unwrap();
        ad.try_bind_at(&ad.starttls_url, true, &upn, PASSWORD)
            .await
            .unwrap();
        let entry = ad
            .read(
                &dn,
                &["givenName", "sn", "mail", "employeeID", "userPrincipalName"],
            )
            .await;
        assert_eq!(entry.attrs["employeeID"], ["E123"]);
        assert_eq!(entry.attrs["userPrincipalName"], [upn]);
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn plain_ldap_simple_bind_is_refused() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let err = ad
            .try_bind_at(&ad.starttls_url, false, &ad.admin_dn, &ad.admin_password)
            .await
            .expect_err("simple bind without TLS must be refused");
        // 8 = strongerAuthRequired, "BindSimple: Transport encryption required."
        assert!(err.starts_with("rc=8:"), "{err}");
    }

    #[tokio::test]
    async fn wrong_password_gives_52e_and_disabled_gives_533() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, upn) = user(&ad, "tw").await;
        expect_data(ad.try_bind(&upn, "not-the-password").await, "52e");
        ad.unlock(&dn).await; // reset badPwdCount
        ad.disable(&dn).await;
        expect_data(ad.try_bind(&upn, PASSWORD).await, "533");
        ad.enable(&dn).await;
        ad.try_bind(&upn, PASSWORD).await.unwrap();
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn lockout_after_threshold_gives_775_and_unlock_works() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, upn) = user(&ad, "tl").await;
        for _ in 1..ad.lockout_threshold {
            expect_data(ad.try_bind(&upn, "wrong").await, "52e");
        }
        // the bind that reaches the threshold fails too (its code is checked below)
        ad.try_bind(&upn, "wrong")
            .await
            .expect_err("wrong password");
        // now locked: even the right password is refused
        expect_data(ad.try_bind(&upn, PASSWORD).await, "775");
        ad.unlock(&dn).await;
        ad.try_bind(&upn, PASSWORD).await.unwrap();
        // lock_out() gets there by itself
        let sam = upn.split('@').next().unwrap().to_owned();
        ad.lock_out(&sam).await;
        expect_data(ad.try_bind(&upn, PASSWORD).await, "775");
        ad.unlock(&dn).await;
        ad.try_bind(&upn, PASSWORD).await.unwrap();
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn must_change_password_gives_773() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, upn) = user(&ad, "tm").await;
        ad.must_change_password(&dn).await;
        expect_data(ad.try_bind(&upn, PASSWORD).await, "773");
        // a wrong password still reports 52e
        expect_data(ad.try_bind(&upn, "wrong").await, "52e");
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn expired_password_gives_532_for_that_user_only() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, upn) = user(&ad, "te").await;
        let (_, other_dn, other_upn) = user(&ad, "to").await;
        ad.expire_password(&dn).await;
        expect_data(ad.try_bind(&upn, PASSWORD).await, "532");
        expect_data(ad.try_bind(&upn, "wrong").await, "52e");
        ad.try_bind(&other_upn, PASSWORD).await.unwrap();
        // a password reset by the admin makes it valid again
        ad.set_password(&dn, "Pa55-new-word").await;
        ad.try_bind(&upn, "Pa55-new-word").await.unwrap();
        ad.delete(&dn).await;
        ad.delete(&other_dn).await;
    }

    #[tokio::test]
    async fn nested_group_membership_via_matching_rule_in_chain() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, _) = user(&ad, "tn").await;
        let g1 = ad.create_group(&Ad::unique_name("g1"), &[&dn]).await;
        let g2 = ad.create_group(&Ad::unique_name("g2"), &[]).await;
        ad.add_member(&g2, &g1).await;
        let filter = format!("(member:1.2.840.113556.1.4.1941:={})", filter_escape(&dn));
        let found = ad.search_dns_paged(&ad.test_ou, &filter, 100).await;
        assert!(
            found.iter().any(|d| d.eq_ignore_ascii_case(&g1)),
            "{found:?}"
        );
        assert!(
            found.iter().any(|d| d.eq_ignore_ascii_case(&g2)),
            "{found:?}"
        );
        // memberOf only lists the direct group
        let entry = ad.read(&dn, &["memberOf"]).await;
        assert_eq!(entry.attrs["memberOf"].len(), 1, "{:?}", entry.attrs);
        ad.delete(&g2).await;
        ad.delete(&g1).await;
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn usn_changed_grows_after_modify() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let (_, dn, _) = user(&ad, "tu").await;
        let usn = |e: &SearchEntry| -> u64 { e.attrs["uSNChanged"][0].parse().unwrap() };
        let before = usn(&ad.read(&dn, &["uSNChanged"]).await);
        ad.set_attr(&dn, "title", &["Infirmier"]).await;
        let after = usn(&ad.read(&dn, &["uSNChanged"]).await);
        assert!(after > before, "{after} > {before}");
        let highest = ad.highest_usn().await;
        assert!(highest >= after, "{highest} >= {after}");
        ad.delete(&dn).await;
    }

    #[tokio::test]
    async fn paged_search_under_test_ou_returns_users() {
        let Some(ad) = Ad::from_env() else { return };
        let _guard = Ad::lock().await;
        let mut dns = Vec::new();
        for _ in 0..5 {
            dns.push(user(&ad, "tp").await.1);
        }
        // page size 2: several pages
        let found = ad
            .search_dns_paged(
                &ad.test_ou,
                "(&(objectCategory=person)(objectClass=user))",
                2,
            )
            .await;
        for dn in &dns {
            assert!(
                found.iter().any(|d| d.eq_ignore_ascii_case(dn)),
                "{dn} not in {found:?}"
            );
        }
        for dn in &dns {
            ad.delete(dn).await;
        }
    }
}
