//! Local passwords: argon2id hashing off the async threads, with a dummy verification for
//! unknown accounts so that timing does not reveal which usernames exist.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};

use crate::config::PasswordSettings;

/// Hashes and verifies passwords with the configured argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy: Arc<String>,
    /// One hash per core at a time: more would only thrash the caches, and each hash holds
    /// `memory_kib` of memory, so a login flood cannot exhaust memory.
    permits: Arc<tokio::sync::Semaphore>,
    /// Working memory kept from one hash to the next, one buffer per permit at most: a fresh
    /// allocation would be cleared on every login, a few percent of each hash.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    buffers: usize,
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
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let mut hasher = PasswordHasher {
            params,
            dummy: Arc::new(String::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            memory: Arc::new(Mutex::new(Vec::new())),
            buffers: cores,
        };
        let dummy = hasher.hash_now("dummy password for unknown accounts")?;
        hasher.dummy = Arc::new(dummy);
        Ok(hasher)
    }

    /// Runs `f` on at least `blocks` blocks of working memory from the pool. Buffers larger
    /// than the configured parameters need (an old hash with more memory) are not kept.
    fn with_memory<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let pooled = self.memory.lock().ok().and_then(|mut pool| pool.pop());
        let mut memory = pooled.unwrap_or_default();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let result = f(&mut memory);
        if memory.len() <= self.params.block_count()
            && let Ok(mut pool) = self.memory.lock()
            && pool.len() < self.buffers
        {
            pool.push(memory);
        }
        result
    }

    fn hash_now(&self, password: &str) -> Result<String, PasswordError> {
        if password.is_empty() {
            return Err(PasswordError::Empty);
        }
        if password.len() > 1024 {
            return Err(PasswordError::TooLong);
        }
        let err = |e: &dyn std::fmt::Display| PasswordError::Hash(e.to_string());
        let salt_bytes = crate::crypto::random_bytes(16);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| err(&e))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.with_memory(self.params.block_count(), |memory| {
            argon.hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, memory)
        })
        .map_err(|e| err(&e))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| err(&e))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| err(&e))?),
        };
        Ok(hash.to_string())
    }

    /// Recomputes a stored PHC hash with its own algorithm and parameters; the comparison of
    /// the outputs is constant-time.
    fn matches(&self, password: &[u8], stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let computed = self.with_memory(blocks, |memory| {
            argon.hash_password_into_with_memory(password, salt, &mut out, memory)
        });
        computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
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
            let pw = password.expose_secret();
            if pw.len() > 1024 {
                return false;
            }
            me.matches(pw.as_bytes(), hash) && real
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

    /// Hashes from the argon2 crate's own API verify here, and ours verify there, whatever
    /// parameters the stored hash carries (smaller or larger than the configured ones).
    #[tokio::test]
    async fn compatible_with_the_standard_phc_api() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher();
        for (m, t) in [(4096, 1), (8192, 1), (12288, 2)] {
            let argon = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, t, 1, None).unwrap(),
            );
            let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
            let theirs = argon
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string();
            assert!(
                h.verify(SecretString::from("correct horse"), Some(theirs.clone()))
                    .await
            );
            assert!(
                !h.verify(SecretString::from("correct horsf"), Some(theirs))
                    .await
            );
        }
        let ours = h.hash(SecretString::from("correct horse")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(parsed.params.get_decimal("m"), Some(8192));
        let standard = Argon2::default();
        assert!(standard.verify_password(b"correct horse", &parsed).is_ok());
        assert!(standard.verify_password(b"correct horsf", &parsed).is_err());
        // The pool keeps at most one buffer per permit, none larger than the configuration.
        let pool = h.memory.lock().unwrap();
        assert!(pool.len() <= h.buffers);
        assert!(pool.iter().all(|m| m.len() == 8192));
    }

    #[tokio::test]
    async fn malformed_stored_hashes_never_verify() {
        let h = hasher();
        let good = h.hash(SecretString::from("pw")).await.unwrap();
        let no_hash = good.rsplit_once('$').unwrap().0.to_owned();
        for stored in [
            "",
            "not a hash",
            "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ",
            no_hash.as_str(),
            "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=99$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(
                !h.verify(SecretString::from("pw"), Some(stored.to_owned()))
                    .await,
                "{stored}"
            );
        }
        assert!(h.verify(SecretString::from("pw"), Some(good)).await);
    }
}
