//! A test PKI in the IGC-Santé shapes (cps.md): `TEST AC RACINE IGC-SANTE FORT` →
//! `TEST AC IGC-SANTE FORT PERSONNES` → cards whose subject holds one multi-valued RDN
//! CN=IdNat + SN + GN, then `title` and `C=FR`; structure cards (CPE); a foreign CA; CRLs.
//! Certificates are built with OpenSSL from names and CRLs encoded here in DER, so that the
//! multi-valued RDN is exactly what a card carries.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509, X509Builder, X509Name};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// DER: one tag-length-value.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A positive INTEGER from big-endian bytes.
pub fn integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len().saturating_sub(1));
    let mut body = bytes[start..].to_vec();
    if body.first().is_some_and(|b| b & 0x80 != 0) {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

fn utc_time(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    let text = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x17, text.as_bytes())
}

/// A Name in DER: each inner slice is one RDN (several attributes: a multi-valued RDN), kept
/// in the order given.
pub fn name(rdns: &[&[(&str, &str)]]) -> Vec<u8> {
    let mut out = Vec::new();
    for rdn in rdns {
        let mut set = Vec::new();
        for (ty, value) in rdn.iter() {
            let (oid, tag) = match *ty {
                "CN" => (3u8, 0x0c),
                "SN" => (4, 0x0c),
                "C" => (6, 0x13),
                "O" => (10, 0x0c),
                "OU" => (11, 0x0c),
                "title" => (12, 0x0c),
                "GN" => (42, 0x0c),
                "pseudonym" => (65, 0x0c),
                other => panic!("unknown attribute {other}"),
            };
            set.extend(seq(&[
                &tlv(0x06, &[0x55, 0x04, oid]),
                &tlv(tag, value.as_bytes()),
            ]));
        }
        out.extend(tlv(0x31, &set));
    }
    tlv(0x30, &out)
}

/// sha256WithRSAEncryption.
const RSA_SHA256: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];

pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const DAY: i64 = 86_400;

/// A certificate authority of the test PKI.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
    pub der: Vec<u8>,
    pub pem: String,
    /// The subject Name as DER, byte for byte.
    pub subject: Vec<u8>,
}

/// What to vary in an issued card certificate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Server authentication instead of client authentication.
    pub server_eku: bool,
    /// Issued by the foreign CA.
    pub foreign: bool,
    /// Issued by the test PKI's organisations CA (structure cards).
    pub organisations: bool,
}

/// An issued card certificate and its private key.
pub struct Card {
    pub der: Vec<u8>,
    pub pem: String,
    pub key_pem: String,
    /// The serial number, big-endian without leading zeros.
    pub serial: Vec<u8>,
}

impl Card {
    /// The serial number in upper-case hexadecimal, as `cps` commands print it.
    pub fn serial_hex(&self) -> String {
        self.serial.iter().map(|b| format!("{b:02X}")).collect()
    }
    /// Certificate and key, for an HTTP client identity.
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.pem, self.key_pem)
    }
}

pub struct Pki {
    pub root: Ca,
    /// TEST AC IGC-SANTE FORT PERSONNES.
    pub personal: Ca,
    /// TEST AC IGC-SANTE FORT ORGANISATIONS (structure cards).
    pub organisations: Ca,
    /// A CA nobody trusts, with the same names as the real one.
    pub foreign_root: Ca,
    pub foreign: Ca,
    card_key: PKey<Private>,
    next_serial: AtomicU64,
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ca_name(cn: &str) -> Vec<u8> {
    name(&[
        &[("C", "FR")],
        &[("O", "ASIP-SANTE")],
        &[("OU", "0002 187512751")],
        &[("OU", "IGC-SANTE TEST")],
        &[("CN", cn)],
    ])
}

fn make_ca(subject: Vec<u8>, issuer: Option<&Ca>, serial: u64) -> Ca {
    let key = rsa_key();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(
        &BigNum::from_u32(serial as u32)
            .unwrap()
            .to_asn1_integer()
            .unwrap(),
    )
    .unwrap();
    let name = X509Name::from_der(&subject).unwrap();
    b.set_subject_name(&name).unwrap();
    match issuer {
        Some(i) => b.set_issuer_name(i.cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&name).unwrap(),
    }
    b.set_not_before(&Asn1Time::from_unix(now() - 3650 * DAY).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now() + 3650 * DAY).unwrap())
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    let signer = issuer.map(|i| &i.key).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let der = cert.to_der().unwrap();
    Ca {
        pem: pem("CERTIFICATE", &der),
        der,
        key,
        cert,
        subject,
    }
}

