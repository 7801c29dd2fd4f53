//! Signing in: the SSO session and its rules, password throttling, FIDO2 security keys.

mod security_keys;
mod sessions;
mod throttle;
