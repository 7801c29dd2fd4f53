//! The checks of a card certificate (cps.md, "Checks on every card login"): validity dates at
//! the injected clock's time, chain to a configured anchor with the client-authentication
//! usage (rustls-webpki), key usage, revocation from the loaded CRLs, then the subject.

use std::path::Path;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::crl::{CrlStore, Revocation, trim_serial};
use super::ocsp::OcspVerdict;
use super::subject::{CardHolder, holder};
use crate::config::{CpsSettings, CrlStalePolicy};

/// Why a card certificate is refused; each has a stable reason code and a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoCard,
    Malformed,
    NotYetValid,
    Expired,
    Untrusted,
    WrongUsage,
    Revoked,
    /// No usable revocation list for the card's CA (missing, or stale under `refuse`).
    RevocationUnknown,
    Unrecognised,
    Blocked,
    NotLinked,
    StructureRefused,
    Suspended,
    Unavailable,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::NoCard => "no_card",
            Refusal::Malformed => "card_malformed",
            Refusal::NotYetValid => "card_not_yet_valid",
            Refusal::Expired => "card_expired",
            Refusal::Untrusted => "card_untrusted",
            Refusal::WrongUsage => "card_wrong_usage",
            Refusal::Revoked => "card_revoked",
            Refusal::RevocationUnknown => "card_revocation_unknown",
            Refusal::Unrecognised => "card_unrecognised",
            Refusal::Blocked => "card_blocked",
            Refusal::NotLinked => "card_not_linked",
            Refusal::StructureRefused => "structure_card_refused",
            Refusal::Suspended => "account_suspended",
            Refusal::Unavailable => "storage_unavailable",
        }
    }
}

/// A card certificate that passed every check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedCard {
    pub holder: CardHolder,
    /// The issuing CA, as text.
    pub issuer: String,
    /// Serial number, upper-case hexadecimal.
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Set when the revocation status was accepted without a current list (`crl_stale =
    /// "accept"`): `crl_stale` or `crl_missing`, to be audited.
    pub revocation_note: Option<&'static str>,
}

/// A refusal, with what was learnt of the card before it.
#[derive(Debug, Clone)]
pub struct Refused {
    pub refusal: Refusal,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub detail: Option<String>,
}

impl Refused {
    fn bare(refusal: Refusal) -> Refused {
        Refused {
            refusal,
            issuer: None,
            serial: None,
            detail: None,
        }
    }
}

/// The configured anchors and intermediates, and the revocation lists.
#[derive(Debug)]
pub struct CardVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    /// Anchors and intermediates (DER): the possible issuers of revocation lists.
    cas: Vec<Vec<u8>>,
    /// The subject (DER Name) of each of `cas`, in the same order.
    ca_subjects: Vec<Vec<u8>>,
    anchor_subjects: Vec<Vec<u8>>,
    stale: CrlStalePolicy,
    pub crls: CrlStore,
}

/// Every certificate of a PEM file.
pub fn read_pem_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds a malformed certificate", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

/// Whether a CA is one of the IGC-Santé test PKI's (`TEST AC …`, `OU=IGC-SANTE TEST`).
fn is_test_ca(der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let mut test = false;
    for attr in cert.subject().iter_attributes() {
        if let Ok(v) = attr.as_str() {
            let v = v.to_ascii_uppercase();
            test |= v.starts_with("TEST ") || v.contains("IGC-SANTE TEST");
        }
    }
    test
}

impl CardVerifier {
    /// Loads the anchors and intermediates of `[cps]`; test CAs need `allow_test_anchors`.
    pub fn new(settings: &CpsSettings) -> anyhow::Result<CardVerifier> {
        let mut anchor_ders = Vec::new();
        for path in &settings.anchors {
            anchor_ders.extend(read_pem_certs(path).context("cps.anchors")?);
        }
        let mut intermediates = Vec::new();
        for path in &settings.intermediates {
            intermediates.extend(read_pem_certs(path).context("cps.intermediates")?);
        }
        Self::from_certs(anchor_ders, intermediates, settings)
    }

