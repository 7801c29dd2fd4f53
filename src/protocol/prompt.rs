//! The `prompt` parameter (OIDC Core §3.1.2.1): a space-separated set of values in which
//! `none` stands alone.

use std::fmt;
use std::str::FromStr;

/// One `prompt` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

impl Prompt {
    pub const ALL: [Prompt; 4] = [
        Prompt::None,
        Prompt::Login,
        Prompt::Consent,
        Prompt::SelectAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `prompt` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("unknown prompt value {0}")]
    Unknown(String),
    #[error("prompt=none cannot be combined with other values")]
    NoneNotAlone,
}

impl FromStr for Prompt {
    type Err = PromptError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Prompt::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| PromptError::Unknown(s.to_owned()))
    }
}

/// The values of one `prompt` parameter, each once, in the order of `Prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptSet {
    none: bool,
    login: bool,
    consent: bool,
    select_account: bool,
}

impl PromptSet {
    /// Parses a space-separated value; an absent or empty parameter is the empty set.
    pub fn parse(value: &str) -> Result<PromptSet, PromptError> {
        let mut set = PromptSet::default();
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            *set.slot(word.parse()?) = true;
        }
        if set.none && (set.login || set.consent || set.select_account) {
            return Err(PromptError::NoneNotAlone);
        }
        Ok(set)
    }

    fn slot(&mut self, p: Prompt) -> &mut bool {
        match p {
            Prompt::None => &mut self.none,
            Prompt::Login => &mut self.login,
            Prompt::Consent => &mut self.consent,
            Prompt::SelectAccount => &mut self.select_account,
        }
    }

    pub fn contains(&self, p: Prompt) -> bool {
        match p {
            Prompt::None => self.none,
            Prompt::Login => self.login,
            Prompt::Consent => self.consent,
            Prompt::SelectAccount => self.select_account,
        }
    }

    pub fn is_empty(&self) -> bool {
        Prompt::ALL.into_iter().all(|p| !self.contains(p))
    }

    pub fn iter(&self) -> impl Iterator<Item = Prompt> + '_ {
        Prompt::ALL.into_iter().filter(|p| self.contains(*p))
    }
}

impl FromStr for PromptSet {
    type Err = PromptError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromptSet::parse(s)
    }
}

impl fmt::Display for PromptSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        let set = PromptSet::parse("login  consent").unwrap();
        assert!(set.contains(Prompt::Login) && set.contains(Prompt::Consent));
        assert!(!set.contains(Prompt::None));
        assert_eq!(set.to_string(), "login consent");
        assert!(PromptSet::parse("").unwrap().is_empty());
        assert!(PromptSet::parse("none").unwrap().contains(Prompt::None));
        assert_eq!(
            PromptSet::parse("login bogus"),
            Err(PromptError::Unknown("bogus".into()))
        );
        assert_eq!(
            PromptSet::parse("NONE"),
            Err(PromptError::Unknown("NONE".into()))
        );
    }

    #[test]
    fn none_stands_alone() {
        for other in ["login", "consent", "select_account"] {
            assert_eq!(
                PromptSet::parse(&format!("none {other}")),
                Err(PromptError::NoneNotAlone)
            );
            assert_eq!(
                PromptSet::parse(&format!("{other} none")),
                Err(PromptError::NoneNotAlone)
            );
        }
        assert!(PromptSet::parse("none none").is_ok());
    }

    proptest! {
        #[test]
        fn round_trip(picks in proptest::collection::vec(0usize..4, 0..6)) {
            let words: Vec<&str> = picks.iter().map(|i| Prompt::ALL[*i].as_str()).collect();
            match PromptSet::parse(&words.join(" ")) {
                Ok(set) => {
                    prop_assert_eq!(PromptSet::parse(&set.to_string()), Ok(set));
                    for i in &picks {
                        prop_assert!(set.contains(Prompt::ALL[*i]));
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, PromptError::NoneNotAlone);
                    prop_assert!(picks.contains(&0) && picks.iter().any(|i| *i != 0));
                }
            }
        }
    }
}
