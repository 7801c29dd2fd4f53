//! The browser side: extractors, cookies, CSRF, languages, security headers and pages.

pub mod assets;
pub mod card_login;
pub mod consent;
pub mod context;
pub mod cookies;
pub mod directory_login;
pub mod error;
pub mod extract;
pub mod home;
pub mod i18n;
pub mod key_login;
pub mod key_texts;
pub mod keys;
pub mod login;
pub mod ops;
pub mod page;
pub mod rejected;
pub mod routes;
pub mod security;
pub mod toolkit;

pub use routes::configure;
pub use toolkit::WebSettings;
