//! Authentication method references (RFC 8176 §2, the IANA registry): the registered values
//! as variants, and any other well-formed value an issuer defines for its own means.

use std::fmt;
use std::str::FromStr;

/// One `amr` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Amr {
    /// Biometric facial recognition.
    Face,
    /// Fingerprint biometric.
    Fpt,
    /// Geolocation.
    Geo,
    /// Proof of possession of a hardware-secured key.
    Hwk,
    /// Iris scan.
    Iris,
    /// Knowledge-based authentication.
    Kba,
    /// Multiple-channel authentication.
    Mca,
    /// Multiple-factor authentication.
    Mfa,
    /// One-time password.
    Otp,
    /// Personal identification number.
    Pin,
    /// Proof of possession of a key.
    Pop,
    /// Password.
    Pwd,
    /// Risk-based authentication.
    Rba,
    /// Retina scan.
    Retina,
    /// Smart card.
    Sc,
    /// Confirmation by SMS.
    Sms,
    /// Proof of possession of a software-secured key.
    Swk,
    /// Confirmation by telephone call.
    Tel,
    /// User presence test (and, with a key, user verification).
    User,
    /// Biometric voiceprint.
    Vbm,
    /// Windows integrated authentication.
    Wia,
    /// A value outside the registry (an issuer's own means), kept as sent.
    Other(String),
}

const REGISTERED: [(Amr, &str); 21] = [
    (Amr::Face, "face"),
    (Amr::Fpt, "fpt"),
    (Amr::Geo, "geo"),
    (Amr::Hwk, "hwk"),
    (Amr::Iris, "iris"),
    (Amr::Kba, "kba"),
    (Amr::Mca, "mca"),
    (Amr::Mfa, "mfa"),
    (Amr::Otp, "otp"),
    (Amr::Pin, "pin"),
    (Amr::Pop, "pop"),
    (Amr::Pwd, "pwd"),
    (Amr::Rba, "rba"),
    (Amr::Retina, "retina"),
    (Amr::Sc, "sc"),
    (Amr::Sms, "sms"),
    (Amr::Swk, "swk"),
    (Amr::Tel, "tel"),
    (Amr::User, "user"),
    (Amr::Vbm, "vbm"),
    (Amr::Wia, "wia"),
];

/// Why an `amr` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the amr value {0:?} is malformed (1 to 64 printable ASCII characters, no space)")]
pub struct AmrError(pub String);

impl Amr {
    /// Parses a value: a registered one becomes its variant, another well-formed one `Other`.
    pub fn parse(value: &str) -> Result<Amr, AmrError> {
        if let Some((amr, _)) = REGISTERED.iter().find(|(_, s)| *s == value) {
            return Ok(amr.clone());
        }
        let ok =
            !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Amr::Other(value.to_owned()))
        } else {
            Err(AmrError(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Amr::Other(s) => s,
            known => REGISTERED
                .iter()
                .find(|(a, _)| a == known)
                .map_or("", |(_, s)| s),
        }
    }

    /// Whether the value is in the RFC 8176 registry.
    pub fn is_registered(&self) -> bool {
        !matches!(self, Amr::Other(_))
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Amr {
    type Err = AmrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amr::parse(s)
    }
}

impl serde::Serialize for Amr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Amr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Amr::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn registered_values_round_trip() {
        for (amr, s) in REGISTERED {
            assert_eq!(amr.as_str(), s);
            assert_eq!(Amr::parse(s), Ok(amr.clone()));
            assert!(amr.is_registered());
        }
        assert_eq!(
            serde_json::to_string(&[Amr::Hwk, Amr::User, Amr::Mfa]).unwrap(),
            r#"["hwk","user","mfa"]"#
        );
        let back: Vec<Amr> = serde_json::from_str(r#"["sc","pin","ecps"]"#).unwrap();
        assert_eq!(back, [Amr::Sc, Amr::Pin, Amr::Other("ecps".into())]);
    }

    #[test]
    fn other_values_are_kept_or_refused() {
        let own = Amr::parse("ecps").unwrap();
        assert!(!own.is_registered());
        assert_eq!(own.to_string(), "ecps");
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert!(Amr::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Amr>("\"a b\"").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v in "[!-~]{1,64}") {
            let amr = Amr::parse(&v).unwrap();
            prop_assert_eq!(amr.as_str(), v.as_str());
            prop_assert_eq!(Amr::parse(amr.as_str()).unwrap(), amr);
        }
    }
}
