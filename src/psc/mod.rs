//! Pro Santé Connect (psc.md): the values of its protocol, shared by Trousseau's PSC client
//! and the PSC sandbox so that both agree by construction; the e-CPS pairing of hospital
//! accounts.

pub mod pairing;
pub mod protocol;
