//! Replays the committed fuzz corpora (docs/fuzzing.md): every file of `fuzz/seeds/<target>/`
//! and `fuzz/corpus/<target>/` goes through the function that fuzz target runs
//! (`fuzz/entries.rs`, included here by path), so that a change that makes one of Trousseau's
//! parsers panic on a known input fails the ordinary `cargo test`, without libFuzzer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/entries.rs"]
mod entries;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a folder, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`.
fn declared_targets() -> Vec<String> {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name = ") {
            names.push(value.trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn every_target_has_an_entry_and_a_corpus() {
    let declared = declared_targets();
    let mut known: Vec<&str> = entries::TARGETS.iter().map(|(name, _)| *name).collect();
    known.sort_unstable();
    let mut declared_sorted: Vec<&str> = declared.iter().map(String::as_str).collect();
    declared_sorted.sort_unstable();
    assert_eq!(
        declared_sorted, known,
        "fuzz/Cargo.toml and entries::TARGETS name the same targets"
    );
    for name in &declared {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source).expect("the target's source");
        assert!(
            text.contains(&format!("entries::{name}(data)")),
            "{} runs entries::{name}",
            source.display()
        );
        let seeds = files(&fuzz_dir().join("seeds").join(name));
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ holds seeds");
        assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ is committed");
    }
}

#[test]
fn committed_corpora_never_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0usize;
    for (name, run) in entries::TARGETS {
        for folder in ["seeds", "corpus"] {
            for path in files(&fuzz_dir().join(folder).join(name)) {
                let data = std::fs::read(&path).expect("a corpus file");
                replayed += 1;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    failures.push(format!("{name}: {}: {message}", path.display()));
                }
            }
        }
    }
    assert!(replayed > 0, "no corpus file was replayed");
    assert!(
        failures.is_empty(),
        "{} corpus input(s) panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(fuzz_dir().join("seeds").join(target).join(name)).expect("a seed")
}

fn seed_text(target: &str, name: &str) -> String {
    String::from_utf8(seed(target, name)).expect("a text seed")
}

/// The valid seeds pass every check, so that the fuzzers start from inputs that reach the
/// code behind signatures and chains: a regenerated key or PKI must come with new seeds.
#[test]
fn valid_seeds_pass_the_checks_behind_signatures() {
    use trousseau::authn::cps::{CardHolder, crl, ocsp};
    use trousseau::endpoint::client_auth::check_assertion;
    use trousseau::oidc::mint;

    let hint = seed_text("own_token", "id-token-hint-es256.jwt");
    mint::verify(
        entries::own_keys(),
        entries::ISSUER,
        &hint,
        Some("JWT"),
        None,
    )
    .expect("the id_token_hint seed verifies");
    let logout = seed_text("own_token", "logout-token-es256.jwt");
    let now = Some(entries::NOW);
    mint::verify(
        entries::own_keys(),
        entries::ISSUER,
        &logout,
        Some("logout+jwt"),
        now,
    )
    .expect("the logout token seed verifies");
    let access = seed_text("own_token", "access-token-ps256.jwt");
    mint::verify(
        entries::own_keys(),
        entries::ISSUER,
        &access,
        Some("at+jwt"),
        now,
    )
    .expect("the access token seed verifies");

    let client = entries::client(true);
    for name in ["es256.jwt", "rs256-without-kid.jwt", "audience-array.jwt"] {
        let assertion = seed_text("client_assertion", name);
        check_assertion(
            &client,
            &assertion,
            Some("dpi-jwt"),
            entries::ISSUER,
            entries::NOW,
        )
        .unwrap_or_else(|e| panic!("the assertion seed {name} is accepted: {e}"));
    }

    for name in [
        "id-token-rs256.txt",
        "id-token-es256.txt",
        "id-token-and-userinfo.txt",
    ] {
        let text = seed_text("psc_id_token", name);
        let (id_token, userinfo) = match text.split_once('\n') {
            Some((id, rest)) => (id, Some(rest.trim())),
            None => (text.as_str(), None),
        };
        let proven = entries::runtime()
            .block_on(entries::psc_client().verify_with_keys(
                entries::psc_keys().clone(),
                id_token,
                userinfo,
            ))
            .unwrap_or_else(|e| panic!("the PSC seed {name} is accepted: {e}"));
        assert_eq!(proven.idnat.as_str(), "810001045367");
    }

    let card = entries::card_verifier()
        .check(
            &[seed("card_subject", "personal-card.der").into()],
            entries::NOW,
        )
        .expect("the personal card seed passes the checks");
    assert!(matches!(card.holder, CardHolder::Personal { .. }));
    let card = entries::card_verifier()
        .check(
            &[seed("card_subject", "structure-card.der").into()],
            entries::NOW,
        )
        .expect("the structure card seed passes the checks");
    assert!(matches!(card.holder, CardHolder::Structure { .. }));

    let cas = entries::card_verifier().cas();
    for name in [
        "crl-personal.der",
        "crl-personal.pem",
        "crl-organisations-empty.der",
    ] {
        crl::parse(&seed("revocation", name), cas, "seed")
            .unwrap_or_else(|e| panic!("the CRL seed {name} is accepted: {e}"));
    }
    let (card, issuer) = entries::ocsp_parties();
    let good = ocsp::judge(
        &seed("revocation", "ocsp-good.der"),
        card,
        issuer,
        cas,
        entries::NOW,
    );
    assert_eq!(good, ocsp::OcspVerdict::Good);
    let revoked = seed("revocation", "ocsp-revoked.der");
    let revoked = ocsp::judge(&revoked, card, issuer, cas, entries::NOW);
    assert_eq!(revoked, ocsp::OcspVerdict::Revoked);
}
