//! Redirection endpoints (RFC 6749 §3.1.2): an absolute URI without a fragment, compared with
//! the registered ones character for character (no normalisation).

use std::fmt;
use std::str::FromStr;

/// Why a redirect URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("{0} is not an absolute URL")]
    NotAbsolute(String),
    #[error("{0} must not contain a fragment (#)")]
    Fragment(String),
}

/// A redirect URI, kept exactly as written: equality is the exact comparison the protocol
/// demands, while `url()` gives the parsed form (scheme, host) for policy checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri {
    text: String,
    url: url::Url,
}

impl RedirectUri {
    pub fn new(value: impl Into<String>) -> Result<RedirectUri, RedirectUriError> {
        let text = value.into();
        let Ok(url) = url::Url::parse(&text) else {
            return Err(RedirectUriError::NotAbsolute(text));
        };
        // A fragment, even an empty one ("…#"), is refused; `url` keeps `Some("")` for it.
        if url.fragment().is_some() || text.contains('#') {
            return Err(RedirectUriError::Fragment(text));
        }
        Ok(RedirectUri { text, url })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Exact, character-for-character comparison with a registered value.
    pub fn matches(&self, registered: &str) -> bool {
        self.text == registered
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl FromStr for RedirectUri {
    type Err = RedirectUriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RedirectUri::new(s)
    }
}

impl serde::Serialize for RedirectUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RedirectUri::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        let u = RedirectUri::new("https://rp.example/cb?x=1").unwrap();
        assert_eq!(u.as_str(), "https://rp.example/cb?x=1");
        assert_eq!(u.url().host_str(), Some("rp.example"));
        assert!(u.matches("https://rp.example/cb?x=1"));
        assert!(!u.matches("https://rp.example/cb?x=1&y=2"));
        assert!(!u.matches("https://RP.example/cb?x=1"));
        assert!(matches!(
            RedirectUri::new("/cb"),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            RedirectUri::new(""),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        for frag in ["https://rp.example/cb#x", "https://rp.example/cb#"] {
            assert!(matches!(
                RedirectUri::new(frag),
                Err(RedirectUriError::Fragment(_))
            ));
        }
    }

    #[test]
    fn kept_as_written() {
        // The parsed form would lower-case the host and add a path: the text does not change.
        let u = RedirectUri::new("HTTPS://RP.example").unwrap();
        assert_eq!(u.to_string(), "HTTPS://RP.example");
        assert_ne!(u.url().as_str(), u.as_str());
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<RedirectUri>(&json).unwrap(), u);
    }

    proptest! {
        #[test]
        fn round_trip(path in "[a-z0-9/._-]{0,30}", query in "[a-z0-9=&]{0,20}") {
            let text = format!("https://rp.example/{path}?{query}");
            let u = RedirectUri::new(text.clone()).unwrap();
            prop_assert_eq!(u.to_string(), text.clone());
            prop_assert!(u.matches(&text));
        }

        #[test]
        fn never_holds_a_fragment(text in "\\PC{0,40}") {
            if let Ok(u) = RedirectUri::new(text) {
                prop_assert!(u.url().fragment().is_none());
                prop_assert!(!u.as_str().contains('#'));
            }
        }
    }
}
