//! The card certificate forwarded by a reverse proxy that terminated TLS (cps.md, "Getting the
//! certificate to the application"): nginx `$ssl_client_escaped_cert` (URL-escaped PEM),
//! Apache `SSL_CLIENT_CERT` (PEM, newlines often folded into spaces) or base64 DER; believed
//! only from configured proxy addresses.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// How the proxy encodes the certificate in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertEncoding {
    /// URL-escaped PEM (nginx `$ssl_client_escaped_cert`).
    UrlPem,
    /// PEM, line breaks kept or folded into spaces or tabs (Apache `SSL_CLIENT_CERT`).
    Pem,
    /// The DER certificate in base64.
    Base64Der,
}

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

/// An address or a network (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an address or a network such as 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length is 0 to {max}"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
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

    #[test]
    fn networks() {
        let n = Network::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nope").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_decodes_or_is_refused(value in ".{0,300}") {
            for e in [CertEncoding::UrlPem, CertEncoding::Pem, CertEncoding::Base64Der] {
                let _ = decode(&value, e);
            }
        }

        #[test]
        fn a_network_contains_exactly_the_addresses_sharing_its_prefix(
            net in proptest::prelude::any::<u32>(),
            ip in proptest::prelude::any::<u32>(),
            prefix in 0u8..=32,
        ) {
            let n = Network::parse(&format!("{}/{prefix}", std::net::Ipv4Addr::from(net))).unwrap();
            let shift = 32 - u32::from(prefix);
            let same = prefix == 0 || (net >> shift) == (ip >> shift);
            proptest::prop_assert_eq!(n.contains(std::net::Ipv4Addr::from(ip).into()), same);
        }
    }
}
