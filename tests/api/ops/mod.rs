//! Running Trousseau: the command line, several nodes on one database, `/metrics`.

mod cli;
mod cluster;
mod demo;
mod metrics;