    pub fn from_certs(
        anchor_ders: Vec<CertificateDer<'static>>,
        intermediates: Vec<CertificateDer<'static>>,
        settings: &CpsSettings,
    ) -> anyhow::Result<CardVerifier> {
        if anchor_ders.is_empty() {
            anyhow::bail!("cps.anchors: no trust anchor is configured");
        }
        if !settings.allow_test_anchors
            && let Some(test) = anchor_ders
                .iter()
                .chain(intermediates.iter())
                .find(|c| is_test_ca(c))
        {
            let name = X509Certificate::from_der(test)
                .map(|(_, c)| c.subject().to_string())
                .unwrap_or_default();
            anyhow::bail!(
                "cps.anchors: {name} belongs to a test PKI; set cps.allow_test_anchors = true \
                 to accept test cards (never in production)"
            );
        }
        let mut anchors = Vec::new();
        let mut anchor_subjects = Vec::new();
        for der in &anchor_ders {
            let anchor = webpki::anchor_from_trusted_cert(der)
                .map_err(|e| anyhow::anyhow!("cps.anchors: unusable trust anchor: {e:?}"))?
                .to_owned();
            anchor_subjects.push(anchor.subject.as_ref().to_vec());
            anchors.push(anchor);
        }
        let cas: Vec<Vec<u8>> = anchor_ders
            .iter()
            .chain(intermediates.iter())
            .map(|c| c.as_ref().to_vec())
            .collect();
        let ca_subjects = cas
            .iter()
            .map(|der| {
                X509Certificate::from_der(der)
                    .map(|(_, c)| c.subject().as_raw().to_vec())
                    .map_err(|e| anyhow::anyhow!("cps: unreadable CA certificate: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(CardVerifier {
            anchors,
            intermediates,
            cas,
            ca_subjects,
            anchor_subjects,
            stale: settings.crl_stale,
            crls: CrlStore::default(),
        })
    }

    /// The CA certificates (DER) that may sign revocation lists.
    pub fn cas(&self) -> &[Vec<u8>] {
        &self.cas
    }

    /// The anchors' subjects (DER names), sent as hints in a TLS certificate request.
    pub fn anchor_subjects(&self) -> &[Vec<u8>] {
        &self.anchor_subjects
    }

    /// Runs every check on the chain a client presented (card certificate first) at `now`.
    pub fn check(&self, chain: &[CertificateDer<'_>], now: i64) -> Result<CheckedCard, Refused> {
        self.decide(self.inspect(chain, now)?, None)
    }

    /// Every check but the decision on a missing or stale CRL, which may wait for OCSP.
    pub fn inspect(&self, chain: &[CertificateDer<'_>], now: i64) -> Result<Inspected, Refused> {
        let Some(end) = chain.first() else {
            return Err(Refused::bare(Refusal::NoCard));
        };
        let Ok((_, cert)) = X509Certificate::from_der(end) else {
            return Err(Refused::bare(Refusal::Malformed));
        };
        let issuer = cert.issuer().to_string();
        let serial_bytes = trim_serial(cert.raw_serial());
        let serial = hex_upper(serial_bytes);
        let refused = |refusal: Refusal, detail: Option<String>| Refused {
            refusal,
            issuer: Some(issuer.clone()),
            serial: Some(serial.clone()),
            detail,
        };
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        if now < not_before {
            return Err(refused(Refusal::NotYetValid, None));
        }
        if now > not_after {
            return Err(refused(Refusal::Expired, None));
        }
        let ee = EndEntityCert::try_from(end)
            .map_err(|e| refused(Refusal::Malformed, Some(format!("{e:?}"))))?;
        let mut intermediates: Vec<CertificateDer<'_>> = self.intermediates.clone();
        intermediates.extend(chain[1..].iter().cloned());
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now).unwrap_or(0),
        ));
        let path = ee
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.anchors,
                &intermediates,
                time,
                KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(|e| {
                let r = match e {
                    webpki::Error::CertExpired { .. } => Refusal::Expired,
                    webpki::Error::CertNotValidYet { .. } => Refusal::NotYetValid,
                    webpki::Error::RequiredEkuNotFoundContext(_) => Refusal::WrongUsage,
                    _ => Refusal::Untrusted,
                };
                refused(r, Some(format!("{e:?}")))
            })?;
        match cert.key_usage() {
            Ok(Some(ku)) if !ku.value.digital_signature() => {
                return Err(refused(Refusal::WrongUsage, Some("keyUsage".into())));
            }
            Err(_) => return Err(refused(Refusal::Malformed, Some("keyUsage".into()))),
            _ => {}
        }
        // The card itself needs a current list of its CA; an intermediate CA is checked
        // when its issuer's list (ARL) is loaded.
        let crl = self.crls.status(cert.issuer().as_raw(), serial_bytes, now);
        if crl == Revocation::Revoked {
            return Err(refused(Refusal::Revoked, None));
        }
        for ca in path.intermediate_certificates() {
            if self.crls.status(ca.issuer(), ca.serial(), now) == Revocation::Revoked {
                return Err(refused(
                    Refusal::Revoked,
                    Some("intermediate CA revoked".into()),
                ));
            }
        }
        let holder = holder(cert.subject())
            .map_err(|e| refused(Refusal::Unrecognised, Some(e.to_string())))?;
        let issuer_raw = cert.issuer().as_raw();
        let issuer_der = self
            .cas
            .iter()
            .zip(&self.ca_subjects)
            .find(|(_, subject)| subject.as_slice() == issuer_raw)
            .map(|(der, _)| der.clone())
            .or_else(|| {
                chain[1..]
                    .iter()
                    .find(|der| {
                        X509Certificate::from_der(der)
                            .is_ok_and(|(_, c)| c.subject().as_raw() == issuer_raw)
                    })
                    .map(|der| der.as_ref().to_vec())
            });
        Ok(Inspected {
            card: CheckedCard {
                holder,
                issuer,
                serial,
                not_before,
                not_after,
                revocation_note: None,
            },
            crl,
            end_der: end.as_ref().to_vec(),
            issuer_der,
        })
    }

    /// The revocation decision: a current OCSP answer first, then the CRL and its policy.
    pub fn decide(
        &self,
        inspected: Inspected,
        ocsp: Option<&OcspVerdict>,
    ) -> Result<CheckedCard, Refused> {
        let Inspected { mut card, crl, .. } = inspected;
        let refused = |refusal: Refusal, detail: &str| Refused {
            refusal,
            issuer: Some(card.issuer.clone()),
            serial: Some(card.serial.clone()),
            detail: Some(detail.to_owned()),
        };
        match (ocsp, crl) {
            (Some(OcspVerdict::Revoked), _) => Err(refused(Refusal::Revoked, "ocsp")),
            (_, Revocation::Revoked) => Err(refused(Refusal::Revoked, "crl")),
            (Some(OcspVerdict::Good), _) | (_, Revocation::Good) => Ok(card),
            (_, status @ (Revocation::Missing | Revocation::Stale)) => {
                let code = if status == Revocation::Missing {
                    "crl_missing"
                } else {
                    "crl_stale"
                };
                match self.stale {
                    CrlStalePolicy::Refuse => Err(refused(Refusal::RevocationUnknown, code)),
                    CrlStalePolicy::Accept => {
                        card.revocation_note = Some(code);
                        Ok(card)
                    }
                }
            }
        }
    }
}

/// A card certificate that passed the checks that need no network, with its CRL status.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub card: CheckedCard,
    pub crl: Revocation,
    pub end_der: Vec<u8>,
    /// The issuing CA's certificate, when configured or sent by the client (for OCSP).
    pub issuer_der: Option<Vec<u8>>,
}

