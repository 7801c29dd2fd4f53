//! Searches: a login's entry, one entry by DN, the rootDSE, and the paged searches (RFC 2696)
//! the sync reads.

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry, ldap_escape};

use super::error::{from_result, transport};
use super::{DirEntry, DirError, Entries, LdapClient, requested};
use crate::instruments::LdapOperation;

impl LdapClient {
    /// Finds the entry of a login (login name or UPN, `DOMAIN\name` accepted).
    pub async fn find_user(&self, login: &str) -> Result<Option<DirEntry>, DirError> {
        let filter = self.login_filter(login);
        let base = self.settings.user_base.clone();
        let attrs = requested(&self.settings.attributes, self.settings.kind);
        let timeout = self.op_timeout();
        let entries = self
            .with_service(LdapOperation::Search, move |l| {
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

    /// Reads one entry by DN with the service account.
    pub async fn read_dn(&self, dn: &str) -> Result<Option<DirEntry>, DirError> {
        let dn = dn.to_owned();
        let attrs = requested(&self.settings.attributes, self.settings.kind);
        let timeout = self.op_timeout();
        let filter = self.settings.user_filter.clone();
        let entries = self
            .with_service(LdapOperation::Search, move |l| {
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

    /// [`LdapClient::paged_search`] sending the pages to `tx`: the reader waits when the
    /// receiver is behind, so memory stays bounded by the channel's capacity.
    pub async fn paged_search_into(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
        controls: Vec<RawControl>,
        tx: tokio::sync::mpsc::Sender<Entries>,
    ) -> Result<usize, anyhow::Error> {
        let started = std::time::Instant::now();
        let result = self.read_pages(base, filter, attrs, controls, tx).await;
        // A fault of the directory counts; a missing base or a reader that stopped does not.
        let fault = result
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<DirError>())
            .and_then(DirError::fault);
        self.observe_fault(LdapOperation::PagedSearch, started, fault);
        result
    }

    async fn read_pages(
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
        self.with_service(LdapOperation::Search, move |l| {
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
        let d = LdapClient::new(&settings.ldap, None).unwrap().unwrap();
        assert_eq!(
            d.login_filter("a*)(uid=*"),
            "(&(&(objectClass=user)(objectCategory=person))(|(sAMAccountName=a\\2a\\29\\28uid=\\2a)(userPrincipalName=a\\2a\\29\\28uid=\\2a)))"
        );
    }
}
