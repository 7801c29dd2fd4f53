//! The national identifier of a health professional or structure card (IdNat_PS, rpps.md).

use std::fmt;

use super::luhn;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNatError {
    #[error("an IdNat is not empty")]
    Empty,
    #[error("unknown IdNat prefix {0:?} (8 RPPS, 0 ADELI, 3 FINESS, 5 SIRET)")]
    Prefix(char),
    #[error("an RPPS number has 11 digits")]
    Rpps,
    #[error("an ADELI number has 9 characters (digits, or 2A/2B)")]
    Adeli,
    #[error("a structure IdNat is prefix + number + '/' + internal id")]
    Structure,
}

/// What the IdNat designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdNatKind {
    Rpps,
    Adeli,
    /// Structure card (CPE/CPA) under a FINESS number.
    Finess,
    /// Structure card under a SIRET number.
    Siret,
}

/// An RPPS number: 11 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rpps(String);

impl Rpps {
    pub fn parse(s: &str) -> Result<Self, IdNatError> {
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdNatError::Rpps)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn luhn_ok(&self) -> bool {
        luhn::valid(&self.0)
    }
    /// Numbers in the `99700…` range belong to test cards.
    pub fn is_test(&self) -> bool {
        self.0.starts_with("99700")
    }
}

/// An ADELI number: 9 characters (Corsican departments 2A/2B carry a letter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Adeli(String);

impl Adeli {
    pub fn parse(s: &str) -> Result<Self, IdNatError> {
        let b = s.as_bytes();
        let ok = b.len() == 9
            && b[2..].iter().all(u8::is_ascii_digit)
            && (b[..2].iter().all(u8::is_ascii_digit)
                || (b[0] == b'2' && matches!(b[1], b'A' | b'B')));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdNatError::Adeli)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn luhn_ok(&self) -> bool {
        luhn::valid(&self.0)
    }
}

/// A national identifier, always valid in shape. A failed Luhn check is reported by
/// [`IdNat::luhn_warning`], never refused: no official text states the rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct IdNat(String);

impl IdNat {
    pub fn parse(s: &str) -> Result<Self, IdNatError> {
        let s = s.trim();
        let first = s.chars().next().ok_or(IdNatError::Empty)?;
        let rest = &s[first.len_utf8()..];
        match first {
            '8' => Rpps::parse(rest).map(|_| ()),
            '0' => Adeli::parse(rest).map(|_| ()),
            '3' | '5' => {
                let (number, internal) = rest.split_once('/').ok_or(IdNatError::Structure)?;
                let number_ok = match first {
                    '3' => crate::identity::Finess::parse(number).is_ok(),
                    _ => number.len() == 14 && number.bytes().all(|b| b.is_ascii_digit()),
                };
                let internal_ok = !internal.is_empty()
                    && internal.len() <= 30
                    && internal.bytes().all(|b| b.is_ascii_alphanumeric());
                if number_ok && internal_ok {
                    Ok(())
                } else {
                    Err(IdNatError::Structure)
                }
            }
            other => Err(IdNatError::Prefix(other)),
        }?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> IdNatKind {
        match self.0.as_bytes()[0] {
            b'8' => IdNatKind::Rpps,
            b'0' => IdNatKind::Adeli,
            b'3' => IdNatKind::Finess,
            _ => IdNatKind::Siret,
        }
    }

    /// The RPPS number, for an RPPS IdNat.
    pub fn rpps(&self) -> Option<Rpps> {
        (self.kind() == IdNatKind::Rpps).then(|| Rpps(self.0[1..].to_owned()))
    }

    /// The ADELI number, for an ADELI IdNat.
    pub fn adeli(&self) -> Option<Adeli> {
        (self.kind() == IdNatKind::Adeli).then(|| Adeli(self.0[1..].to_owned()))
    }

    /// True when the RPPS or ADELI digits fail the Luhn check (structure IdNats never warn).
    pub fn luhn_warning(&self) -> bool {
        match self.kind() {
            IdNatKind::Rpps | IdNatKind::Adeli => !luhn::valid(&self.0[1..]),
            IdNatKind::Finess | IdNatKind::Siret => false,
        }
    }

    /// A test card's number (`8 99700…`).
    pub fn is_test(&self) -> bool {
        self.rpps().is_some_and(|r| r.is_test())
    }

    /// A personal identifier (RPPS or ADELI), as opposed to a structure card.
    pub fn is_personal(&self) -> bool {
        matches!(self.kind(), IdNatKind::Rpps | IdNatKind::Adeli)
    }
}

impl fmt::Display for IdNat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for IdNat {
    type Err = IdNatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for IdNat {
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
    fn samples_from_the_spec() {
        let r = IdNat::parse("810001045367").unwrap();
        assert_eq!(r.kind(), IdNatKind::Rpps);
        assert_eq!(r.rpps().unwrap().as_str(), "10001045367");
        let a = IdNat::parse("0012600631").unwrap();
        assert_eq!(a.kind(), IdNatKind::Adeli);
        assert!(!a.luhn_warning());
        let s = IdNat::parse("3760021832/000000018").unwrap();
        assert_eq!(s.kind(), IdNatKind::Finess);
        assert!(!s.is_personal());
        assert!(IdNat::parse("899700218896").unwrap().is_test());
    }

    #[test]
    fn refusals() {
        assert_eq!(IdNat::parse(""), Err(IdNatError::Empty));
        assert_eq!(IdNat::parse("7123"), Err(IdNatError::Prefix('7')));
        assert_eq!(IdNat::parse("8123"), Err(IdNatError::Rpps));
        assert_eq!(IdNat::parse("01234"), Err(IdNatError::Adeli));
        assert_eq!(IdNat::parse("3760021832"), Err(IdNatError::Structure));
        assert_eq!(IdNat::parse("5123/1"), Err(IdNatError::Structure));
    }

    proptest! {
        #[test]
        fn rpps_roundtrip(d in "[0-9]{11}") {
            let id = IdNat::parse(&format!("8{d}")).unwrap();
            prop_assert_eq!(id.kind(), IdNatKind::Rpps);
            prop_assert_eq!(id.to_string(), format!("8{d}"));
            prop_assert_eq!(id.luhn_warning(), !luhn::valid(&d));
        }

        #[test]
        fn luhn_valid_rpps_never_warns(d in "[0-9]{10}") {
            let full = format!("8{d}{}", luhn::check_digit(&d));
            prop_assert!(!IdNat::parse(&full).unwrap().luhn_warning());
        }

        #[test]
        fn adeli_roundtrip(d in "[0-9]{9}") {
            let id = IdNat::parse(&format!("0{d}")).unwrap();
            let adeli = id.adeli().unwrap();
            prop_assert_eq!(adeli.as_str(), d.as_str());
        }

        #[test]
        fn wrong_rpps_lengths_refused(d in "[0-9]{0,10}|[0-9]{12,16}") {
            prop_assert_eq!(IdNat::parse(&format!("8{d}")), Err(IdNatError::Rpps));
        }

        #[test]
        fn structures(f in "[0-9]{9}", s in "[0-9]{14}", i in "[0-9A-Z]{1,12}") {
            prop_assert_eq!(IdNat::parse(&format!("3{f}/{i}")).unwrap().kind(), IdNatKind::Finess);
            prop_assert_eq!(IdNat::parse(&format!("5{s}/{i}")).unwrap().kind(), IdNatKind::Siret);
        }

        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = IdNat::parse(&s);
        }
    }
}
