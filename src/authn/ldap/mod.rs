//! The hospital's directory (Active Directory or OpenLDAP): password binds with failover across
//! replicas, TLS (LDAPS or StartTLS) with a configurable CA, a pool of service-account
//! connections for searches, password changes, and the paged searches the sync reads.

pub mod check;
mod entry;
mod error;

pub use entry::{DirEntry, guid_text, requested};
pub use error::{DirError, Refusal, ad_subcode, ppolicy_error};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::exop::PasswordModify;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, ldap_escape};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{BindMode, DirectoryKind, LdapSettings};
use error::{from_result, transport};

/// How long a server that failed to answer is skipped before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(30);

/// The directory client shared by login, sync and `ldap test`.
pub struct Directory {
    settings: LdapSettings,
    tls: Arc<rustls::ClientConfig>,
    service_password: Option<SecretString>,
    /// Idle connections bound as the service account.
    service_pool: Mutex<Vec<Ldap>>,
    /// Idle connections used for user binds (never for searches).
    bind_pool: Mutex<Vec<Ldap>>,
    /// Per server: skipped until this instant after a failure.
    down_until: Mutex<Vec<Option<Instant>>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("servers", &self.settings.servers)
            .field("kind", &self.settings.kind)
            .finish_non_exhaustive()
    }
}

/// A page of the sync's user or group search.
pub type Entries = Vec<SearchEntry>;

