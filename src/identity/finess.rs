//! FINESS numbers: 9 characters identifying a legal entity (EJ) or a geographic site (EG).

use std::fmt;

use super::luhn;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinessError {
    #[error("a FINESS number has 9 characters, got {0}")]
    Length(usize),
    #[error("a FINESS number holds digits (and 2A/2B for Corsica), got {0:?}")]
    Characters(String),
}

/// A FINESS number. Corsican numbers start with `2A`/`2B`; everything else is digits. The Luhn
/// check is a warning only ([`Finess::luhn_ok`]): the registry is authoritative, not the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Finess(String);

impl Finess {
    pub fn parse(s: &str) -> Result<Self, FinessError> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 9 {
            return Err(FinessError::Length(n));
        }
        let b = s.as_bytes();
        let corsica = b[0] == b'2' && matches!(b[1], b'A' | b'B' | b'a' | b'b');
        let rest_ok = b[2..].iter().all(u8::is_ascii_digit);
        if !(rest_ok && (corsica || b[..2].iter().all(u8::is_ascii_digit))) {
            return Err(FinessError::Characters(s.to_owned()));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number passes the Luhn check (Corsican letters read as 0, as the
    /// administration does).
    pub fn luhn_ok(&self) -> bool {
        let digits: String = self
            .0
            .chars()
            .map(|c| if c.is_ascii_digit() { c } else { '0' })
            .collect();
        luhn::valid(&digits)
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Finess {
    type Err = FinessError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for Finess {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(Finess::parse("750712184").is_ok());
        assert!(Finess::parse("2A0000010").is_ok());
        assert_eq!(Finess::parse("75071218"), Err(FinessError::Length(8)));
        assert!(matches!(
            Finess::parse("75071218X"),
            Err(FinessError::Characters(_))
        ));
    }

    proptest! {
        #[test]
        fn any_nine_digits_parse(s in "[0-9]{9}") {
            let f = Finess::parse(&s).unwrap();
            prop_assert_eq!(f.as_str(), s.as_str());
        }

        #[test]
        fn other_lengths_refused(s in "[0-9]{0,8}|[0-9]{10,14}") {
            prop_assert!(Finess::parse(&s).is_err());
        }

        #[test]
        fn luhn_digit_makes_it_ok(s in "[0-9]{8}") {
            let full = format!("{s}{}", luhn::check_digit(&s));
            prop_assert!(Finess::parse(&full).unwrap().luhn_ok());
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = Finess::parse(&s);
        }
    }
}
