//! The browser pages: login, consent, security keys, card login, home, probes and static files.

pub mod assets;
pub mod card_login;
pub mod consent;
pub mod directory_login;
pub mod home;
pub mod key_login;
pub mod key_texts;
pub mod keys;
pub mod login;
pub mod ops;
pub mod pairing;
pub mod pairing_texts;
pub mod psc_login;
pub mod psc_texts;
pub mod rejected;
pub mod routes;

pub use routes::configure;
