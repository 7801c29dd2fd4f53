//! The card certificate forwarded by a reverse proxy that terminated TLS (cps.md, "Getting the
//! certificate to the application"): nginx `$ssl_client_escaped_cert` (URL-escaped PEM),
//! Apache `SSL_CLIENT_CERT` (PEM, newlines often folded into spaces) or base64 DER; believed
//! only from configured proxy addresses.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use crate::config::{CertEncoding, Network};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the header is not valid {0}")]
    Encoding(&'static str),
}

/// The certificates of a header value (the card first); empty when the proxy saw no card
/// (nginx sends an empty value, some proxies "(null)").
pub fn decode(value: &str, encoding: CertEncoding) -> Result<Vec<Vec<u8>>, HeaderError> {
    let value = value.trim();
    if value.is_empty() || value == "(null)" || value == "-" {
        return Ok(Vec::new());
    }
    match encoding {
        CertEncoding::Base64Der => STANDARD
            .decode(value.split_whitespace().collect::<String>())
            .map(|d| vec![d])
            .map_err(|_| HeaderError::Encoding("base64")),
        CertEncoding::UrlPem => {
            let text =
                url::form_urlencoded::parse(format!("v={}", value.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
            pem_blocks(&text)
        }
        CertEncoding::Pem => pem_blocks(value),
    }
}

/// The CERTIFICATE blocks of a PEM text whose line breaks may have become spaces.
fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, HeaderError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let end = body.find(END).ok_or(HeaderError::Encoding("PEM"))?;
        let b64: String = body[..end].split_whitespace().collect();
        out.push(
            STANDARD
                .decode(b64)
                .map_err(|_| HeaderError::Encoding("PEM"))?,
        );
        rest = &body[end + END.len()..];
    }
    if out.is_empty() {
        return Err(HeaderError::Encoding("PEM"));
    }
    Ok(out)
}

/// Whether `peer` is one of the trusted proxies.
pub fn trusted(networks: &[Network], peer: IpAddr) -> bool {
    networks.iter().any(|n| n.contains(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::cps::testpki::{Pki, pem};

    #[test]
    fn the_three_encodings() {
        let pki = Pki::shared();
        let der = pki.personal.der.clone();
        let text = pem("CERTIFICATE", &der);
        // nginx escapes with %XX (a space is %20, '+' is %2B); '+' kept raw decodes too.
        let escaped: String = text
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(
            decode(&escaped, CertEncoding::UrlPem).unwrap(),
            vec![der.clone()]
        );
        let nginx_style = text
            .replace('\n', "%0A")
            .replace('=', "%3D")
            .replace(' ', "%20");
        assert_eq!(
            decode(&nginx_style, CertEncoding::UrlPem).unwrap(),
            vec![der.clone()]
        );
        let folded = text.replace('\n', " ");
        assert_eq!(
            decode(&folded, CertEncoding::Pem).unwrap(),
            vec![der.clone()]
        );
        let b64 = STANDARD.encode(&der);
        assert_eq!(
            decode(&b64, CertEncoding::Base64Der).unwrap(),
            vec![der.clone()]
        );
        assert!(decode("", CertEncoding::UrlPem).unwrap().is_empty());
        assert!(decode("(null)", CertEncoding::Pem).unwrap().is_empty());
        assert!(decode("garbage", CertEncoding::Pem).is_err());
        assert!(decode("%%%", CertEncoding::Base64Der).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_decodes_or_is_refused(value in ".{0,300}") {
            for e in [CertEncoding::UrlPem, CertEncoding::Pem, CertEncoding::Base64Der] {
                let _ = decode(&value, e);
            }
        }
    }
}
