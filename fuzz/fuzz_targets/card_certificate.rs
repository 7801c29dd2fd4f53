//! Fuzzes what a card login reads from the network: the proxy's certificate header in its
//! three encodings, and any bytes as a presented certificate or a revocation list. Refusals,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::authn::cps::CardVerifier;
use trousseau::authn::cps::crl;
use trousseau::authn::cps::header::{CertEncoding, decode};
use trousseau::config::Settings;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for encoding in [CertEncoding::UrlPem, CertEncoding::Pem, CertEncoding::Base64Der] {
        let _ = decode(&text, encoding);
    }
    let _ = crl::parse(data, &[], "fuzz");
    // Any bytes as a card certificate, against a verifier whose anchor is the bytes too.
    if let Ok(settings) = Settings::from_overrides("[cps]\nallow_test_anchors = true")
        && let Ok(v) = CardVerifier::from_certs(vec![data.to_vec().into()], vec![], &settings.cps)
    {
        let _ = v.check(&[data.to_vec().into()], 1_800_000_000);
    }
});
