//! Client identifiers (RFC 6749 §2.2, Appendix A.1): 1 to 255 characters of `VSCHAR`.

use std::fmt;
use std::str::FromStr;

/// Why a client identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the client id {0:?} is malformed (1 to 255 printable ASCII characters)")]
pub struct ClientIdError(pub String);

/// A client identifier, of Trousseau's clients or of Trousseau at another issuer. Trousseau's
/// registration rule is narrower (`admin::clients`); this type holds what the protocol allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub fn new(value: impl Into<String>) -> Result<ClientId, ClientIdError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 255
            && value.bytes().all(|b| (0x20..=0x7E).contains(&b));
        if ok {
            Ok(ClientId(value))
        } else {
            Err(ClientIdError(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<ClientId> for str {
    fn eq(&self, other: &ClientId) -> bool {
        self == other.0
    }
}

impl PartialEq<ClientId> for &str {
    fn eq(&self, other: &ClientId) -> bool {
        *self == other.0
    }
}

impl PartialEq<ClientId> for String {
    fn eq(&self, other: &ClientId) -> bool {
        *self == other.0
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl From<&ClientId> for String {
    fn from(id: &ClientId) -> String {
        id.0.clone()
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClientId::new(s)
    }
}

impl FromStr for ClientId {
    type Err = ClientIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientId::new(s)
    }
}

impl serde::Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ClientId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        for ok in ["dpi", "PSC-client:1", "a b", &"x".repeat(255)] {
            assert_eq!(ClientId::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "é", "a\nb", "\u{7f}", &"x".repeat(256)] {
            assert!(ClientId::new(bad).is_err(), "{bad:?}");
        }
        let id = ClientId::new("dpi").unwrap();
        assert!(id == "dpi");
        assert_eq!(String::from(&id), "dpi");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"dpi\"");
        assert!(serde_json::from_str::<ClientId>("\"\"").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in "[ -~]{1,255}") {
            let id = ClientId::new(v.clone()).unwrap();
            prop_assert_eq!(id.to_string().parse::<ClientId>().unwrap(), id);
        }
    }
}
