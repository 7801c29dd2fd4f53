//! The former home of the small single-purpose tables, now in files named for what they
//! store; these paths stay for one release.

pub use super::assertions::use_assertion;
pub use super::consents::{consent, put_consent};
pub use super::par::{insert_par, take_par};
pub use super::purge::purge_expired;
pub use super::revoked_tokens::{is_jti_revoked, revoke_jti};
