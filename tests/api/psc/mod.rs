//! Pro Santé Connect seen from Trousseau: e-CPS pairing.

mod pairing;