impl Pki {
    pub fn new() -> Pki {
        let root = make_ca(ca_name("TEST AC RACINE IGC-SANTE FORT"), None, 1);
        let personal = make_ca(ca_name("TEST AC IGC-SANTE FORT PERSONNES"), Some(&root), 2);
        let organisations = make_ca(
            ca_name("TEST AC IGC-SANTE FORT ORGANISATIONS"),
            Some(&root),
            3,
        );
        let foreign_root = make_ca(ca_name("TEST AC RACINE IGC-SANTE FORT"), None, 1);
        let foreign = make_ca(
            ca_name("TEST AC IGC-SANTE FORT PERSONNES"),
            Some(&foreign_root),
            2,
        );
        Pki {
            root,
            personal,
            organisations,
            foreign_root,
            foreign,
            card_key: rsa_key(),
            next_serial: AtomicU64::new(0x1000 + (now() as u64 % 1_000_000) * 1000),
        }
    }

    /// One PKI for a whole test binary (RSA keys take a while to generate).
    pub fn shared() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Pki::new)
    }

    /// The anchors and intermediates as PEM bundles (trusted root; both intermediates).
    pub fn anchors_pem(&self) -> String {
        self.root.pem.clone()
    }
    pub fn intermediates_pem(&self) -> String {
        format!("{}{}", self.personal.pem, self.organisations.pem)
    }

    /// Issues a card certificate with this subject (DER Name).
    pub fn issue(&self, subject: &[u8], shape: Shape) -> Card {
        let issuer = if shape.foreign {
            &self.foreign
        } else if shape.organisations {
            &self.organisations
        } else {
            &self.personal
        };
        let serial = self
            .next_serial
            .fetch_add(1, Ordering::SeqCst)
            .to_be_bytes();
        let start = serial.iter().take_while(|b| **b == 0).count();
        let serial = serial[start..].to_vec();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(
            &BigNum::from_slice(&serial)
                .unwrap()
                .to_asn1_integer()
                .unwrap(),
        )
        .unwrap();
        b.set_subject_name(&X509Name::from_der(subject).unwrap())
            .unwrap();
        b.set_issuer_name(issuer.cert.subject_name()).unwrap();
        let nb = shape.not_before.unwrap_or(now() - DAY);
        let na = shape.not_after.unwrap_or(now() + 3 * 365 * DAY);
        b.set_not_before(&Asn1Time::from_unix(nb).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(na).unwrap()).unwrap();
        b.set_pubkey(&self.card_key).unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .build()
                .unwrap(),
        )
        .unwrap();
        let eku = if shape.server_eku {
            ExtendedKeyUsage::new().server_auth().build().unwrap()
        } else {
            ExtendedKeyUsage::new().client_auth().build().unwrap()
        };
        b.append_extension(eku).unwrap();
        b.sign(&issuer.key, MessageDigest::sha256()).unwrap();
        let der = b.build().to_der().unwrap();
        Card {
            pem: pem("CERTIFICATE", &der),
            key_pem: String::from_utf8(self.card_key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            der,
            serial,
        }
    }

    /// A personal card: `CN=<idnat> + SN + GN, title, C=FR`.
    pub fn personal(&self, idnat: &str, sn: &str, gn: &str, title: &str) -> Card {
        self.personal_with(idnat, sn, gn, title, Shape::default())
    }

    pub fn personal_with(&self, idnat: &str, sn: &str, gn: &str, title: &str, s: Shape) -> Card {
        let subject = name(&[
            &[("C", "FR")],
            &[("title", title)],
            &[("CN", idnat), ("SN", sn), ("GN", gn)],
        ]);
        self.issue(&subject, s)
    }

    /// A CPE: `C=FR, O=…, OU=1<FINESS>, title=…, pseudonym=…, CN=3<FINESS>/<id>`.
    pub fn structure(&self, finess: &str, id: &str) -> Card {
        let subject = name(&[
            &[("C", "FR")],
            &[("O", "CH DE TEST")],
            &[("OU", &format!("1{finess}"))],
            &[("title", "Carte de service santé ou social")],
            &[("pseudonym", "EMPLOYE TEST")],
            &[("CN", &format!("3{finess}/{id}"))],
        ]);
        self.issue(
            &subject,
            Shape {
                organisations: true,
                ..Shape::default()
            },
        )
    }

    /// A CRL of `ca` listing these serials, valid from `this_update` to `next_update`.
    pub fn crl_of(
        &self,
        ca: &Ca,
        revoked: &[Vec<u8>],
        this_update: i64,
        next_update: i64,
    ) -> Vec<u8> {
        let entries: Vec<Vec<u8>> = revoked
            .iter()
            .map(|s| seq(&[&integer(s), &utc_time(this_update - 60)]))
            .collect();
        crl_der(ca, &entries.concat(), this_update, next_update)
    }

    /// The personal CA's CRL, valid for a week from now.
    pub fn crl(&self, revoked: &[&Card]) -> Vec<u8> {
        let serials: Vec<Vec<u8>> = revoked.iter().map(|c| c.serial.clone()).collect();
        self.crl_of(&self.personal, &serials, now() - 3600, now() + 7 * DAY)
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// Signs a CRL whose revokedCertificates content (concatenated entries) is given.
pub fn crl_der(ca: &Ca, entries: &[u8], this_update: i64, next_update: i64) -> Vec<u8> {
    let mut tbs = Vec::new();
    tbs.extend(integer(&[1]));
    tbs.extend_from_slice(RSA_SHA256);
    tbs.extend_from_slice(&ca.subject);
    tbs.extend(utc_time(this_update));
    tbs.extend(utc_time(next_update));
    if !entries.is_empty() {
        tbs.extend(tlv(0x30, entries));
    }
    let tbs = tlv(0x30, &tbs);
    let mut signer = Signer::new(MessageDigest::sha256(), &ca.key).unwrap();
    let sig = signer.sign_oneshot_to_vec(&tbs).unwrap();
    let mut bits = vec![0u8];
    bits.extend(sig);
    seq(&[&tbs, RSA_SHA256, &tlv(0x03, &bits)])
}

/// A CRL of `ca` with `count` revoked serials (1, 2, … count), for load tests.
pub fn big_crl(ca: &Ca, count: u64, this_update: i64, next_update: i64) -> Vec<u8> {
    let when = utc_time(this_update - 60);
    let mut entries = Vec::with_capacity(count as usize * 32);
    for i in 1..=count {
        let bytes = (i | 0x4000_0000_0000).to_be_bytes();
        entries.extend(seq(&[&integer(&bytes), &when]));
    }
    crl_der(ca, &entries, this_update, next_update)
}

fn generalized_time(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x18, text.as_bytes())
}

