//! The subject of a CPS card certificate, read from its DER (cps.md, "Subject of a personal
//! card certificate"): one multi-valued RDN with CN = IdNat, SN and GN for a personal card;
//! `CN=3<FINESS>/<id>` or `CN=5<SIRET>/<id>` for a structure card (CPE/CPA).

use x509_parser::x509::X509Name;

use crate::identity::{IdNat, IdNatKind};

/// Who a card certificate names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CardHolder {
    /// A health professional's personal card (CPS).
    Personal {
        idnat: IdNat,
        family_name: String,
        given_name: String,
        /// The `title` attribute: the profession label ("Médecin", "Pharmacien"…).
        profession: Option<String>,
    },
    /// A structure card (CPE, CPA): an employee of an establishment, no RPPS number.
    Structure {
        idnat: IdNat,
        organisation: Option<String>,
        label: Option<String>,
    },
}

impl CardHolder {
    pub fn idnat(&self) -> &IdNat {
        match self {
            CardHolder::Personal { idnat, .. } | CardHolder::Structure { idnat, .. } => idnat,
        }
    }
}

/// Why a subject is not a card holder's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("the subject has no CN")]
    NoCommonName,
    #[error("the subject's CN is not a national identifier: {0}")]
    IdNat(String),
    #[error("a personal card's subject holds CN, SN and GN in one multi-valued RDN")]
    NotMultiValued,
    #[error("an attribute of the subject is not readable text")]
    Encoding,
}

// 2.5.4.x attribute types, DER-encoded OID bodies.
const CN: &[u8] = &[0x55, 0x04, 3];
const SN: &[u8] = &[0x55, 0x04, 4];
const O: &[u8] = &[0x55, 0x04, 10];
const TITLE: &[u8] = &[0x55, 0x04, 12];
const GN: &[u8] = &[0x55, 0x04, 42];

/// Reads the holder from a parsed subject; never from a DN string, whose rendering of
/// multi-valued RDNs differs between libraries.
pub fn holder(name: &X509Name<'_>) -> Result<CardHolder, SubjectError> {
    let mut title = None;
    let mut organisation = None;
    let mut personal = None;
    let mut common_name = None;
    for rdn in name.iter() {
        let mut cn = None;
        let mut sn = None;
        let mut gn = None;
        for attr in rdn.iter() {
            let ty = attr.attr_type().as_bytes();
            let text = || {
                attr.as_str()
                    .map(str::to_owned)
                    .map_err(|_| SubjectError::Encoding)
            };
            match ty {
                CN => cn = Some(text()?),
                SN => sn = Some(text()?),
                GN => gn = Some(text()?),
                TITLE => title = Some(text()?),
                O => organisation = Some(text()?),
                _ => {}
            }
        }
        match (cn, sn, gn) {
            (Some(cn), Some(sn), Some(gn)) if rdn.iter().count() >= 3 => {
                personal = Some((cn, sn, gn));
            }
            (Some(cn), _, _) => common_name = Some(cn),
            _ => {}
        }
    }
    if let Some((cn, sn, gn)) = personal {
        let idnat = IdNat::parse(&cn).map_err(|e| SubjectError::IdNat(e.to_string()))?;
        if !idnat.is_personal() {
            return Err(SubjectError::IdNat(format!(
                "{cn} is a structure identifier in a personal card's shape"
            )));
        }
        return Ok(CardHolder::Personal {
            idnat,
            family_name: sn,
            given_name: gn,
            profession: title,
        });
    }
    let cn = common_name.ok_or(SubjectError::NoCommonName)?;
    let idnat = IdNat::parse(&cn).map_err(|e| SubjectError::IdNat(e.to_string()))?;
    match idnat.kind() {
        IdNatKind::Finess | IdNatKind::Siret => Ok(CardHolder::Structure {
            idnat,
            organisation,
            label: title,
        }),
        IdNatKind::Rpps | IdNatKind::Adeli => Err(SubjectError::NotMultiValued),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::cps::testpki::{self, Pki};
    use x509_parser::prelude::FromDer;

    fn holder_of(der: &[u8]) -> Result<CardHolder, SubjectError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).unwrap();
        holder(cert.subject())
    }

    #[test]
    fn personal_card_in_either_attribute_order() {
        let pki = Pki::shared();
        let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
        assert_eq!(
            holder_of(&card.der).unwrap(),
            CardHolder::Personal {
                idnat: IdNat::parse("810002813839").unwrap(),
                family_name: "DUPONT".into(),
                given_name: "ISABELLE".into(),
                profession: Some("Médecin".into()),
            }
        );
        // SN first, as some test cards have it.
        let subject = testpki::name(&[
            &[
                ("SN", "PHARMACH0007512"),
                ("CN", "899700075122"),
                ("GN", "CAROLE"),
            ],
            &[("title", "Pharmacien")],
            &[("C", "FR")],
        ]);
        let card = pki.issue(&subject, testpki::Shape::default());
        let h = holder_of(&card.der).unwrap();
        assert_eq!(h.idnat().as_str(), "899700075122");
        assert!(matches!(h, CardHolder::Personal { ref given_name, .. } if given_name == "CAROLE"));
    }

    #[test]
    fn structure_card() {
        let pki = Pki::shared();
        let card = pki.structure("750712184", "E123");
        match holder_of(&card.der).unwrap() {
            CardHolder::Structure {
                idnat,
                organisation,
                label,
            } => {
                assert_eq!(idnat.as_str(), "3750712184/E123");
                assert_eq!(organisation.as_deref(), Some("CH DE TEST"));
                assert_eq!(label.as_deref(), Some("Carte de service santé ou social"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn single_valued_personal_cn_is_refused() {
        let pki = Pki::shared();
        let subject = testpki::name(&[
            &[("CN", "810002813839")],
            &[("SN", "DUPONT")],
            &[("GN", "ISABELLE")],
            &[("C", "FR")],
        ]);
        let card = pki.issue(&subject, testpki::Shape::default());
        assert_eq!(holder_of(&card.der), Err(SubjectError::NotMultiValued));
        let subject = testpki::name(&[&[("CN", "www.example.org")], &[("C", "FR")]]);
        let card = pki.issue(&subject, testpki::Shape::default());
        assert!(matches!(holder_of(&card.der), Err(SubjectError::IdNat(_))));
    }
}
