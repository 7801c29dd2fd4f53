//! Administration: roles (local and from directory groups) and the identity check recorded
//! before an enrolment code.

mod console;
mod proofing;
mod roles;
