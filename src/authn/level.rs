//! The ordered ladder of assurance levels (`acr`) and the `amr` values (RFC 8176), computed by
//! one function from a session's authentication events. Nothing else decides the level.

use serde::{Deserialize, Serialize};

use crate::protocol::Amr;

/// A kind of proof, as recorded in an authentication event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Local password.
    Password,
    /// Directory (AD/LDAP) password.
    DirectoryPassword,
    /// FIDO2 security key.
    SecurityKey,
    /// CPS smartcard (client certificate, card + PIN).
    Card,
    /// The e-CPS app, proven through Pro Santé Connect (a key in the phone unlocked by a PIN).
    Ecps,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::DirectoryPassword => "directory_password",
            Method::SecurityKey => "security_key",
            Method::Card => "card",
            Method::Ecps => "ecps",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "password" => Method::Password,
            "directory_password" => Method::DirectoryPassword,
            "security_key" => Method::SecurityKey,
            "card" => Method::Card,
            "ecps" => Method::Ecps,
            _ => return None,
        })
    }

    /// Knowledge factors count once whatever their source.
    fn factor_class(self) -> u8 {
        match self {
            Method::Password | Method::DirectoryPassword => 0,
            Method::SecurityKey => 1,
            Method::Card => 2,
            Method::Ecps => 3,
        }
    }

    /// RFC 8176 values of one event of this method.
    pub fn amr(self, user_verified: bool) -> Vec<Amr> {
        match self {
            Method::Password | Method::DirectoryPassword => vec![Amr::Pwd],
            Method::SecurityKey if user_verified => vec![Amr::Hwk, Amr::User, Amr::Mfa],
            Method::SecurityKey => vec![Amr::Hwk],
            Method::Card => vec![Amr::Sc, Amr::Pin, Amr::Hwk, Amr::Mfa],
            // A software key in the phone, unlocked by the person's PIN: two factors, but the
            // approval happens on PSC's pages, outside this origin (not phishing-resistant).
            Method::Ecps => vec![Amr::Swk, Amr::Pin, Amr::Mfa],
        }
    }

    pub fn phishing_resistant(self) -> bool {
        matches!(self, Method::SecurityKey | Method::Card)
    }
}

/// One successful proof inside a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFactor {
    pub method: Method,
    pub user_verified: bool,
}

/// Assurance levels, lowest first. Names are configuration (`session.levels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Loa1 = 1,
    Loa2 = 2,
    Loa3 = 3,
}

impl Level {
    pub fn index(self) -> usize {
        self as usize - 1
    }
    pub fn from_index(i: usize) -> Option<Level> {
        [Level::Loa1, Level::Loa2, Level::Loa3].get(i).copied()
    }
}

/// The level and `amr` reached by a set of factors; `None` when there is none.
pub fn evaluate(factors: &[AuthFactor]) -> Option<(Level, Vec<Amr>)> {
    if factors.is_empty() {
        return None;
    }
    let mut amr: Vec<Amr> = Vec::new();
    for f in factors {
        for v in f.method.amr(f.user_verified) {
            if !amr.contains(&v) {
                amr.push(v);
            }
        }
    }
    let mut classes: Vec<u8> = factors.iter().map(|f| f.method.factor_class()).collect();
    classes.sort_unstable();
    classes.dedup();
    let multi = classes.len() > 1;
    if multi && !amr.contains(&Amr::Mfa) {
        amr.push(Amr::Mfa);
    }
    let card = factors.iter().any(|f| f.method == Method::Card);
    let key_uv = factors
        .iter()
        .any(|f| f.method == Method::SecurityKey && f.user_verified);
    let key = factors.iter().any(|f| f.method == Method::SecurityKey);
    let ecps = factors.iter().any(|f| f.method == Method::Ecps);
    let level = if card || key_uv || (multi && key) {
        Level::Loa3
    } else if multi || ecps {
        Level::Loa2
    } else {
        Level::Loa1
    };
    Some((level, amr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(method: Method, uv: bool) -> AuthFactor {
        AuthFactor {
            method,
            user_verified: uv,
        }
    }

    #[test]
    fn ladder_follows_the_design_table() {
        assert_eq!(evaluate(&[]), None);
        let (l, amr) = evaluate(&[f(Method::Password, false)]).unwrap();
        assert_eq!((l, amr), (Level::Loa1, vec![Amr::Pwd]));
        assert_eq!(
            evaluate(&[f(Method::DirectoryPassword, false)]).unwrap().0,
            Level::Loa1
        );
        assert_eq!(
            evaluate(&[f(Method::SecurityKey, false)]).unwrap(),
            (Level::Loa1, vec![Amr::Hwk])
        );
        let (l, amr) = evaluate(&[f(Method::SecurityKey, true)]).unwrap();
        assert_eq!(l, Level::Loa3);
        assert_eq!(amr, [Amr::Hwk, Amr::User, Amr::Mfa]);
        let (l, amr) =
            evaluate(&[f(Method::Password, false), f(Method::SecurityKey, false)]).unwrap();
        assert_eq!(l, Level::Loa3);
        assert_eq!(amr, [Amr::Pwd, Amr::Hwk, Amr::Mfa]);
        assert_eq!(
            evaluate(&[f(Method::Card, true)]).unwrap().1,
            [Amr::Sc, Amr::Pin, Amr::Hwk, Amr::Mfa]
        );
        // e-CPS is two factors, not phishing-resistant.
        let (l, amr) = evaluate(&[f(Method::Ecps, true)]).unwrap();
        assert_eq!(l, Level::Loa2);
        assert_eq!(amr, [Amr::Swk, Amr::Pin, Amr::Mfa]);
        assert!(!Method::Ecps.phishing_resistant());
        assert_eq!(Method::parse("ecps"), Some(Method::Ecps));
        // Two knowledge factors are still one factor.
        let (l, amr) = evaluate(&[
            f(Method::Password, false),
            f(Method::DirectoryPassword, false),
        ])
        .unwrap();
        assert_eq!((l, amr), (Level::Loa1, vec![Amr::Pwd]));
    }
}
