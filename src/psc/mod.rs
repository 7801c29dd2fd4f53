//! Pro Santé Connect seen from Trousseau (psc.md): the e-CPS pairing of hospital accounts.

pub mod pairing;
