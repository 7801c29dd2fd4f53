//! One outcome for every login method (local password, directory password, security key, CPS
//! card): who proved it and how, or why not, with the reason code the audit log recorded.

use rustls::pki_types::CertificateDer;
use secrecy::SecretString;

use super::password::{Checked, Failure, check_login};
use crate::audit::RequestContext;
use crate::authn::Authn;
use crate::authn::cps::{self, Refusal as CardRefusal};
use crate::authn::webauthn::{EcpsRefusal, KeyError, ceremony};
use crate::authn::{AuthFactor, Method};
use crate::ldap::Refusal as DirRefusal;

/// What a login decided.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The person proved who they are: what the session records.
    SignedIn(Proof),
    /// The directory password is right but must be changed first (the entry's DN, and the
    /// reason code: expired or must change).
    ChangePassword {
        dn: String,
        reason: &'static str,
    },
    Refused(Refused),
}

/// A successful proof.
#[derive(Debug, Clone)]
pub struct Proof {
    pub identity_id: String,
    /// The method (the `amr` it gives) and whether the person was verified by it.
    pub factor: AuthFactor,
    /// A security key's new verifier state, written with the session.
    pub key: Option<KeyState>,
}

/// The verifier state of the key that signed in.
#[derive(Debug, Clone)]
pub struct KeyState {
    pub key_id: String,
    pub credential: String,
    pub counter: i64,
}

/// A refused login.
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    /// The method tried (metrics).
    pub method: Method,
    /// What the page says, chosen in its language from this.
    pub say: Say,
}

/// The message a refusal shows.
#[derive(Debug, Clone, Copy)]
pub enum Say {
    Password(Failure),
    Key(KeyError),
    /// The key's answer never came: the page's script did not run.
    KeyScriptMissing,
    Card(CardRefusal),
}

/// What kind of refusal, for the answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A field is missing or unreadable.
    Incomplete,
    /// The proof itself was wrong.
    Credentials,
    /// Too many attempts (account or address).
    Throttled,
    /// The account, key or card may not sign in.
    Forbidden,
    /// A service needed to decide is down.
    Unavailable,
    /// The method is not offered here.
    Off,
}

impl Refused {
    /// The stable reason code, the one the audit event recorded.
    pub fn reason(&self) -> &'static str {
        match self.say {
            Say::Password(f) => f.reason(),
            Say::Key(e) => e.reason(),
            Say::KeyScriptMissing => KeyError::BadResponse.reason(),
            Say::Card(r) => r.reason(),
        }
    }

    pub fn class(&self) -> Class {
        match self.say {
            Say::Password(f) => password_class(f),
            Say::Key(e) => key_class(e),
            Say::KeyScriptMissing => key_class(KeyError::BadResponse),
            Say::Card(r) => match r {
                CardRefusal::NoCard => Class::Credentials,
                CardRefusal::Unavailable | CardRefusal::RevocationUnknown => Class::Unavailable,
                _ => Class::Forbidden,
            },
        }
    }
}

fn password_class(f: Failure) -> Class {
    match f {
        Failure::MissingFields => Class::Incomplete,
        Failure::Credentials(_) => Class::Credentials,
        Failure::Locked | Failure::AddressBlocked => Class::Throttled,
        Failure::Disabled | Failure::NotYetArrived => Class::Forbidden,
        Failure::Unavailable | Failure::DirectoryUnavailable => Class::Unavailable,
        Failure::Directory(DirRefusal::Locked | DirRefusal::NearLockout) => Class::Throttled,
        Failure::Directory(_) | Failure::Conflict => Class::Forbidden,
    }
}

/// The class of a security-key refusal (login, enrolment).
pub fn key_class(e: KeyError) -> Class {
    match e {
        KeyError::Unavailable | KeyError::Ecps(EcpsRefusal::Unreachable) => Class::Unavailable,
        KeyError::Disabled => Class::Off,
        KeyError::Throttled => Class::Throttled,
        KeyError::BadResponse | KeyError::CeremonyUnknown => Class::Incomplete,
        KeyError::Revoked
        | KeyError::Flagged
        | KeyError::CounterRegression
        | KeyError::AccountDisabled
        | KeyError::ModelNotAllowed
        | KeyError::AlreadyEnrolled
        | KeyError::NoKey
        | KeyError::Ecps(_) => Class::Forbidden,
        _ => Class::Credentials,
    }
}

