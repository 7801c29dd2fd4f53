//! Authentication context class references (OIDC Core §2, `acr` and `acr_values`): a plain
//! value of any issuer, and the ladder that ranks an issuer's own values.

use std::fmt;
use std::str::FromStr;

/// Why an `acr` value or a ladder was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcrError {
    #[error(
        "the acr value {0:?} is malformed (1 to 256 characters, no space or control character)"
    )]
    Malformed(String),
    #[error("the level {0} is named twice")]
    Repeated(String),
}

/// One `acr` value, as Trousseau's ladder names it (`loa2`) or another issuer sends it
/// (`eidas1`, a URI). No whitespace: `acr_values` separates values with spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acr(String);

impl Acr {
    pub fn new(value: impl Into<String>) -> Result<Acr, AcrError> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 256
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Acr(value))
        } else {
            Err(AcrError::Malformed(value))
        }
    }

    /// The values of an `acr_values` parameter, in order; empty pieces are skipped.
    pub fn parse_values(value: &str) -> Result<Vec<Acr>, AcrError> {
        value
            .split(' ')
            .filter(|v| !v.is_empty())
            .map(Acr::new)
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Acr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Acr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Acr {
    type Err = AcrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Acr::new(s)
    }
}

impl serde::Serialize for Acr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Acr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Acr::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An issuer's levels, lowest first: a value's rank is its place on the ladder. Trousseau's
/// own is `session.levels`; another issuer's values are ranked by a ladder of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcrLadder(Vec<Acr>);

impl AcrLadder {
    /// A ladder from its levels, lowest first; a level named twice is refused.
    pub fn new(levels: Vec<Acr>) -> Result<AcrLadder, AcrError> {
        for (i, l) in levels.iter().enumerate() {
            if levels[..i].contains(l) {
                return Err(AcrError::Repeated(l.to_string()));
            }
        }
        Ok(AcrLadder(levels))
    }

    /// The rank of a value (0 for the lowest), `None` when the ladder does not name it.
    pub fn rank(&self, value: &str) -> Option<usize> {
        self.0.iter().position(|l| l.as_str() == value)
    }

    /// The level at a rank.
    pub fn at(&self, rank: usize) -> Option<&Acr> {
        self.0.get(rank)
    }

    pub fn contains(&self, value: &str) -> bool {
        self.rank(value).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Acr> {
        self.0.iter()
    }

    /// The level names joined with `sep`, for messages.
    pub fn join(&self, sep: &str) -> String {
        self.0.iter().map(Acr::as_str).collect::<Vec<_>>().join(sep)
    }
}

impl serde::Serialize for AcrLadder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for AcrLadder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AcrLadder::new(Vec::<Acr>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ladder(names: &[&str]) -> AcrLadder {
        AcrLadder::new(names.iter().map(|n| Acr::new(*n).unwrap()).collect()).unwrap()
    }

    #[test]
    fn values_of_any_issuer() {
        for ok in [
            "loa1",
            "eidas1",
            "http://eidas.europa.eu/LoA/high",
            "niveau-é",
        ] {
            assert_eq!(Acr::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "a\tb", "a\nb", &"x".repeat(257)] {
            assert!(Acr::new(bad).is_err(), "{bad:?}");
        }
        let values = Acr::parse_values("eidas1  loa2").unwrap();
        assert_eq!(
            values,
            [Acr::new("eidas1").unwrap(), Acr::new("loa2").unwrap()]
        );
        assert!(Acr::parse_values("").unwrap().is_empty());
    }

    #[test]
    fn ranks_come_from_the_ladder() {
        let l = ladder(&["loa1", "loa2", "eidas-high"]);
        assert_eq!(l.rank("loa1"), Some(0));
        assert_eq!(l.rank("eidas-high"), Some(2));
        assert_eq!(l.rank("eidas1"), None);
        assert_eq!(l.at(1).map(Acr::as_str), Some("loa2"));
        assert_eq!(l.at(3), None);
        assert_eq!(l.join(", "), "loa1, loa2, eidas-high");
        let psc = ladder(&["eidas1"]);
        assert_eq!(psc.rank("eidas1"), Some(0));
        assert_eq!(
            AcrLadder::new(vec![Acr::new("a").unwrap(), Acr::new("a").unwrap()]),
            Err(AcrError::Repeated("a".into()))
        );
    }

    #[test]
    fn ladders_read_from_configuration() {
        let l: AcrLadder = serde_json::from_str(r#"["loa1","loa2","loa3"]"#).unwrap();
        assert_eq!(l, ladder(&["loa1", "loa2", "loa3"]));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"["loa1","loa2","loa3"]"#
        );
        assert!(serde_json::from_str::<AcrLadder>(r#"["a","a"]"#).is_err());
        assert!(serde_json::from_str::<AcrLadder>(r#"["a b"]"#).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in "[!-~]{1,40}") {
            let acr = Acr::new(v.clone()).unwrap();
            prop_assert_eq!(acr.to_string(), v.clone());
            prop_assert_eq!(acr.to_string().parse::<Acr>().unwrap(), acr);
        }

        #[test]
        fn never_holds_whitespace(v in "\\PC{0,40}") {
            if let Ok(acr) = Acr::new(v) {
                prop_assert!(!acr.as_str().contains(char::is_whitespace));
            }
        }
    }
}