impl Directory {
    /// Builds the client; `None` when no directory is configured.
    pub fn new(settings: &LdapSettings) -> anyhow::Result<Option<Arc<Directory>>> {
        if !settings.enabled() {
            return Ok(None);
        }
        let tls = tls_config(&settings.ca_file)?;
        let service_password = match (&settings.service_password, &settings.service_password_file) {
            (_, file) if !file.is_empty() => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    anyhow::anyhow!("ldap.service_password_file: cannot read {file}: {e}")
                })?;
                Some(SecretString::from(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                ))
            }
            (Some(p), _) if !p.expose_secret().is_empty() => Some(p.clone()),
            _ => None,
        };
        Ok(Some(Arc::new(Directory {
            down_until: Mutex::new(vec![None; settings.servers.len()]),
            settings: settings.clone(),
            tls,
            service_password,
            service_pool: Mutex::new(Vec::new()),
            bind_pool: Mutex::new(Vec::new()),
        })))
    }

    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms)
    }

    /// Opens a connection to server `i` (TLS as configured), without binding.
    pub async fn connect_to(&self, i: usize) -> Result<Ldap, DirError> {
        let url = self
            .settings
            .servers
            .get(i)
            .ok_or_else(|| DirError::Unavailable("no such server".into()))?;
        let conn_settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_millis(self.settings.connect_timeout_ms))
            .set_config(self.tls.clone())
            .set_starttls(self.settings.starttls && url.scheme() == "ldap");
        let url_text = url.as_str().trim_end_matches('/');
        let (conn, ldap) = tokio::time::timeout(
            Duration::from_millis(self.settings.connect_timeout_ms + self.settings.timeout_ms),
            LdapConnAsync::with_settings(conn_settings, url_text),
        )
        .await
        .map_err(|_| DirError::Unavailable(format!("{url_text}: no answer in time")))?
        .map_err(|e| match transport(e) {
            DirError::Tls(m) => DirError::Tls(format!("{url_text}: {m}")),
            DirError::Unavailable(m) => DirError::Unavailable(format!("{url_text}: {m}")),
            other => other,
        })?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "directory connection closed");
            }
        });
        Ok(ldap)
    }

    /// Connects to the first server that answers, skipping those that failed recently (all of
    /// them are tried when every one is marked down).
    async fn connect(&self) -> Result<Ldap, DirError> {
        let n = self.settings.servers.len();
        let now = Instant::now();
        let order: Vec<usize> = {
            let down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
            let up: Vec<usize> = (0..n)
                .filter(|i| down[*i].is_none_or(|t| t <= now))
                .collect();
            if up.is_empty() { (0..n).collect() } else { up }
        };
        let mut last = DirError::Unavailable("no directory server is configured".into());
        for i in order {
            match self.connect_to(i).await {
                Ok(l) => {
                    self.mark(i, None);
                    return Ok(l);
                }
                Err(e) => {
                    tracing::warn!(server = %self.settings.servers[i], error = %e, "directory server unreachable; trying the next one");
                    self.mark(i, Some(Instant::now() + DOWN_FOR));
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn mark(&self, i: usize, until: Option<Instant>) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = down.get_mut(i) {
            *slot = until;
        }
    }

    fn take(pool: &Mutex<Vec<Ldap>>) -> Option<Ldap> {
        let mut p = pool.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut l) = p.pop() {
            if !l.is_closed() {
                return Some(l);
            }
        }
        None
    }

    fn give_back(&self, pool: &Mutex<Vec<Ldap>>, mut l: Ldap) {
        if l.is_closed() {
            return;
        }
        let mut p = pool.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < self.settings.pool_size {
            p.push(l);
        }
    }

    /// A connection bound as the service account (from the pool when one is idle).
    async fn service(&self) -> Result<Ldap, DirError> {
        if let Some(l) = Self::take(&self.service_pool) {
            return Ok(l);
        }
        let mut l = self.connect().await?;
        self.bind_service(&mut l).await?;
        Ok(l)
    }

    async fn bind_service(&self, l: &mut Ldap) -> Result<(), DirError> {
        let dn = self.settings.service_dn.as_str();
        if dn.is_empty() {
            return Ok(());
        }
        let pw = self
            .service_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        let r = l
            .with_timeout(self.op_timeout())
            .simple_bind(dn, &pw)
            .await
            .map_err(transport)?;
        if r.rc != 0 {
            return Err(match from_result(&r) {
                DirError::Refused(_) => DirError::ServiceBind(format!(
                    "{dn}: invalid credentials ({})",
                    r.text.trim_end_matches('\0')
                )),
                other => other,
            });
        }
        Ok(())
    }

    /// Runs `f` on a service connection; the connection goes back to the pool unless it broke.
    async fn with_service<T, F>(&self, f: F) -> Result<T, DirError>
    where
        F: for<'a> FnOnce(
            &'a mut Ldap,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, DirError>> + Send + 'a>,
        >,
    {
        let mut l = self.service().await?;
        let out = f(&mut l).await;
        match &out {
            Err(DirError::Unavailable(_) | DirError::Tls(_)) => {}
            _ => self.give_back(&self.service_pool, l),
        }
        out
    }

    /// Finds the entry of a login (login name or UPN, `DOMAIN\name` accepted).
    pub async fn find_user(&self, login: &str) -> Result<Option<DirEntry>, DirError> {
        let filter = self.login_filter(login);
        let base = self.settings.user_base.clone();
        let attrs = requested(&self.settings.attributes, self.settings.kind);
        let timeout = self.op_timeout();
        let entries = self
            .with_service(move |l| {
                Box::pin(async move {
                    let r = l
                        .with_timeout(timeout)
                        .search(&base, Scope::Subtree, &filter, attrs)
                        .await
                        .map_err(transport)?;
                    let (entries, res) = (r.0, r.1);
                    if res.rc == 32 {
                        return Err(DirError::Ldap {
                            rc: 32,
                            text: format!("the base {base} does not exist"),
                        });
                    }
                    if res.rc != 0 {
                        return Err(from_result(&res));
                    }
                    Ok(entries)
                })
            })
            .await?;
        let mut found: Vec<DirEntry> = entries
            .into_iter()
            .filter_map(|e| {
                DirEntry::from_search(
                    SearchEntry::construct(e),
                    &self.settings.attributes,
                    self.settings.kind,
                )
            })
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(DirError::Ambiguous),
        }
    }

    /// `(&user_filter(|(login=..)(upn=..)))` with the value escaped.
    pub fn login_filter(&self, login: &str) -> String {
        let name = normalize_login(login);
        let v = ldap_escape(name.as_str());
        let a = &self.settings.attributes;
        let mut alts = format!("({}={v})", a.username);
        if !a.upn.is_empty() {
            alts = format!("(|{alts}({}={v}))", a.upn);
        }
        format!("(&{}{alts})", self.settings.user_filter)
    }

    /// The DN (or UPN) to bind as with a `direct` bind.
    fn direct_bind_name(&self, login: &str) -> String {
        let name = normalize_login(login);
        let value = if self.settings.bind_template.contains('=') {
            ldap3::dn_escape(name.as_str()).into_owned()
        } else {
            name
        };
        self.settings.bind_template.replace("{username}", &value)
    }

    /// Binds as a user. `known_dn` skips the search (an account already synchronised).
    ///
    /// On success returns the entry (read with the service account, or with the user's own
    /// rights in `direct` mode without one).
    pub async fn authenticate(
        &self,
        login: &str,
        password: &SecretString,
        known_dn: Option<&str>,
    ) -> Result<DirEntry, DirError> {
        if password.expose_secret().is_empty() {
            // An empty password would be an anonymous bind, which "succeeds".
            return Err(DirError::Refused(Refusal::WrongPassword));
        }
        let (bind_name, entry) = match (known_dn, self.settings.bind) {
            (Some(dn), _) => (dn.to_owned(), None),
            (None, BindMode::Search) => {
                let entry = self
                    .find_user(login)
                    .await?
                    .ok_or(DirError::Refused(Refusal::UnknownUser))?;
                if let Some(r) = self.lockout_guard(&entry) {
                    return Err(DirError::Refused(r));
                }
                (entry.dn.clone(), Some(entry))
            }
            (None, BindMode::Direct) => (self.direct_bind_name(login), None),
        };
        let mut l = match Self::take(&self.bind_pool) {
            Some(l) => l,
            None => self.connect().await?,
        };
        let result = self.user_bind(&mut l, &bind_name, password).await;
        match result {
            Ok(()) => {}
            Err(e @ DirError::Refused(_)) => {
                self.give_back(&self.bind_pool, l);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let entry = match entry {
            Some(e) => e,
            None if known_dn.is_some() || !self.settings.service_dn.is_empty() => {
                self.give_back(&self.bind_pool, l);
                match known_dn {
                    Some(dn) => self.read_dn(dn).await?,
                    None => self.find_user(login).await?,
                }
                .ok_or(DirError::Refused(Refusal::UnknownUser))?
            }
            None => {
                // Direct bind without a service account: read the entry as the user.
                let filter = self.login_filter(login);
                let attrs = requested(&self.settings.attributes, self.settings.kind);
                let r = l
                    .with_timeout(self.op_timeout())
                    .search(&self.settings.user_base, Scope::Subtree, &filter, attrs)
                    .await
                    .map_err(transport)?;
                let found =
                    r.0.into_iter()
                        .find_map(|e| {
                            DirEntry::from_search(
                                SearchEntry::construct(e),
                                &self.settings.attributes,
                                self.settings.kind,
                            )
                        })
                        .ok_or(DirError::Refused(Refusal::UnknownUser))?;
                self.give_back(&self.bind_pool, l);
                found
            }
        };
        Ok(entry)
    }

    /// AD's `badPwdCount` (counted only within the observation window) at the threshold: the
    /// account is locked; one below: one more wrong password would lock it, so the bind is not
    /// tried.
    fn lockout_guard(&self, e: &DirEntry) -> Option<Refusal> {
        let threshold = self.settings.directory_lockout_threshold;
        let count = i64::from(e.bad_pwd_count?);
        if threshold <= 0 || count + 1 < threshold {
            return None;
        }
        // badPasswordTime is a FILETIME: 100 ns units since 1601-01-01.
        let now_ft = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + 11_644_473_600)
            * 10_000_000;
        let window = self.settings.lockout_window_secs * 10_000_000;
        if e.bad_password_time.is_some_and(|t| now_ft - t >= window) {
            return None;
        }
        Some(if count >= threshold {
            Refusal::Locked
        } else {
            Refusal::NearLockout
        })
    }

    /// One simple bind, with the password-policy control on OpenLDAP.
    async fn user_bind(
        &self,
        l: &mut Ldap,
        name: &str,
        password: &SecretString,
    ) -> Result<(), DirError> {
        let op = l.with_timeout(self.op_timeout());
        if self.settings.kind == DirectoryKind::Openldap {
            op.with_controls(RawControl {
                ctype: error::PPOLICY_OID.to_owned(),
                crit: false,
                val: None,
            });
        }
        let r = op
            .simple_bind(name, password.expose_secret())
            .await
            .map_err(transport)?;
        let policy = r
            .ctrls
            .iter()
            .find(|c| c.1.ctype == error::PPOLICY_OID)
            .and_then(|c| c.1.val.as_deref())
            .and_then(ppolicy_error);
        match (r.rc, policy) {
            (0, None) => Ok(()),
            (0, Some(p)) if p.needs_new_password() => Err(DirError::Refused(p)),
            (0, Some(_)) => Ok(()),
            (49, Some(p)) => Err(DirError::Refused(p)),
            _ => Err(from_result(&r)),
        }
    }

    /// Reads one entry by DN with the service account.
    pub async fn read_dn(&self, dn: &str) -> Result<Option<DirEntry>, DirError> {
        let dn = dn.to_owned();
        let attrs = requested(&self.settings.attributes, self.settings.kind);
        let timeout = self.op_timeout();
        let filter = self.settings.user_filter.clone();
        let entries = self
            .with_service(move |l| {
                Box::pin(async move {
                    let r = l
                        .with_timeout(timeout)
                        .search(&dn, Scope::Base, &filter, attrs)
                        .await
                        .map_err(transport)?;
                    match r.1.rc {
                        0 => Ok(r.0),
                        32 => Ok(Vec::new()),
                        _ => Err(from_result(&r.1)),
                    }
                })
            })
            .await?;
        Ok(entries.into_iter().find_map(|e| {
            DirEntry::from_search(
                SearchEntry::construct(e),
                &self.settings.attributes,
                self.settings.kind,
            )
        }))
    }

    /// Changes a user's password, proving the old one: `unicodePwd` delete+add over an
    /// encrypted connection on AD, the password-modify extended operation on OpenLDAP.
    pub async fn change_password(
        &self,
        dn: &str,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<(), DirError> {
        match self.settings.kind {
            DirectoryKind::Ad => {
                let quote = |p: &str| -> Vec<u8> {
                    format!("\"{p}\"")
                        .encode_utf16()
                        .flat_map(|u| u.to_le_bytes())
                        .collect()
                };
                let mods = vec![
                    Mod::Delete(
                        b"unicodePwd".to_vec(),
                        HashSet::from([quote(old.expose_secret())]),
                    ),
                    Mod::Add(
                        b"unicodePwd".to_vec(),
                        HashSet::from([quote(new.expose_secret())]),
                    ),
                ];
                // A user whose password expired cannot bind: the change goes through a
                // connection of the service account (AD grants "change password" to everyone,
                // and still checks the old password).
                let mut l = self.connect().await?;
                self.bind_service(&mut l).await?;
                let r = l
                    .with_timeout(self.op_timeout())
                    .modify(dn, mods)
                    .await
                    .map_err(transport)?;
                let _ = l.unbind().await;
                match r.rc {
                    0 => Ok(()),
                    // constraintViolation (policy, history) or a wrong old password.
                    19 | 49 | 53 => Err(DirError::PasswordRejected(
                        r.text.trim_end_matches('\0').to_owned(),
                    )),
                    _ => Err(from_result(&r)),
                }
            }
            DirectoryKind::Openldap => {
                let mut l = self.connect().await?;
                // A user whose password was reset may bind but do nothing else than change it.
                match self.user_bind(&mut l, dn, old).await {
                    Ok(()) | Err(DirError::Refused(Refusal::MustChangePassword)) => {}
                    Err(DirError::Refused(Refusal::PasswordExpired)) => {
                        self.bind_service(&mut l).await?
                    }
                    Err(e) => return Err(e),
                }
                let r = l
                    .with_timeout(self.op_timeout())
                    .extended(PasswordModify {
                        user_id: Some(dn),
                        old_pass: Some(old.expose_secret()),
                        new_pass: Some(new.expose_secret()),
                    })
                    .await
                    .map_err(transport)?;
                let _ = l.unbind().await;
                match r.1.rc {
                    0 => Ok(()),
                    19 | 49 | 50 | 53 => Err(DirError::PasswordRejected(
                        r.1.text.trim_end_matches('\0').to_owned(),
                    )),
                    _ => Err(from_result(&r.1)),
                }
            }
        }
    }

    /// Every entry under `base` matching `filter`, read in pages of `page_size` (RFC 2696) on
    /// one service connection; `each` sees every page as it arrives.
    pub async fn paged_search(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
        mut each: impl FnMut(Entries) -> anyhow::Result<()>,
    ) -> Result<usize, anyhow::Error> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let read = self.paged_search_into(base, filter, attrs, controls, tx);
        let consume = async move {
            while let Some(page) = rx.recv().await {
                each(page)?;
            }
            Ok::<(), anyhow::Error>(())
        };
        let (read, consumed) = tokio::join!(read, consume);
        consumed?;
        read
    }

    /// [`Directory::paged_search`] sending the pages to `tx`: the reader waits when the
    /// receiver is behind, so memory stays bounded by the channel's capacity.
    pub async fn paged_search_into(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
        tx: tokio::sync::mpsc::Sender<Entries>,
    ) -> Result<usize, anyhow::Error> {
        let mut l = self.connect().await?;
        self.bind_service(&mut l).await?;
        let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.settings.page_size)),
        ];
        if !controls.is_empty() {
            l.with_controls(controls);
        }
        let mut stream = l
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(transport)?;
        let mut page = Vec::with_capacity(self.settings.page_size as usize);
        let mut total = 0;
        loop {
            let next = tokio::time::timeout(self.op_timeout() * 6, stream.next())
                .await
                .map_err(|_| DirError::Unavailable("the directory stopped answering".into()))?
                .map_err(transport)?;
            let Some(e) = next else { break };
            page.push(SearchEntry::construct(e));
            total += 1;
            if page.len() >= self.settings.page_size as usize {
                tx.send(std::mem::take(&mut page))
                    .await
                    .map_err(|_| anyhow::anyhow!("the reader of the search stopped"))?;
            }
        }
        let res = stream.finish().await;
        if res.rc == 32 {
            anyhow::bail!("the base {base} does not exist in the directory");
        }
        if res.rc != 0 {
            return Err(from_result(&res).into());
        }
        if !page.is_empty() {
            tx.send(page)
                .await
                .map_err(|_| anyhow::anyhow!("the reader of the search stopped"))?;
        }
        let _ = l.unbind().await;
        Ok(total)
    }

    /// A rootDSE attribute (e.g. `highestCommittedUSN`, `defaultNamingContext`).
    pub async fn root_dse(&self, attr: &str) -> Result<Option<String>, DirError> {
        let attr = attr.to_owned();
        let timeout = self.op_timeout();
        self.with_service(move |l| {
            Box::pin(async move {
                let r = l
                    .with_timeout(timeout)
                    .search("", Scope::Base, "(objectClass=*)", vec![attr.clone()])
                    .await
                    .map_err(transport)?;
                if r.1.rc != 0 {
                    return Err(from_result(&r.1));
                }
                Ok(r.0.into_iter().next().and_then(|e| {
                    SearchEntry::construct(e)
                        .attrs
                        .into_iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&attr))
                        .and_then(|(_, v)| v.into_iter().next())
                }))
            })
        })
        .await
    }
}

