//! OCSP (RFC 6960), optional beside the CRLs: the card's status asked to a responder (the one
//! named in the card's AIA extension, or a configured URL). A signed, current "good" answer
//! vouches for a card whose CRL is missing or stale; "revoked" refuses it; no usable answer
//! leaves the decision to the CRLs.

use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::ocsp::{
    OcspCertId, OcspCertStatus, OcspFlag, OcspRequest, OcspResponse, OcspResponseStatus,
};
use openssl::stack::Stack;
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

/// What a responder said about a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspVerdict {
    Good,
    Revoked,
    /// No usable answer (unreachable, unsigned, stale, unknown serial…): why.
    Unusable(String),
}

/// Clock skew tolerated on thisUpdate.
const SKEW: i64 = 300;

/// The responder named in a certificate's Authority Information Access extension.
pub fn responder_of(card_der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(card_der).ok()?;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.accessdescs.iter().find_map(|d| {
                    match (&d.access_method.to_id_string()[..], &d.access_location) {
                        ("1.3.6.1.5.5.7.48.1", GeneralName::URI(uri)) => Some((*uri).to_owned()),
                        _ => None,
                    }
                })
            }
            _ => None,
        })
}

/// The request for `card` issued by `issuer` (DER certificates), and its CertID.
fn request(card: &X509, issuer: &X509) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let id = OcspCertId::from_cert(MessageDigest::sha1(), card, issuer)?;
    let mut req = OcspRequest::new()?;
    req.add_id(id)?;
    req.to_der()
}

/// Asks `url` about the card; `cas` are the configured CAs (DER) that may sign answers or
/// issue the responder's certificate.
pub async fn ask(
    http: &reqwest::Client,
    url: &str,
    card_der: &[u8],
    issuer_der: &[u8],
    cas: &[Vec<u8>],
    now: i64,
    timeout: Duration,
) -> OcspVerdict {
    let (Ok(card), Ok(issuer)) = (X509::from_der(card_der), X509::from_der(issuer_der)) else {
        return OcspVerdict::Unusable("unreadable certificate".into());
    };
    let body = match request(&card, &issuer) {
        Ok(b) => b,
        Err(e) => return OcspVerdict::Unusable(format!("request: {e}")),
    };
    let resp = http
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/ocsp-request")
        .body(body)
        .send()
        .await;
    let bytes = match resp {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(b) => b,
            Err(e) => return OcspVerdict::Unusable(format!("{url}: {e}")),
        },
        Ok(r) => return OcspVerdict::Unusable(format!("{url}: HTTP {}", r.status())),
        Err(e) => return OcspVerdict::Unusable(format!("{url}: {e}")),
    };
    judge(&bytes, &card, &issuer, cas, now)
}

/// Reads a response: signed by the issuer or by a responder it certified, about this card,
/// current at `now`.
pub fn judge(bytes: &[u8], card: &X509, issuer: &X509, cas: &[Vec<u8>], now: i64) -> OcspVerdict {
    let unusable = |why: &str| OcspVerdict::Unusable(why.to_owned());
    let Ok(resp) = OcspResponse::from_der(bytes) else {
        return unusable("not an OCSP response");
    };
    if resp.status() != OcspResponseStatus::SUCCESSFUL {
        return unusable("the responder refused the request");
    }
    let Ok(basic) = resp.basic() else {
        return unusable("no basic response");
    };
    let verified = (|| {
        let mut store = X509StoreBuilder::new()?;
        for ca in cas {
            store.add_cert(X509::from_der(ca)?)?;
        }
        // The injected clock's time for the responder's certificate (set on the parameters
        // only: a store flag without a time would check at the epoch).
        let mut param = openssl::x509::verify::X509VerifyParam::new()?;
        param.set_time(now as _);
        param.set_flags(X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::USE_CHECK_TIME)?;
        store.set_param(&param)?;
        let store = store.build();
        let mut certs = Stack::new()?;
        certs.push(issuer.clone())?;
        basic.verify(&certs, &store, OcspFlag::empty())
    })();
    if let Err(e) = verified {
        return OcspVerdict::Unusable(format!(
            "the answer's signature or signer is not trusted: {e}"
        ));
    }
    let Ok(id) = OcspCertId::from_cert(MessageDigest::sha1(), card, issuer) else {
        return unusable("certificate id");
    };
    let Some(status) = basic.find_status(&id) else {
        return unusable("the answer is about another certificate");
    };
    let this = unix(&status.this_update.to_string());
    let next = status.next_update().map(|t| unix(&t.to_string()));
    match (this, next) {
        (Some(t), _) if t > now + SKEW => return unusable("thisUpdate in the future"),
        (_, Some(Some(n))) if n < now => return unusable("stale answer"),
        (None, _) | (_, Some(None)) => return unusable("unreadable dates"),
        _ => {}
    }
    match status.status {
        OcspCertStatus::GOOD => OcspVerdict::Good,
        OcspCertStatus::REVOKED => OcspVerdict::Revoked,
        _ => unusable("unknown to the responder"),
    }
}

/// OpenSSL's rendering of a GeneralizedTime (`Nov 24 00:40:00 2026 GMT`) as unix seconds.
fn unix(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_whitespace();
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let day: u8 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|v| v.parse::<u8>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next() != Some("GMT") {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, s).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::unix;

    use super::{OcspVerdict, judge};
    use crate::authn::cps::testpki::{OcspStatus, Pki, now};
    use openssl::x509::X509;

    #[test]
    fn signed_answers_are_read_and_others_are_not_used() {
        let pki = Pki::shared();
        let good = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
        let bad = pki.personal("810002813847", "DURAND", "PAUL", "Médecin");
        let other = pki.personal("810002813854", "MARTIN", "JEAN", "Médecin");
        let issuer = X509::from_der(&pki.personal.der).unwrap();
        let cas = vec![pki.root.der.clone(), pki.personal.der.clone()];
        let answer = pki.ocsp_response(
            &[(&good, OcspStatus::Good), (&bad, OcspStatus::Revoked)],
            now() - 60,
            now() + 3600,
        );
        let verdict = |card: &crate::authn::cps::testpki::Card, at: i64| {
            judge(
                &answer,
                &X509::from_der(&card.der).unwrap(),
                &issuer,
                &cas,
                at,
            )
        };
        assert_eq!(verdict(&good, now()), OcspVerdict::Good);
        assert_eq!(verdict(&bad, now()), OcspVerdict::Revoked);
        assert!(matches!(verdict(&other, now()), OcspVerdict::Unusable(_)));
        assert!(matches!(
            verdict(&good, now() + 7200),
            OcspVerdict::Unusable(_)
        ));
        assert!(matches!(
            verdict(&good, now() - 3600),
            OcspVerdict::Unusable(_)
        ));
        let forged = Pki::new().ocsp_response(&[(&good, OcspStatus::Good)], now() - 60, now() + 60);
        let v = judge(
            &forged,
            &X509::from_der(&good.der).unwrap(),
            &issuer,
            &cas,
            now(),
        );
        assert!(matches!(v, OcspVerdict::Unusable(_)), "{v:?}");
        assert!(matches!(
            judge(b"junk", &issuer, &issuer, &cas, now()),
            OcspVerdict::Unusable(_)
        ));
    }

    #[test]
    fn openssl_times() {
        assert_eq!(unix("Jan  1 00:00:00 2030 GMT"), Some(1_893_456_000));
        assert_eq!(unix("Nov 24 00:40:00 2026 GMT"), Some(1_795_480_800));
        assert_eq!(unix("garbage"), None);
    }
}
