//! Pro Santé Connect seen from Trousseau: the client against a scripted PSC, the
//! `trousseau psc test` command, and e-CPS pairing.

mod client;
mod command;
mod pairing;
