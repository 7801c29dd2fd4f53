//! Trousseau: a hospital's own OpenID Connect provider, built to become a third-party identity
//! provider of Pro Santé Connect.

pub mod admin;
pub mod app;
pub mod audit;
pub mod authn;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod directory;
pub mod endpoint;
pub mod identity;
pub mod instruments;
pub mod ldap;
pub mod metrics;
pub mod oidc;
pub mod protocol;
pub mod psc;
pub mod sandbox;
pub mod session;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod ui;
pub mod web;
pub mod workers;
