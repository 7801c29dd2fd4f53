//! Pro Santé Connect seen from Trousseau: e-CPS pairing and the purge of settled requests.

mod pairing;
mod purge;
