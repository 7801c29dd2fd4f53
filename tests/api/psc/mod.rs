//! Pro Santé Connect seen from Trousseau: the client against a scripted PSC, the
//! `trousseau psc test` command, e-CPS pairing, the purge of settled requests, end-to-end runs
//! against the real PSC sandbox, and PSC as a client (federation).

mod client;
mod command;
mod e2e;
mod federation;
mod pairing;
mod purge;
