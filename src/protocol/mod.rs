//! OAuth 2.0 and OpenID Connect protocol values as types (RFC 6749, OIDC Core, RFC 8176,
//! OIDC CIBA): parsed once, valid by construction, for Trousseau's own provider and for any
//! other issuer's values (Pro Santé Connect's `eidas1`, `scope_all`). Imports nothing else of
//! the crate, so that every layer may use it.

mod acr;
mod amr;
mod client_id;
mod error;
mod prompt;
mod redirect_uri;
mod scope;

pub use acr::{Acr, AcrError, AcrLadder};
pub use amr::{Amr, AmrError};
pub use client_id::{ClientId, ClientIdError};
pub use error::{ErrorCode, UnknownErrorCode};
pub use prompt::{Prompt, PromptError, PromptSet};
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use scope::{Scope, ScopeError, ScopeSet};
