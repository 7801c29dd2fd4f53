//! Scopes (RFC 6749 §3.3): a scope token, and the set a request, a grant or a client holds.

use std::fmt;
use std::str::FromStr;

/// Why a scope value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the scope {0:?} is malformed (1 to 128 printable ASCII characters, no space, quote or backslash)"
)]
pub struct ScopeError(pub String);

/// One scope token: `%x21 / %x23-5B / %x5D-7E`, at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    pub const OPENID: &'static str = "openid";
    pub const OFFLINE_ACCESS: &'static str = "offline_access";

    pub fn new(value: impl Into<String>) -> Result<Scope, ScopeError> {
        let value = value.into();
        if Scope::is_token(&value) {
            Ok(Scope(value))
        } else {
            Err(ScopeError(value))
        }
    }

    /// Whether `value` is a well-formed scope token.
    pub fn is_token(value: &str) -> bool {
        !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The scopes of a request or a grant, in the order first given, each once. `Display` writes
/// the space-separated value of the `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-separated `scope` value; empty pieces (double spaces) are skipped and a
    /// repeated scope counts once.
    pub fn parse(value: &str) -> Result<ScopeSet, ScopeError> {
        value
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::new)
            .collect()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// Adds a scope at the end unless it is already there.
    pub fn insert(&mut self, scope: Scope) {
        if !self.contains(scope.as_str()) {
            self.0.push(scope);
        }
    }

    /// The scopes of `self` that `allowed` also holds, in `self`'s order.
    pub fn intersection<'a, I, S>(&self, allowed: I) -> ScopeSet
    where
        I: IntoIterator<Item = &'a S>,
        S: AsRef<str> + ?Sized + 'a,
    {
        let allowed: Vec<&str> = allowed.into_iter().map(AsRef::as_ref).collect();
        self.0
            .iter()
            .filter(|s| allowed.contains(&s.as_str()))
            .cloned()
            .collect()
    }

    /// The first scope of `self` that `other` does not hold.
    pub fn first_missing_from(&self, other: &ScopeSet) -> Option<&Scope> {
        self.0.iter().find(|s| !other.contains(s.as_str()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The scopes as plain strings, for code that matches on names.
    pub fn as_strs(&self) -> Vec<&str> {
        self.0.iter().map(Scope::as_str).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScopeSet::parse(s)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ScopeSet::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens() {
        assert!(Scope::new("api.read").is_ok());
        assert!(Scope::new("scope_all").is_ok());
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            assert_eq!(Scope::new(bad), Err(ScopeError(bad.to_owned())), "{bad:?}");
        }
        assert!(Scope::new("x".repeat(128)).is_ok());
        assert!(Scope::new("x".repeat(129)).is_err());
    }

    #[test]
    fn sets_keep_the_first_order_once() {
        let s = ScopeSet::parse("openid  profile openid email").unwrap();
        assert_eq!(s.to_string(), "openid profile email");
        assert_eq!(s.len(), 3);
        assert!(s.contains("profile"));
        assert!(!s.contains("rpps"));
        assert_eq!(ScopeSet::parse("").unwrap(), ScopeSet::default());
        assert!(ScopeSet::parse("openid a\"b").is_err());
    }

    #[test]
    fn intersection_and_missing() {
        let asked = ScopeSet::parse("openid scope_all email").unwrap();
        let allowed = ["email", "openid"];
        assert_eq!(asked.intersection(&allowed).to_string(), "openid email");
        let allowed = vec!["openid".to_owned()];
        assert_eq!(asked.intersection(&allowed).to_string(), "openid");
        let granted = ScopeSet::parse("openid email").unwrap();
        assert_eq!(
            asked.first_missing_from(&granted).map(Scope::as_str),
            Some("scope_all")
        );
        assert_eq!(granted.first_missing_from(&asked), None);
    }

    #[test]
    fn serde_is_the_parameter_value() {
        let s = ScopeSet::parse("openid scope_all").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"openid scope_all\"");
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), s);
        assert!(serde_json::from_str::<ScopeSet>("\"a\\\\b\"").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(words in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..8)) {
            let set = ScopeSet::parse(&words.join(" ")).unwrap();
            let again = ScopeSet::parse(&set.to_string()).unwrap();
            prop_assert_eq!(&again, &set);
            prop_assert!(set.len() <= words.len());
            for w in &words {
                prop_assert!(set.contains(w));
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,64}") {
            let _ = ScopeSet::parse(&text);
        }
    }
}
