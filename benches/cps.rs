//! Card-login checks for docs/benchmarks.md: verdicts/s of `CardVerifier::check` with a warm
//! revocation list, beside the raw rate of the chain's RSA signature verifications measured in
//! the same run; the load time of a CRL with 1 million entries and lookups in it.
//!
//! `cargo bench --bench cps [-- --seconds S --entries N]`

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../tests/api/cps_pki.rs"]
mod cps_pki;

use std::time::{Duration, Instant};

use cps_pki::{Pki, big_crl, now};
use rustls::pki_types::CertificateDer;
use trousseau::authn::cps::{CardVerifier, crl};
use trousseau::config::Settings;
use x509_parser::prelude::{FromDer, X509Certificate};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` for `seconds`; operations per second.
fn rate(seconds: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let until = Duration::from_secs(seconds);
    let mut n = 0u64;
    while start.elapsed() < until {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The signed part, signature and issuer key of a certificate, for a raw verification.
fn parts(cert: &[u8], issuer: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (_, c) = X509Certificate::from_der(cert).unwrap();
    let (_, i) = X509Certificate::from_der(issuer).unwrap();
    (
        c.tbs_certificate.as_ref().to_vec(),
        c.signature_value.data.to_vec(),
        i.public_key().subject_public_key.data.to_vec(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = arg(&args, "--seconds", 5);
    let entries = arg(&args, "--entries", 1_000_000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = Pki::new();
    let card = pki.personal("810002813839", "DUPONT", "ISABELLE", "Médecin");
    let settings = Settings::from_overrides("[cps]\nallow_test_anchors = true").unwrap();
    let verifier = CardVerifier::from_certs(
        vec![pki.root.der.clone().into()],
        vec![
            pki.personal.der.clone().into(),
            pki.organisations.der.clone().into(),
        ],
        &settings.cps,
    )
    .unwrap();

    // A CRL of the card CA with `entries` revoked serials: build, then time its load.
    let started = Instant::now();
    let der = big_crl(&pki.personal, entries, now() - 60, now() + 86_400);
    let built = started.elapsed();
    let started = Instant::now();
    let list = crl::parse(&der, verifier.cas(), "bench").unwrap();
    let load = started.elapsed();
    assert_eq!(list.len() as u64, entries);
    println!(
        "RESULT crl_load entries={entries} bytes={} load_ms={} (building it took {} ms)",
        der.len(),
        load.as_millis(),
        built.as_millis()
    );
    // Lookups: a revoked serial and a good one, in the big list and in a 1,000-entry list.
    let small = crl::parse(
        &big_crl(&pki.personal, 1000, now() - 60, now() + 86_400),
        verifier.cas(),
        "small",
    )
    .unwrap();
    let hit = ((entries / 2) | 0x4000_0000_0000).to_be_bytes();
    let miss = card.serial.clone();
    for (name, l) in [("1k", &small), ("big", &list)] {
        let r = rate(seconds.min(2), || {
            assert!(std::hint::black_box(l.is_revoked(&hit)) || name == "1k");
            assert!(!std::hint::black_box(l.is_revoked(&miss)));
        });
        println!("RESULT crl_lookup list={name} lookups_per_s={:.0}", r * 2.0);
    }
    verifier.crls.install(list);

    // Raw: the chain's two RSA-2048 signatures (card by its CA, CA by the root) with ring.
    let alg = webpki::ring::RSA_PKCS1_2048_8192_SHA256;
    let (tbs1, sig1, key1) = parts(&card.der, &pki.personal.der);
    let (tbs2, sig2, key2) = parts(&pki.personal.der, &pki.root.der);
    let raw = rate(seconds, || {
        alg.verify_signature(&key1, &tbs1, &sig1).unwrap();
        alg.verify_signature(&key2, &tbs2, &sig2).unwrap();
    });
    println!("RESULT raw_chain_signatures chains_per_s={raw:.0} (2 RSA-2048 verifications each)");

    // Verdicts: every check of a card login (dates, chain, usage, key usage, revocation in
    // the big list, subject).
    let chain: Vec<CertificateDer<'static>> = vec![card.der.clone().into()];
    let t = now();
    let ok = verifier.check(&chain, t).unwrap();
    assert_eq!(ok.holder.idnat().as_str(), "810002813839");
    let verdicts = rate(seconds, || {
        std::hint::black_box(verifier.check(&chain, t).unwrap());
    });
    println!(
        "RESULT card_verdicts verdicts_per_s={verdicts:.0} ratio_to_raw={:.2}",
        verdicts / raw
    );
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let verifier = &verifier;
    let chain = &chain;
    let total: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    rate(seconds, || {
                        std::hint::black_box(verifier.check(chain, t).unwrap());
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!("RESULT card_verdicts_parallel threads={threads} verdicts_per_s={total:.0}");
}
