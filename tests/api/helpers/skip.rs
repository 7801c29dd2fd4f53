//! A test whose real peer is missing (slapd, Samba AD, nginx, Chromium…) never passes silently:
//! it prints `SKIP <test>: <reason>` where the run shows it (`scripts/test-all` counts these
//! lines in its summary), and under `CI=true` or `TROUSSEAU_REQUIRE_PEERS=1` it fails instead.

use std::io::Write;

/// Whether a missing peer must fail the test rather than skip it.
pub fn peers_required() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("TROUSSEAU_REQUIRE_PEERS").as_deref() == Ok("1")
}

/// Records that the current test cannot run for `reason`: fails it when peers are required,
/// otherwise prints the `SKIP` line. The caller then returns early.
pub fn skip(reason: &str) {
    assert!(
        !peers_required(),
        "{reason}; a missing peer fails the test under CI=true or TROUSSEAU_REQUIRE_PEERS=1"
    );
    // libtest names each test's thread after the test (not with --test-threads=1).
    let thread = std::thread::current();
    let test = thread
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("<test>");
    // Straight to the process's stderr in one write: libtest captures only `eprintln!`, and
    // the line must show whatever the capture, and not interleave with other tests' output.
    let line = format!("SKIP {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}
