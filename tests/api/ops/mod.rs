//! Running Trousseau: the command line, several nodes on one database, `/metrics`.

mod audit_chain;
mod cli;
mod cluster;
mod demo;
mod metrics;
mod processes;
