//! Pro Santé Connect seen from Trousseau: e-CPS pairing, the purge of settled requests,
//! end-to-end runs against the real PSC sandbox, and PSC as a client (federation).

mod e2e;
mod federation;
mod pairing;
mod purge;
