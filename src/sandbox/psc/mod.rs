//! The Pro Santé Connect sandbox (psc.md, docs/psc-sandbox.md): an OpenID Connect provider
//! that behaves like PSC's public sandbox (BAS), with CIBA in poll mode, an e-CPS "phone"
//! page, and professionals read from an RPPS extraction file. Run by the
//! `trousseau-psc-sandbox` binary. Its broker sends professionals to a Trousseau
//! (`kc_idp_hint`) and pairs establishment accounts to national identities.

pub mod broker;
pub mod broker_idp;
pub mod broker_logout;
pub mod broker_pages;
pub mod broker_store;
pub mod broker_texts;
pub mod client_auth;
pub mod config;
pub mod directory;
pub mod oauth;
pub mod pages;
pub mod server;
pub mod store;
pub mod texts;
pub mod tokens;

pub use config::SandboxSettings;
pub use server::{Sandbox, run};
