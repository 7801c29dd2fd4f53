//! The scopes (RFC 6749 §3.3, OpenID Connect Core §5.4): the person scopes the code flow can
//! grant, each shown on the consent page, and the API scopes of clients acting for themselves.

/// Every scope that speaks of a person: the only ones the code flow grants, and never given
/// to `client_credentials`. Each has a label on the consent page (`web::i18n::scope_label`).
pub const PERSON_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "rpps",
    "roles",
    "offline_access",
];

pub fn is_person_scope(scope: &str) -> bool {
    PERSON_SCOPES.contains(&scope)
}

/// A well-formed scope token: `%x21 / %x23-5B / %x5D-7E`, at most 128 characters.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 128
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("api.read"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("é"));
        assert!(PERSON_SCOPES.iter().all(|s| is_scope_token(s)));
    }
}
