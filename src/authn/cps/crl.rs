//! Certificate revocation lists of the card CAs (RFC 5280 §5): parsed once, signature checked
//! against the issuing CA, revoked serials kept per issuer in a hash set (O(1) lookups), the
//! newest list of each issuer replacing the older one. Sources are files and URLs, reloaded on
//! a schedule; a source that fails keeps the last good list.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::CertificateRevocationListDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// One issuer's revocation list, as kept in memory.
#[derive(Debug)]
pub struct Crl {
    /// The issuer's Name, DER (the lookup key).
    pub issuer_raw: Vec<u8>,
    /// The issuer, for people.
    pub issuer: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub source: String,
    revoked: HashSet<Box<[u8]>>,
}

impl Crl {
    pub fn len(&self) -> usize {
        self.revoked.len()
    }
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.revoked.contains(trim_serial(serial))
    }
}

/// What the lists say about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Good,
    Revoked,
    /// No list of that issuer is loaded.
    Missing,
    /// The issuer's list is past its nextUpdate.
    Stale,
}

#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("not a DER or PEM certificate revocation list: {0}")]
    Parse(String),
    #[error("the list's issuer ({0}) is not one of the configured card CAs")]
    UnknownIssuer(String),
    #[error("the list's signature does not verify with its issuer's key")]
    Signature,
    #[error("cannot read {0}")]
    Read(String),
}

/// Serial numbers compare without their DER sign byte.
pub fn trim_serial(serial: &[u8]) -> &[u8] {
    let start = serial.iter().take_while(|b| **b == 0).count();
    &serial[start.min(serial.len().saturating_sub(1))..]
}

/// Parses a list (DER or PEM) and checks its signature with one of `cas` (DER certificates).
pub fn parse(bytes: &[u8], cas: &[Vec<u8>], source: &str) -> Result<Crl, CrlError> {
    let der;
    let bytes = if bytes.starts_with(b"-----BEGIN") {
        der = CertificateRevocationListDer::from_pem_slice(bytes)
            .map_err(|e| CrlError::Parse(e.to_string()))?;
        der.as_ref()
    } else {
        bytes
    };
    let (_, crl) =
        CertificateRevocationList::from_der(bytes).map_err(|e| CrlError::Parse(e.to_string()))?;
    let issuer_raw = crl.issuer().as_raw();
    let issuer_cert = cas
        .iter()
        .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .find(|c| c.subject().as_raw() == issuer_raw)
        .ok_or_else(|| CrlError::UnknownIssuer(crl.issuer().to_string()))?;
    crl.verify_signature(issuer_cert.public_key())
        .map_err(|_| CrlError::Signature)?;
    let revoked: HashSet<Box<[u8]>> = crl
        .iter_revoked_certificates()
        .map(|r| Box::from(trim_serial(r.raw_serial())))
        .collect();
    Ok(Crl {
        issuer_raw: issuer_raw.to_vec(),
        issuer: crl.issuer().to_string(),
        this_update: crl.last_update().timestamp(),
        next_update: crl.next_update().map(|t| t.timestamp()),
        source: source.to_owned(),
        revoked,
    })
}

/// Reads a list from a file.
pub fn load_file(path: &Path, cas: &[Vec<u8>]) -> Result<Crl, CrlError> {
    let bytes =
        std::fs::read(path).map_err(|e| CrlError::Read(format!("{}: {e}", path.display())))?;
    parse(&bytes, cas, &path.display().to_string())
}

/// The lists in force, one per issuer, shared by every request.
#[derive(Debug, Default)]
pub struct CrlStore {
    lists: RwLock<HashMap<Vec<u8>, Arc<Crl>>>,
}

impl CrlStore {
    /// Keeps `crl` unless a newer list of the same issuer is already loaded.
    pub fn install(&self, crl: Crl) -> bool {
        let mut lists = match self.lists.write() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(old) = lists.get(&crl.issuer_raw)
            && old.this_update > crl.this_update
        {
            return false;
        }
        lists.insert(crl.issuer_raw.clone(), Arc::new(crl));
        true
    }

    pub fn get(&self, issuer_raw: &[u8]) -> Option<Arc<Crl>> {
        let lists = match self.lists.read() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        lists.get(issuer_raw).cloned()
    }

