//! Trousseau's own administration roles (who may use the console, the admin API and the
//! helpdesk functions). They are not the `roles` claim given to relying parties: they come
//! from their own mapping (`[admin.roles]`) or a local assignment, and never appear in any
//! token but the admin API's.

use std::fmt;
use std::str::FromStr;

/// An administration role.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Everything, clients and settings included.
    Admin,
    /// People, security keys, enrolment codes, sessions and pairings; not clients.
    Helpdesk,
    /// Read-only, audit export included.
    Auditor,
}

impl AdminRole {
    pub const ALL: [AdminRole; 3] = [AdminRole::Admin, AdminRole::Helpdesk, AdminRole::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Helpdesk => "helpdesk",
            AdminRole::Auditor => "auditor",
        }
    }

    /// The OAuth scope of the admin API that grants this role.
    pub fn scope(self) -> &'static str {
        match self {
            AdminRole::Admin => "trousseau:admin",
            AdminRole::Helpdesk => "trousseau:helpdesk",
            AdminRole::Auditor => "trousseau:audit",
        }
    }
}

impl fmt::Display for AdminRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed or stored role that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown administration role {0:?}: admin, helpdesk or auditor")]
pub struct UnknownRole(pub String);

impl FromStr for AdminRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        AdminRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole(s))
    }
}

/// The identity document shown when the identity of a person was checked before an
/// enrolment code was handed over.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IdentityDocument {
    /// Carte nationale d'identité.
    IdCard,
    Passport,
    /// Titre de séjour.
    ResidencePermit,
    /// Carte de professionnel de santé (CPS), itself issued after an identity check.
    CpsCard,
}

impl IdentityDocument {
    pub const ALL: [IdentityDocument; 4] = [
        IdentityDocument::IdCard,
        IdentityDocument::Passport,
        IdentityDocument::ResidencePermit,
        IdentityDocument::CpsCard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityDocument::IdCard => "id_card",
            IdentityDocument::Passport => "passport",
            IdentityDocument::ResidencePermit => "residence_permit",
            IdentityDocument::CpsCard => "cps_card",
        }
    }
}

impl fmt::Display for IdentityDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed document type that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity document {0:?}: id_card, passport, residence_permit or cps_card")]
pub struct UnknownDocument(pub String);

impl FromStr for IdentityDocument {
    type Err = UnknownDocument;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        IdentityDocument::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(UnknownDocument(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_as_written() {
        for r in AdminRole::ALL {
            assert_eq!(r.as_str().parse::<AdminRole>(), Ok(r));
        }
        assert_eq!(" Helpdesk ".parse::<AdminRole>(), Ok(AdminRole::Helpdesk));
        assert!("root".parse::<AdminRole>().is_err());
        assert_eq!(AdminRole::Auditor.scope(), "trousseau:audit");
    }

    #[test]
    fn documents_read_back_as_written() {
        for d in IdentityDocument::ALL {
            assert_eq!(d.as_str().parse::<IdentityDocument>(), Ok(d));
        }
        assert_eq!(
            "residence-permit".parse(),
            Ok(IdentityDocument::ResidencePermit)
        );
        assert!("library_card".parse::<IdentityDocument>().is_err());
    }
}