/// The status an OCSP answer gives a card.
#[derive(Debug, Clone, Copy)]
pub enum OcspStatus {
    Good,
    Revoked,
    Unknown,
}

impl Pki {
    /// An OCSP response (RFC 6960) signed by the card CA itself, with one SingleResponse per
    /// card, valid from `this_update` to `next_update`.
    pub fn ocsp_response(
        &self,
        cards: &[(&Card, OcspStatus)],
        this_update: i64,
        next_update: i64,
    ) -> Vec<u8> {
        use openssl::sha::sha1;
        let ca = &self.personal;
        let sha1_alg: &[u8] = &[
            0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
        ];
        let name_hash = sha1(&ca.subject);
        let (_, parsed) =
            <x509_parser::certificate::X509Certificate as x509_parser::prelude::FromDer<_>>::from_der(&ca.der).unwrap();
        let key_hash = sha1(&parsed.public_key().subject_public_key.data);
        let mut singles = Vec::new();
        for (card, status) in cards {
            let cert_id = seq(&[
                sha1_alg,
                &tlv(0x04, &name_hash),
                &tlv(0x04, &key_hash),
                &integer(&card.serial),
            ]);
            let status = match status {
                OcspStatus::Good => vec![0x80, 0x00],
                OcspStatus::Revoked => tlv(0xa1, &generalized_time(this_update - 60)),
                OcspStatus::Unknown => vec![0x82, 0x00],
            };
            singles.extend(seq(&[
                &cert_id,
                &status,
                &generalized_time(this_update),
                &tlv(0xa0, &generalized_time(next_update)),
            ]));
        }
        let tbs = seq(&[
            &tlv(0xa1, &ca.subject),
            &generalized_time(this_update),
            &tlv(0x30, &singles),
        ]);
        let mut signer = Signer::new(MessageDigest::sha256(), &ca.key).unwrap();
        let sig = signer.sign_oneshot_to_vec(&tbs).unwrap();
        let mut bits = vec![0u8];
        bits.extend(sig);
        let basic = seq(&[&tbs, RSA_SHA256, &tlv(0x03, &bits)]);
        let basic_oid: &[u8] = &[
            0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01,
        ];
        let bytes = seq(&[basic_oid, &tlv(0x04, &basic)]);
        seq(&[&[0x0a, 0x01, 0x00], &tlv(0xa0, &bytes)])
    }
}
