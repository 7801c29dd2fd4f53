//! The signing key ring: per algorithm a `next` key (published ahead), a `current` key (signs),
//! and `retired` keys still published until their tokens have expired. Private parts are
//! sealed with the master key. Every node reloads the ring from the database at most a second
//! after a change, reusing keys it has already parsed.

use anyhow::{Context, anyhow};
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{ES256, JwsSigner, JwsVerifier, PS256, RS256};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::clock::SharedClock;
use crate::crypto::master_key::MasterKey;
use crate::storage::keys::{self, KeyRecord};
use crate::storage::{Db, is_unique_violation};

/// Signature algorithms Trousseau signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Rs256,
    Es256,
    Ps256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::Ps256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::Ps256 => "PS256",
        }
    }

    fn generate(self) -> anyhow::Result<Jwk> {
        Ok(match self {
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                RS256.generate_key_pair(2048)?.to_jwk_key_pair()
            }
            SigningAlg::Es256 => ES256.generate_key_pair()?.to_jwk_key_pair(),
        })
    }

    /// A signer for a private JWK of this algorithm.
    pub fn signer(self, jwk: &Jwk) -> anyhow::Result<Box<dyn JwsSigner>> {
        Ok(match self {
            SigningAlg::Rs256 => Box::new(RS256.signer_from_jwk(jwk)?),
            SigningAlg::Es256 => Box::new(ES256.signer_from_jwk(jwk)?),
            SigningAlg::Ps256 => Box::new(PS256.signer_from_jwk(jwk)?),
        })
    }

    /// A verifier for a public JWK of this algorithm.
    pub fn verifier(self, jwk: &Jwk) -> anyhow::Result<Box<dyn JwsVerifier>> {
        Ok(match self {
            SigningAlg::Rs256 => Box::new(RS256.verifier_from_jwk(jwk)?),
            SigningAlg::Es256 => Box::new(ES256.verifier_from_jwk(jwk)?),
            SigningAlg::Ps256 => Box::new(PS256.verifier_from_jwk(jwk)?),
        })
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(SigningAlg::Rs256),
            "ES256" => Ok(SigningAlg::Es256),
            "PS256" => Ok(SigningAlg::Ps256),
            other => Err(format!(
                "unsupported signing algorithm {other}: use RS256, ES256 or PS256"
            )),
        }
    }
}

/// A usable private key.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub signer: Box<dyn JwsSigner>,
}

/// A published public key.
pub struct PublicKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub jwk: Value,
    pub verifier: Box<dyn JwsVerifier>,
}

/// One consistent view of the ring.
#[derive(Default)]
pub struct KeySet {
    current: HashMap<SigningAlg, Arc<SigningKey>>,
    public: HashMap<String, Arc<PublicKey>>,
    jwks: String,
}

impl KeySet {
    pub fn signing(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.current.get(&alg)
    }
    pub fn public(&self, kid: &str) -> Option<&Arc<PublicKey>> {
        self.public.get(kid)
    }
    /// The JWKS document, serialised once per reload.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }
}

/// Loads, caches and rotates signing keys.
pub struct KeyRing {
    db: Db,
    master: Arc<MasterKey>,
    clock: SharedClock,
    cache: RwLock<(Option<Instant>, Arc<KeySet>)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

const RELOAD: Duration = Duration::from_secs(1);

impl KeyRing {
    pub fn new(db: Db, master: Arc<MasterKey>, clock: SharedClock) -> KeyRing {
        KeyRing {
            db,
            master,
            clock,
            cache: RwLock::new((None, Arc::new(KeySet::default()))),
        }
    }

    /// The current view, reloaded from the database when older than a second.
    pub async fn get(&self) -> anyhow::Result<Arc<KeySet>> {
        {
            let guard = self
                .cache
                .read()
                .map_err(|_| anyhow!("key cache poisoned"))?;
            if guard.0.is_some_and(|at| at.elapsed() < RELOAD) {
                return Ok(guard.1.clone());
            }
        }
        self.reload().await
    }

    /// Forces a reload now.
    pub async fn reload(&self) -> anyhow::Result<Arc<KeySet>> {
        let records = keys::list(self.db.pool())
            .await
            .context("cannot read signing keys")?;
        let previous = self
            .cache
            .read()
            .map_err(|_| anyhow!("key cache poisoned"))?
            .1
            .clone();
        let set = Arc::new(self.build(&records, &previous)?);
        let mut guard = self
            .cache
            .write()
            .map_err(|_| anyhow!("key cache poisoned"))?;
        *guard = (Some(Instant::now()), set.clone());
        Ok(set)
    }

