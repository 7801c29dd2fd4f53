//! Administration: roles (local and from directory groups) and the identity check recorded
//! before an enrolment code.

mod api;
mod proofing;
mod roles;
