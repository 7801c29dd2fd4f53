//! Connections: failover across the replicas (a server that failed is skipped for a while),
//! TLS as configured, and the pools of idle service and user-bind connections.

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::LdapClient;
use super::error::{DirError, transport};
use crate::instruments::LdapOperation;

/// How long a server that failed to answer is skipped before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(30);

impl LdapClient {
    /// Opens a connection to server `i` (TLS as configured), without binding.
    pub async fn connect_to(&self, i: usize) -> Result<Ldap, DirError> {
        let started = Instant::now();
        let result = self.open(i).await;
        self.observe(LdapOperation::Connect, started, &result);
        result
    }

    async fn open(&self, i: usize) -> Result<Ldap, DirError> {
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
    pub(super) async fn connect(&self) -> Result<Ldap, DirError> {
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

    pub(super) fn mark(&self, i: usize, until: Option<Instant>) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = down.get_mut(i) {
            *slot = until;
        }
    }

    pub(super) fn take(pool: &Mutex<Vec<Ldap>>) -> Option<Ldap> {
        let mut p = pool.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut l) = p.pop() {
            if !l.is_closed() {
                return Some(l);
            }
        }
        None
    }

    pub(super) fn give_back(&self, pool: &Mutex<Vec<Ldap>>, mut l: Ldap) {
        if l.is_closed() {
            return;
        }
        let mut p = pool.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < self.settings.pool_size {
            p.push(l);
        }
    }

    /// A connection bound as the service account (from the pool when one is idle).
    pub(super) async fn service(&self) -> Result<Ldap, DirError> {
        if let Some(l) = Self::take(&self.service_pool) {
            return Ok(l);
        }
        let mut l = self.connect().await?;
        self.bind_service(&mut l).await?;
        Ok(l)
    }

    /// Runs `f` on a service connection, timed as `operation` (getting the connection is
    /// timed on its own); the connection goes back to the pool unless it broke.
    pub(super) async fn with_service<T, F>(
        &self,
        operation: LdapOperation,
        f: F,
    ) -> Result<T, DirError>
    where
        F: for<'a> FnOnce(
            &'a mut Ldap,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, DirError>> + Send + 'a>,
        >,
    {
        let mut l = self.service().await?;
        let started = Instant::now();
        let out = f(&mut l).await;
        self.observe(operation, started, &out);
        match &out {
            Err(DirError::Unavailable(_) | DirError::Tls(_)) => {}
            _ => self.give_back(&self.service_pool, l),
        }
        out
    }
}
