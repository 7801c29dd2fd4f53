//! Local passwords: argon2id hashing off the async threads, with a dummy verification for
//! unknown accounts so that timing does not reveal which usernames exist.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use crate::config::PasswordSettings;

/// Hashes and verifies passwords with the configured argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy: Arc<String>,
    /// One hash per core at a time: more would only thrash the caches, and each hash holds
    /// `memory_kib` of memory, so a login flood cannot exhaust memory.
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordHasher({:?})", self.params)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than 1024 bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl PasswordHasher {
    pub fn new(s: &PasswordSettings) -> anyhow::Result<PasswordHasher> {
        let params = Params::new(s.memory_kib, s.iterations, s.parallelism, None)
            .map_err(|e| anyhow::anyhow!("password: invalid argon2 parameters: {e}"))?;
        let mut hasher = PasswordHasher {
            params,
            dummy: Arc::new(String::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            )),
        };
        let dummy = hasher.hash_now("dummy password for unknown accounts")?;
        hasher.dummy = Arc::new(dummy);
        Ok(hasher)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_now(&self, password: &str) -> Result<String, PasswordError> {
        if password.is_empty() {
            return Err(PasswordError::Empty);
        }
        if password.len() > 1024 {
            return Err(PasswordError::TooLong);
        }
        let salt = SaltString::encode_b64(&crate::crypto::random_bytes(16))
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        self.argon()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Hashes on a blocking thread.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.hash_now(password.expose_secret()))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Verifies on a blocking thread; with `None` runs a dummy verification and returns false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let me = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let (hash, real) = match &stored {
                Some(h) => (h.as_str(), true),
                None => (me.dummy.as_str(), false),
            };
            let Ok(parsed) = PasswordHash::new(hash) else {
                return false;
            };
            let pw = password.expose_secret();
            if pw.len() > 1024 {
                return false;
            }
            // The stored hash carries its own parameters; argon2's comparison is constant-time.
            let ok = me.argon().verify_password(pw.as_bytes(), &parsed).is_ok();
            ok && real
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(&PasswordSettings {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hasher();
        let stored = h.hash(SecretString::from("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            h.verify(SecretString::from("correct horse"), Some(stored.clone()))
                .await
        );
        assert!(!h.verify(SecretString::from("wrong"), Some(stored)).await);
        assert!(
            !h.verify(
                SecretString::from("dummy password for unknown accounts"),
                None
            )
            .await
        );
        assert!(h.hash(SecretString::from("")).await.is_err());
    }
}
