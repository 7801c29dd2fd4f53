//! The page toolkit shared by the browser pages and the OpenID Connect endpoints: request
//! context, cookies, CSRF-checked forms, page rendering, error pages, languages and security
//! headers. It reads only `WebSettings` and what its callers pass in, never the whole state.

pub mod context;
pub mod cookies;
pub mod error;
pub mod form;
pub mod i18n;
pub mod page;
pub mod security;
pub mod toolkit;

pub use toolkit::WebSettings;
