//! Pro Santé Connect seen from Trousseau: e-CPS pairing, and PSC as a client (federation).

mod federation;
mod pairing;
