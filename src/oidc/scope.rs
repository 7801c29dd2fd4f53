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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Scope;

    #[test]
    fn person_scopes_are_scope_tokens() {
        assert!(PERSON_SCOPES.iter().all(|s| Scope::is_token(s)));
        assert!(is_person_scope(Scope::OPENID) && is_person_scope(Scope::OFFLINE_ACCESS));
        assert!(!is_person_scope("scope_all"));
    }
}
