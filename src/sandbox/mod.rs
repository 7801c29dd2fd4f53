//! Sandboxes of the national services Trousseau talks to, for tests and demonstrations. Their
//! routes never mount in Trousseau's server: each runs as its own binary.

pub mod psc;