/// `DOMAIN\name` → `name`; the rest trimmed.
pub fn normalize_login(login: &str) -> String {
    let login = login.trim();
    match login.rsplit_once('\\') {
        Some((_, name)) => name.to_owned(),
        None => login.to_owned(),
    }
}

/// The TLS configuration: the CA file when given, else the system's roots.
fn tls_config(ca_file: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_empty() {
        for path in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ] {
            if let Ok(iter) = CertificateDer::pem_file_iter(path) {
                for c in iter.flatten() {
                    let _ = roots.add(c);
                }
                break;
            }
        }
    } else {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| anyhow::anyhow!("ldap.ca_file: cannot read {ca_file}: {e}"))?;
        for c in certs {
            let c = c.map_err(|e| anyhow::anyhow!("ldap.ca_file: {ca_file}: {e}"))?;
            roots
                .add(c)
                .map_err(|e| anyhow::anyhow!("ldap.ca_file: {ca_file}: {e}"))?;
        }
        if roots.is_empty() {
            anyhow::bail!("ldap.ca_file: {ca_file} holds no PEM certificate");
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalised_and_escaped() {
        assert_eq!(normalize_login(" CHU\\jdupont "), "jdupont");
        assert_eq!(normalize_login("jdupont@chu.local"), "jdupont@chu.local");
        let settings = crate::config::Settings::from_overrides(
            "[ldap]\nservers = [\"ldaps://127.0.0.1:636\"]\nservice_dn = \"cn=svc\"\nuser_base = \"dc=chu,dc=local\"",
        )
        .unwrap();
        let d = Directory::new(&settings.ldap).unwrap().unwrap();
        assert_eq!(
            d.login_filter("a*)(uid=*"),
            "(&(&(objectClass=user)(objectCategory=person))(|(sAMAccountName=a\\2a\\29\\28uid=\\2a)(userPrincipalName=a\\2a\\29\\28uid=\\2a)))"
        );
    }
}
