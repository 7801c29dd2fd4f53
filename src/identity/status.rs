//! The life cycle of an identity (design.md, "Who"): only an active one may
//! sign in or hold live tokens. Stored as its lower-case name.

use std::fmt;
use std::str::FromStr;

/// Status of an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    /// Known from HR before the arrival date: no login until that day.
    Pending,
    Suspended,
    Left,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Pending,
        Status::Suspended,
        Status::Left,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Suspended => "suspended",
            Status::Left => "left",
        }
    }

    pub fn is_active(self) -> bool {
        self == Status::Active
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored or typed status that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity status {0:?}: active, pending, suspended or left")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// How storage reads the column (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Status {
    type Error = UnknownStatus;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in Status::ALL {
            assert_eq!(st.as_str().parse::<Status>(), Ok(st));
            assert_eq!(Status::try_from(st.to_string()), Ok(st));
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_str())
            );
        }
        assert!(Status::Active.is_active() && !Status::Pending.is_active());
        for bad in ["", "Active", "disabled", "left "] {
            assert_eq!(bad.parse::<Status>(), Err(UnknownStatus(bad.into())));
        }
    }
}
