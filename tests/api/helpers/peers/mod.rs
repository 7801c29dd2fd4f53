//! Real directory servers for the tests: an OpenLDAP `slapd` started per test, and the Samba
//! Active Directory domain controller that `scripts/peers/samba-ad` starts once per machine.

pub mod ad;
pub mod nginx;
pub mod slapd;