impl LoginOutcome {
    /// The outcome of a password decision (local or directory).
    pub fn of_password(result: Result<Checked, Failure>) -> LoginOutcome {
        match result {
            Ok(Checked::Identity(identity_id, method)) => LoginOutcome::SignedIn(Proof {
                identity_id,
                factor: AuthFactor {
                    method,
                    user_verified: false,
                },
                key: None,
            }),
            Ok(Checked::ChangePassword(dn, reason)) => LoginOutcome::ChangePassword { dn, reason },
            Err(f) => LoginOutcome::Refused(Refused {
                method: Method::Password,
                say: Say::Password(f),
            }),
        }
    }
}

/// A password login: local, or the hospital's directory.
pub async fn with_password(
    state: &Authn<'_>,
    username: &str,
    password: Option<SecretString>,
    ctx: &RequestContext,
) -> LoginOutcome {
    LoginOutcome::of_password(check_login(state, username, password, ctx).await)
}

/// A security key's answer to a login ceremony (`credential`, JSON from the page's script).
pub async fn with_key(
    state: &Authn<'_>,
    ceremony_id: &str,
    credential: &str,
    flow_id: Option<&str>,
    ctx: &RequestContext,
) -> LoginOutcome {
    let refused = |say| {
        LoginOutcome::Refused(Refused {
            method: Method::SecurityKey,
            say,
        })
    };
    if credential.is_empty() {
        return refused(Say::KeyScriptMissing);
    }
    match ceremony::finish_assertion(state, ceremony_id, credential, flow_id, ctx).await {
        Ok(v) => LoginOutcome::SignedIn(Proof {
            identity_id: v.identity_id,
            factor: AuthFactor {
                method: Method::SecurityKey,
                user_verified: v.user_verified,
            },
            key: Some(KeyState {
                key_id: v.key_id,
                credential: v.credential,
                counter: v.counter,
            }),
        }),
        Err(e) => refused(Say::Key(e)),
    }
}

/// A CPS card: its certificate chain as presented, or why it could not be read.
pub async fn with_card(
    state: &Authn<'_>,
    chain: Result<Vec<CertificateDer<'static>>, CardRefusal>,
    ctx: &RequestContext,
) -> LoginOutcome {
    let result = match chain {
        Ok(chain) => cps::authenticate(state, &chain, ctx).await,
        Err(r) => Err(r),
    };
    match result {
        Ok(login) => LoginOutcome::SignedIn(Proof {
            identity_id: login.identity_id,
            factor: AuthFactor {
                method: Method::Card,
                user_verified: true,
            },
            key: None,
        }),
        Err(r) => LoginOutcome::Refused(Refused {
            method: Method::Card,
            say: Say::Card(r),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(say: Say) -> Refused {
        Refused {
            method: Method::Password,
            say,
        }
    }

    #[test]
    fn the_reason_is_the_audited_code() {
        let r = refused(Say::Password(Failure::Credentials("wrong_password")));
        assert_eq!(r.reason(), "wrong_password");
        assert_eq!(r.class(), Class::Credentials);
        let r = refused(Say::Password(Failure::Directory(DirRefusal::NearLockout)));
        assert_eq!(r.class(), Class::Throttled);
        let r = refused(Say::KeyScriptMissing);
        assert_eq!(r.reason(), KeyError::BadResponse.reason());
        assert_eq!(r.class(), Class::Incomplete);
        let r = refused(Say::Card(CardRefusal::NoCard));
        assert_eq!((r.reason(), r.class()), ("no_card", Class::Credentials));
        let r = refused(Say::Card(CardRefusal::RevocationUnknown));
        assert_eq!(r.class(), Class::Unavailable);
        assert_eq!(key_class(KeyError::Disabled), Class::Off);
    }

    #[test]
    fn a_password_result_becomes_an_outcome() {
        let ok = LoginOutcome::of_password(Ok(Checked::Identity(
            "id-1".into(),
            Method::DirectoryPassword,
        )));
        assert!(matches!(
            ok,
            LoginOutcome::SignedIn(Proof { ref identity_id, factor, key: None })
                if identity_id == "id-1" && factor.method == Method::DirectoryPassword
        ));
        let no = LoginOutcome::of_password(Err(Failure::Locked));
        assert!(matches!(no, LoginOutcome::Refused(r) if r.reason() == "account_locked"));
    }
}
