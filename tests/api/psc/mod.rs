//! Pro Santé Connect seen from Trousseau: e-CPS pairing, the purge of settled requests, and
//! end-to-end runs against the real PSC sandbox.

mod e2e;
mod pairing;
mod purge;