pub fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::cps::crl;
    use crate::authn::cps::testpki::{Pki, Shape, now};

    fn settings(stale: &str) -> CpsSettings {
        let s = crate::config::Settings::from_overrides(&format!(
            "[cps]\nallow_test_anchors = true\ncrl_stale = \"{stale}\""
        ))
        .unwrap();
        s.cps
    }

    fn verifier(pki: &Pki, stale: &str) -> CardVerifier {
        CardVerifier::from_certs(
            vec![pki.root.der.clone().into()],
            vec![
                pki.personal.der.clone().into(),
                pki.organisations.der.clone().into(),
            ],
            &settings(stale),
        )
        .unwrap()
    }

    fn with_crl(v: &CardVerifier, der: &[u8]) {
        v.crls.install(crl::parse(der, v.cas(), "test").unwrap());
    }

    fn chain(card: &crate::authn::cps::testpki::Card) -> Vec<CertificateDer<'static>> {
        vec![card.der.clone().into()]
    }

    #[test]
    fn a_good_card_passes_and_every_bad_one_has_its_reason() {
        let pki = Pki::shared();
        let v = verifier(pki, "refuse");
        let good = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
        let revoked = pki.personal("810002813847", "DURAND", "PAUL", "Infirmier");
        with_crl(&v, &pki.crl(&[&revoked]));
        let ok = v.check(&chain(&good), now()).unwrap();
        assert_eq!(ok.holder.idnat().as_str(), "810002813839");
        assert_eq!(ok.serial, good.serial_hex());
        assert!(
            ok.issuer.contains("TEST AC IGC-SANTE FORT PERSONNES"),
            "{}",
            ok.issuer
        );
        assert_eq!(ok.revocation_note, None);

        let reason =
            |c: &crate::authn::cps::testpki::Card| v.check(&chain(c), now()).unwrap_err().refusal;
        assert_eq!(reason(&revoked), Refusal::Revoked);
        // The same holder's card, misshapen in one way each time.
        let card =
            |shape: Shape| pki.personal_with("810002813854", "MARTIN", "JEAN", "Médecin", shape);
        let expired = card(Shape {
            not_before: Some(now() - 800 * 86_400),
            not_after: Some(now() - 86_400),
            ..Shape::default()
        });
        assert_eq!(reason(&expired), Refusal::Expired);
        let future = card(Shape {
            not_before: Some(now() + 86_400),
            ..Shape::default()
        });
        assert_eq!(reason(&future), Refusal::NotYetValid);
        let foreign = card(Shape {
            foreign: true,
            ..Shape::default()
        });
        assert_eq!(reason(&foreign), Refusal::Untrusted);
        let server = card(Shape {
            server_eku: true,
            ..Shape::default()
        });
        assert_eq!(reason(&server), Refusal::WrongUsage);
        assert_eq!(v.check(&[], now()).unwrap_err().refusal, Refusal::NoCard);
        assert_eq!(
            v.check(&[CertificateDer::from(vec![1u8, 2, 3])], now())
                .unwrap_err()
                .refusal,
            Refusal::Malformed
        );
        // The clock decides: the good card is expired four years from now.
        assert_eq!(
            v.check(&chain(&good), now() + 4 * 365 * 86_400)
                .unwrap_err()
                .refusal,
            Refusal::Expired
        );
    }

    #[test]
    fn revocation_unknown_follows_the_policy() {
        let pki = Pki::shared();
        let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
        let refuse = verifier(pki, "refuse");
        let r = refuse.check(&chain(&card), now()).unwrap_err();
        assert_eq!(r.refusal, Refusal::RevocationUnknown);
        assert_eq!(r.detail.as_deref(), Some("crl_missing"));
        let stale = pki.crl_of(&pki.personal, &[], now() - 7200, now() - 3600);
        with_crl(&refuse, &stale);
        let r = refuse.check(&chain(&card), now()).unwrap_err();
        assert_eq!(r.detail.as_deref(), Some("crl_stale"));
        let accept = verifier(pki, "accept");
        with_crl(&accept, &stale);
        let ok = accept.check(&chain(&card), now()).unwrap();
        assert_eq!(ok.revocation_note, Some("crl_stale"));
    }

    #[test]
    fn structure_cards_are_recognised_and_test_anchors_need_the_switch() {
        let pki = Pki::shared();
        let v = verifier(pki, "accept");
        let cpe = pki.structure("750712184", "E123");
        let ok = v.check(&chain(&cpe), now()).unwrap();
        assert!(matches!(ok.holder, CardHolder::Structure { .. }));
        let mut s = settings("refuse");
        s.allow_test_anchors = false;
        let err =
            CardVerifier::from_certs(vec![pki.root.der.clone().into()], vec![], &s).unwrap_err();
        assert!(err.to_string().contains("allow_test_anchors"), "{err}");
    }
}
