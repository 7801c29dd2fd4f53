//! Local passwords: argon2id hashing on a few dedicated threads, off the async threads, with a
//! dummy verification for unknown accounts so that timing does not reveal which usernames
//! exist.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::PasswordSettings;

/// Hashes and verifies passwords with the configured argon2id parameters.
///
/// Hashes run on one long-lived thread per core, started at the first hash, each with its own
/// working memory kept from one hash to the next. Requests beyond that wait in a queue, so a
/// login flood holds at most one hash's memory per core. Long-lived threads stay on their core,
/// start the next hash without a hand-over through the async runtime, and never clear a fresh
/// allocation (docs/benchmarks.md has the figures).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy: Arc<String>,
    workers: Arc<Workers>,
}

/// A job for a hashing thread, given that thread's working memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The queue of the hashing threads; dropping the last sender stops them.
struct Workers {
    count: usize,
    /// The largest memory a thread keeps after a job (the configured parameters).
    keep_blocks: usize,
    queue: OnceLock<Option<Sender<Job>>>,
}

impl Workers {
    /// The queue, starting the threads on first use; `None` when none could start.
    fn queue(&self) -> Option<&Sender<Job>> {
        self.queue
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel::<Job>();
                let rx = Arc::new(Mutex::new(rx));
                let mut started = 0;
                for n in 0..self.count {
                    let (rx, keep) = (rx.clone(), self.keep_blocks);
                    let thread = std::thread::Builder::new()
                        .name(format!("argon2-{n}"))
                        .spawn(move || work(&rx, keep));
                    match thread {
                        Ok(_) => started += 1,
                        Err(e) => tracing::error!(error = %e, "cannot start a hashing thread"),
                    }
                }
                (started > 0).then_some(tx)
            })
            .as_ref()
    }
}

/// A hashing thread: runs jobs until the queue closes. A panicking job loses its answer (the
/// caller sees an error), not the thread.
fn work(jobs: &Mutex<Receiver<Job>>, keep_blocks: usize) {
    let mut memory = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
        if std::panic::catch_unwind(run).is_err() || memory.len() > keep_blocks {
            memory = Vec::new();
        }
    }
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

/// Grows `memory` to at least `blocks` blocks and hands out exactly that many.
fn fit(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    &mut memory[..blocks]
}

impl PasswordHasher {
    pub fn new(s: &PasswordSettings) -> anyhow::Result<PasswordHasher> {
        let params = Params::new(s.memory_kib, s.iterations, s.parallelism, None)
            .map_err(|e| anyhow::anyhow!("password: invalid argon2 parameters: {e}"))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let mut hasher = PasswordHasher {
            workers: Arc::new(Workers {
                count: cores,
                keep_blocks: params.block_count(),
                queue: OnceLock::new(),
            }),
            params,
            dummy: Arc::new(String::new()),
        };
        let dummy = hasher.hash_now(&mut Vec::new(), "dummy password for unknown accounts")?;
        hasher.dummy = Arc::new(dummy);
        Ok(hasher)
    }

    fn hash_now(&self, memory: &mut Vec<Block>, password: &str) -> Result<String, PasswordError> {
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
        let memory = fit(memory, self.params.block_count());
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, memory)
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
    fn matches(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
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
        let memory = fit(memory, params.block_count());
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        argon
            .hash_password_into_with_memory(password, salt, &mut out, memory)
            .is_ok()
            && Output::new(&out).is_ok_and(|out| out == expected)
    }

    /// Runs `job` on a hashing thread, in the caller's tracing span; `None` when it could not
    /// run or panicked.
    async fn on_worker<T: Send + 'static>(
        &self,
        job: impl FnOnce(&PasswordHasher, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |memory| {
            let _entered = span.enter();
            let _ = tx.send(job(&me, memory));
        });
        self.workers.queue()?.send(job).ok()?;
        rx.await.ok()
    }

    /// Hashes on a hashing thread.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        self.on_worker(move |me, memory| me.hash_now(memory, password.expose_secret()))
            .await
            .unwrap_or_else(|| Err(PasswordError::Hash("no hashing thread answered".into())))
    }

    /// Verifies on a hashing thread; with `None` runs a dummy verification and returns false.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        self.on_worker(move |me, memory| {
            let (hash, real) = match &stored {
                Some(h) => (h.as_str(), true),
                None => (me.dummy.as_str(), false),
            };
            let pw = password.expose_secret();
            pw.len() <= 1024 && PasswordHasher::matches(memory, pw.as_bytes(), hash) && real
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
    }

    /// A hashing thread keeps its memory up to the configured size, drops a larger one (an
    /// old hash with more memory), survives a panicking job and stops when the queue closes.
    #[test]
    fn hashing_thread_keeps_only_configured_memory() {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let (seen_tx, seen) = std::sync::mpsc::channel::<usize>();
        let thread = std::thread::spawn(move || work(&Mutex::new(rx), 8));
        let send = |job: Job| tx.send(job).unwrap();
        let report = |seen_tx: &std::sync::mpsc::Sender<usize>| {
            let seen_tx = seen_tx.clone();
            Box::new(move |m: &mut Vec<Block>| seen_tx.send(m.len()).unwrap()) as Job
        };
        send(Box::new(|m| {
            fit(m, 8);
        }));
        send(report(&seen_tx));
        send(Box::new(|m| {
            fit(m, 16);
        }));
        send(report(&seen_tx));
        send(Box::new(|m| {
            fit(m, 4);
            panic!("a job that fails");
        }));
        send(report(&seen_tx));
        assert_eq!(seen.recv().unwrap(), 8);
        assert_eq!(seen.recv().unwrap(), 0);
        assert_eq!(seen.recv().unwrap(), 0);
        drop(tx);
        thread.join().unwrap();
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
