//! The identity repository and its sources: OpenLDAP and Active Directory login and sync, the
//! HR import, the RPPS index and the identity model.

mod ad;
mod hr;
mod identity;
mod ldap;
pub mod rpps;
