//! How an identity's RPPS link was established (design.md, "RPPS link").

use std::fmt;

/// The means by which an IdNat was tied to an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    /// Typed by an administrator.
    Admin,
    /// An administrator confirmed a reconciliation suggestion.
    RppsMatchConfirmed,
    /// Read from a CPS card certificate.
    CpsCard,
    /// Proven by an e-CPS validation through PSC.
    Ecps,
}

impl LinkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMethod::Admin => "admin",
            LinkMethod::RppsMatchConfirmed => "rpps_match_confirmed",
            LinkMethod::CpsCard => "cps_card",
            LinkMethod::Ecps => "ecps",
        }
    }
}

impl fmt::Display for LinkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LinkMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(LinkMethod::Admin),
            "rpps_match_confirmed" => Ok(LinkMethod::RppsMatchConfirmed),
            "cps_card" => Ok(LinkMethod::CpsCard),
            "ecps" => Ok(LinkMethod::Ecps),
            other => Err(format!(
                "unknown link method {other:?}: admin, rpps_match_confirmed, cps_card or ecps"
            )),
        }
    }
}