    fn build(&self, records: &[KeyRecord], previous: &KeySet) -> anyhow::Result<KeySet> {
        let now = self.clock.now();
        let mut set = KeySet::default();
        let mut published = Vec::new();
        for r in records {
            let Ok(alg) = SigningAlg::from_str(&r.alg) else {
                continue;
            };
            if r.state == "retired" && r.publish_until.is_some_and(|u| u < now) {
                continue;
            }
            let public = match previous.public.get(&r.kid) {
                Some(p) => p.clone(),
                None => {
                    let jwk = Jwk::from_bytes(r.public_jwk.as_bytes())
                        .with_context(|| format!("signing key {} has a bad public JWK", r.kid))?;
                    let verifier = alg.verifier(&jwk)?;
                    let jwk_value = Value::Object(jwk.as_ref().clone());
                    Arc::new(PublicKey {
                        kid: r.kid.clone(),
                        alg,
                        jwk: jwk_value,
                        verifier,
                    })
                }
            };
            published.push(public.jwk.clone());
            set.public.insert(r.kid.clone(), public);
            if r.state == "current" {
                // The newest current key wins if two nodes raced to create one.
                let key = match previous.current.get(&alg).filter(|k| k.kid == r.kid) {
                    Some(k) => k.clone(),
                    None => {
                        let private = self
                            .master
                            .open(&r.private_enc, r.kid.as_bytes())
                            .with_context(|| format!("signing key {}", r.kid))?;
                        let jwk = Jwk::from_bytes(&private)?;
                        Arc::new(SigningKey {
                            kid: r.kid.clone(),
                            alg,
                            signer: alg.signer(&jwk)?,
                        })
                    }
                };
                set.current.insert(alg, key);
            }
        }
        set.jwks = json!({ "keys": published }).to_string();
        Ok(set)
    }

    /// Makes sure every algorithm has a current and a next key (start-up, `migrate`).
    pub async fn ensure(&self) -> anyhow::Result<()> {
        let records = keys::list(self.db.pool()).await?;
        for alg in SigningAlg::ALL {
            for state in ["current", "next"] {
                if !records
                    .iter()
                    .any(|r| r.alg == alg.as_str() && r.state == state)
                {
                    self.create(alg, state).await?;
                }
            }
        }
        self.reload().await?;
        Ok(())
    }

    async fn create(&self, alg: SigningAlg, state: &str) -> anyhow::Result<String> {
        let now = self.clock.now();
        let kid = format!(
            "{}-{}",
            alg.as_str().to_lowercase(),
            uuid::Uuid::now_v7().simple()
        );
        let mut private = tokio::task::spawn_blocking(move || alg.generate()).await??;
        private.set_key_id(&kid);
        private.set_algorithm(alg.as_str());
        private.set_key_use("sig");
        let mut public = private.to_public_key()?;
        public.set_key_id(&kid);
        public.set_algorithm(alg.as_str());
        public.set_key_use("sig");
        let record = KeyRecord {
            kid: kid.clone(),
            alg: alg.as_str().to_owned(),
            state: state.to_owned(),
            public_jwk: public.to_string(),
            private_enc: self
                .master
                .seal(private.to_string().as_bytes(), kid.as_bytes())?,
            created_at: now,
            activated_at: (state == "current").then_some(now),
            retired_at: None,
            publish_until: None,
        };
        let mut tx = self.db.begin().await?;
        match keys::insert(&mut tx, &record).await {
            Ok(()) => tx.commit().await?,
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(kid)
    }

    /// Rotates `alg`: next becomes current, current is retired but stays published for
    /// `publish_secs`, and a new next key is created. Returns the new current kid.
    pub async fn rotate(&self, alg: SigningAlg, publish_secs: i64) -> anyhow::Result<String> {
        self.ensure().await?;
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        keys::promote(&mut tx, alg.as_str(), now, now + publish_secs).await?;
        tx.commit().await?;
        self.create(alg, "next").await?;
        let purged = keys::purge(self.db.pool(), now).await?;
        tracing::info!(alg = alg.as_str(), purged, "signing key rotated");
        let set = self.reload().await?;
        set.signing(alg)
            .map(|k| k.kid.clone())
            .ok_or_else(|| anyhow!("no current key after rotation"))
    }

    /// Every key record, for `keys list`.
    pub async fn records(&self) -> anyhow::Result<Vec<KeyRecord>> {
        Ok(keys::list(self.db.pool()).await?)
    }
}
