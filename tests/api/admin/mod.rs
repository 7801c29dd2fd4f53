//! Administration: roles (local and from directory groups), the identity check recorded
//! before an enrolment code, the admin API and the console.

mod api;
mod console;
mod proofing;
mod roles;
