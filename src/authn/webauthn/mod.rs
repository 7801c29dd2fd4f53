//! FIDO2 security keys (WebAuthn): the relying party and its attestation policy, enrolment
//! codes, and the enrolment and assertion ceremonies.

pub mod ceremony;
pub mod enrolment;
pub mod error;
pub mod verifier;

pub use ceremony::{Assertion, Authorisation, EcpsGrant, Options, Verified};
pub use error::{EcpsRefusal, KeyError};
pub use verifier::Verifier;
