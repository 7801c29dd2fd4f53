//! The identity repository and its sources: OpenLDAP and Active Directory login and sync, the
//! HR import, the RPPS index and the identity model.

mod ad;
mod hr;
mod identity;
pub(crate) mod ldap;
pub mod rpps;
