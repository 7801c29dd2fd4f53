//! The page toolkit shared by the browser pages and the OpenID Connect endpoints: request
//! context, cookies, extractors (current session, CSRF-checked form, language), page rendering,
//! error pages and `PageError`, languages and security headers. It reads only its own app data
//! (`WebSettings`, `session::SessionReader`, the audit log) and what its callers pass in, never
//! the whole state.

pub mod context;
pub mod cookies;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod page;
pub mod security;
pub mod toolkit;

pub use toolkit::WebSettings;
