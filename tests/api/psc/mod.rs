//! Pro Santé Connect seen from Trousseau: the client against a scripted PSC, the
//! `trousseau psc test` command, e-CPS pairing, key enrolment authorised by e-CPS, the purge of settled requests, end-to-end runs
//! against the real PSC sandbox, and PSC as a client (federation).

mod client;
mod command;
mod e2e;
mod enrolment;
mod federation;
mod pairing;
mod purge;
