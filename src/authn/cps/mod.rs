//! CPS smartcard login (cps.md): the card's authentication certificate presented as a TLS
//! client certificate, checked against the IGC-Santé anchors and revocation lists, mapped to
//! an identity through its RPPS link.

pub mod check;
pub mod crl;
pub mod header;
pub mod login;
pub mod ocsp;
pub mod service;
pub mod subject;
pub mod tls;

#[cfg(test)]
#[path = "../../../tests/api/cps_pki.rs"]
pub(crate) mod testpki;

pub use check::{CardVerifier, CheckedCard, Refusal};
pub use login::{CardLogin, authenticate};
pub use service::{Cps, session_has_card};
pub use subject::CardHolder;