    /// Every list loaded, for `cps check` and the logs.
    pub fn all(&self) -> Vec<Arc<Crl>> {
        let lists = match self.lists.read() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        lists.values().cloned().collect()
    }

    /// The status of the certificate `serial` of `issuer_raw` at `now`. A revoked serial is
    /// revoked even in a stale list.
    pub fn status(&self, issuer_raw: &[u8], serial: &[u8], now: i64) -> Revocation {
        let Some(crl) = self.get(issuer_raw) else {
            return Revocation::Missing;
        };
        if crl.is_revoked(serial) {
            Revocation::Revoked
        } else if crl.next_update.is_some_and(|n| now > n) {
            Revocation::Stale
        } else {
            Revocation::Good
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::cps::testpki::{Pki, big_crl, now};

    #[test]
    fn a_signed_list_is_loaded_and_answers() {
        let pki = Pki::shared();
        let good = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
        let bad = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
        let cas = vec![pki.root.der.clone(), pki.personal.der.clone()];
        let crl = parse(&pki.crl(&[&bad]), &cas, "test").unwrap();
        assert_eq!(crl.len(), 1);
        let store = CrlStore::default();
        assert!(store.install(crl));
        let issuer = &pki.personal.subject;
        assert_eq!(
            store.status(issuer, &bad.serial, now()),
            Revocation::Revoked
        );
        // With a DER sign byte in front, the serial is the same.
        let mut signed = vec![0u8];
        signed.extend(&good.serial);
        assert_eq!(store.status(issuer, &signed, now()), Revocation::Good);
        assert_eq!(
            store.status(&pki.root.subject, &good.serial, now()),
            Revocation::Missing
        );
        assert_eq!(
            store.status(issuer, &good.serial, now() + 30 * 86_400),
            Revocation::Stale
        );
    }

    #[test]
    fn a_list_signed_by_another_key_is_refused() {
        let pki = Pki::shared();
        // The foreign CA has the same name as the real one: only the signature tells.
        let forged = pki.crl_of(&pki.foreign, &[], now() - 60, now() + 86_400);
        let cas = vec![pki.personal.der.clone()];
        assert!(matches!(
            parse(&forged, &cas, "t"),
            Err(CrlError::Signature)
        ));
        assert!(matches!(
            parse(&forged, std::slice::from_ref(&pki.root.der), "t"),
            Err(CrlError::UnknownIssuer(_))
        ));
        assert!(matches!(parse(b"junk", &cas, "t"), Err(CrlError::Parse(_))));
    }

    #[test]
    fn an_older_list_does_not_replace_a_newer_one() {
        let pki = Pki::shared();
        let cas = vec![pki.personal.der.clone()];
        let store = CrlStore::default();
        let newer = pki.crl_of(&pki.personal, &[], now() - 60, now() + 86_400);
        let older = pki.crl_of(&pki.personal, &[vec![7]], now() - 7200, now() + 86_400);
        assert!(store.install(parse(&newer, &cas, "new").unwrap()));
        assert!(!store.install(parse(&older, &cas, "old").unwrap()));
        assert_eq!(store.get(&pki.personal.subject).unwrap().source, "new");
    }

    #[test]
    fn pem_lists_are_read() {
        let pki = Pki::shared();
        let der = pki.crl_of(&pki.personal, &[vec![1, 2, 3]], now() - 60, now() + 60);
        let pem = crate::authn::cps::testpki::pem("X509 CRL", &der);
        let crl = parse(
            pem.as_bytes(),
            std::slice::from_ref(&pki.personal.der),
            "pem",
        )
        .unwrap();
        assert!(crl.is_revoked(&[1, 2, 3]));
    }

    #[test]
    fn a_large_list_loads() {
        let pki = Pki::shared();
        let der = big_crl(&pki.personal, 20_000, now() - 60, now() + 60);
        let crl = parse(&der, std::slice::from_ref(&pki.personal.der), "big").unwrap();
        assert_eq!(crl.len(), 20_000);
        assert!(crl.is_revoked(&(5u64 | 0x4000_0000_0000).to_be_bytes()));
    }
}
