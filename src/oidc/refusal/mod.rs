//! Why a request is refused, one enum per area: each value gives both the audit log's stable
//! reason code (`as_str`) and the OAuth `error` answered (`code`), so that the two never drift
//! apart. The description sent with the error is chosen where the refusal is made.

/// Declares a refusal enum: each variant with its audit reason code and its OAuth error code;
/// generates `ALL`, `as_str`, `code`, `error`, `Display` and `From<_> for String`.
macro_rules! refusal_codes {
    ($(#[$meta:meta])* $name:ident;
     $($(#[$doc:meta])* $variant:ident => ($text:literal, $code:ident),)*) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            /// Every reason, for tables and tests.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable snake_case reason code of the audit log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The OAuth error answered for this reason.
            pub fn code(self) -> $crate::protocol::ErrorCode {
                match self {
                    $($name::$variant => $crate::protocol::ErrorCode::$code,)*
                }
            }

            /// The OAuth error for this reason, with its description.
            pub fn error(self, description: impl Into<String>) -> $crate::oidc::error::OAuthError {
                $crate::oidc::error::OAuthError::new(self.code(), description)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(r: $name) -> String {
                r.as_str().to_owned()
            }
        }
    };
}

mod access;
mod authz;
mod logout;
mod token;

pub use access::InactiveToken;
pub use authz::AuthzRefusal;
pub use logout::LogoutRefusal;
pub use token::{ClientAuthRefusal, GrantRefusal, TokenRefusal};

/// Checks that reason codes are snake_case and distinct, `aliases` apart (one reason code
/// answered with two OAuth errors depending on where it happens).
#[cfg(test)]
fn assert_distinct_snake_case<'a>(texts: impl Iterator<Item = &'a str>) {
    assert_distinct_except(texts, &[]);
}

#[cfg(test)]
fn assert_distinct_except<'a>(texts: impl Iterator<Item = &'a str>, aliases: &[&str]) {
    let mut texts: Vec<&str> = texts.collect();
    for t in &texts {
        assert!(
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{t}"
        );
    }
    texts.sort_unstable();
    let before = texts.len();
    texts.dedup();
    assert_eq!(before - texts.len(), aliases.len(), "{texts:?}");
}
