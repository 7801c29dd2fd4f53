//! Administration: roles (local and from directory groups), the identity check recorded
//! before an enrolment code, the admin API and the console.

mod api;
mod audit_page;
mod clients_page;
mod console;
mod pairings_page;
mod proofing;
mod races;
mod roles;
mod sync_page;
