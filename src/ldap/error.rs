//! What can go wrong talking to the directory, with Active Directory's sub-codes and the
//! OpenLDAP password-policy control turned into precise reasons.

use ldap3::LdapError;
use ldap3::result::LdapResult;

/// Why a bind as a user was refused by the directory itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `52e` (or a plain invalid-credentials answer).
    WrongPassword,
    /// `525`: no such account.
    UnknownUser,
    /// `533`: the account is disabled.
    Disabled,
    /// `775`: the directory locked the account.
    Locked,
    /// `532`: the password has expired.
    PasswordExpired,
    /// `773`: the password must be changed before use.
    MustChangePassword,
    /// `701`: the account has expired.
    AccountExpired,
    /// `530` / `531`: not allowed at this time or from this workstation.
    Restricted,
    /// Not tried: one more failure would lock the account in the directory (AD's
    /// `badPwdCount` is one below the lockout threshold).
    NearLockout,
}

impl Refusal {
    /// The stable audit reason.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::WrongPassword => "directory_wrong_password",
            Refusal::UnknownUser => "directory_unknown_user",
            Refusal::Disabled => "directory_account_disabled",
            Refusal::Locked => "directory_account_locked",
            Refusal::PasswordExpired => "directory_password_expired",
            Refusal::MustChangePassword => "directory_must_change_password",
            Refusal::AccountExpired => "directory_account_expired",
            Refusal::Restricted => "directory_logon_restricted",
            Refusal::NearLockout => "directory_lockout_protection",
        }
    }

    /// Whether the person may fix it by choosing a new password.
    pub fn needs_new_password(self) -> bool {
        matches!(self, Refusal::PasswordExpired | Refusal::MustChangePassword)
    }

    /// Whether it counts as a failed guess for throttling.
    pub fn is_guess(self) -> bool {
        matches!(self, Refusal::WrongPassword | Refusal::UnknownUser)
    }
}

/// An error of a directory operation.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The directory answered the bind with a refusal.
    #[error("the directory refused the bind: {}", .0.reason())]
    Refused(Refusal),
    /// No server could be reached (connection refused, timeout).
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// A TLS handshake failed (unknown CA, name mismatch, StartTLS refused).
    #[error("TLS failure with the directory: {0}")]
    Tls(String),
    /// The service account could not bind.
    #[error("the service account cannot bind: {0}")]
    ServiceBind(String),
    /// A search found several entries for one login.
    #[error("several directory entries match this login")]
    Ambiguous,
    /// The new password was refused (policy, history, wrong old password).
    #[error("the directory refused the new password: {0}")]
    PasswordRejected(String),
    /// Any other LDAP result.
    #[error("directory error {rc}: {text}")]
    Ldap { rc: u32, text: String },
}

impl DirError {
    /// The stable audit reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DirError::Refused(r) => r.reason(),
            DirError::Unavailable(_) => "directory_unavailable",
            DirError::Tls(_) => "directory_tls_failure",
            DirError::ServiceBind(_) => "directory_service_bind_failed",
            DirError::Ambiguous => "directory_ambiguous_login",
            DirError::PasswordRejected(_) => "directory_password_rejected",
            DirError::Ldap { .. } => "directory_error",
        }
    }

    /// The `kind` label of `trousseau_ldap_errors_total`; `None` for an answer about the
    /// person (a refused bind, a refused new password), which is no fault of the directory.
    pub fn fault(&self) -> Option<&'static str> {
        match self {
            DirError::Refused(_) | DirError::PasswordRejected(_) => None,
            DirError::Unavailable(_) => Some("unavailable"),
            DirError::Tls(_) => Some("tls"),
            DirError::ServiceBind(_) => Some("service_bind"),
            DirError::Ambiguous => Some("ambiguous"),
            DirError::Ldap { .. } => Some("result"),
        }
    }

    /// Whether the directory (or the way to it) is out of order, as opposed to an answer about
    /// this person.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            DirError::Unavailable(_)
                | DirError::Tls(_)
                | DirError::ServiceBind(_)
                | DirError::Ldap { .. }
        )
    }
}

/// Turns a transport-level error into `Unavailable` or `Tls`.
pub fn transport(e: LdapError) -> DirError {
    match e {
        LdapError::Rustls { source } => DirError::Tls(source.to_string()),
        LdapError::LdapResult { result } => from_result(&result),
        LdapError::Io { source } => {
            // rustls reports handshake failures through io::Error.
            let text = source.to_string();
            if source
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
                || text.contains("certificate")
                || text.contains("handshake")
            {
                DirError::Tls(text)
            } else {
                DirError::Unavailable(text)
            }
        }
        other => DirError::Unavailable(other.to_string()),
    }
}

/// Maps a non-success LDAP result.
pub fn from_result(r: &LdapResult) -> DirError {
    match r.rc {
        // invalidCredentials: AD and Samba carry the reason as "data XXX" in the text.
        49 => DirError::Refused(ad_subcode(&r.text).unwrap_or(Refusal::WrongPassword)),
        // unwillingToPerform / confidentialityRequired / strongerAuthRequired on binds.
        8 | 13 => DirError::Tls(format!(
            "the directory requires an encrypted connection ({})",
            r.text
        )),
        51 | 52 | 80 => DirError::Unavailable(format!("{} ({})", r.rc, r.text)),
        rc => DirError::Ldap {
            rc,
            text: r.text.clone(),
        },
    }
}

/// Reads Active Directory's sub-code (`data 52e,`) from a diagnostic message.
pub fn ad_subcode(text: &str) -> Option<Refusal> {
    let at = text.find("data ")?;
    let code: String = text[at + 5..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    Some(match code.to_ascii_lowercase().as_str() {
        "52e" => Refusal::WrongPassword,
        "525" => Refusal::UnknownUser,
        "533" => Refusal::Disabled,
        "775" => Refusal::Locked,
        "532" => Refusal::PasswordExpired,
        "773" => Refusal::MustChangePassword,
        "701" => Refusal::AccountExpired,
        "530" | "531" => Refusal::Restricted,
        _ => return None,
    })
}

/// OID of the password policy control (draft-behera-ldap-password-policy).
pub const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// Reads the error of a password-policy response control: `0` passwordExpired, `1`
/// accountLocked, `2` changeAfterReset. The value is
/// `SEQUENCE { warning [0] CHOICE {...} OPTIONAL, error [1] ENUMERATED OPTIONAL }`.
pub fn ppolicy_error(value: &[u8]) -> Option<Refusal> {
    let (tag, body, _) = ber(value)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = body;
    while !rest.is_empty() {
        let (tag, inner, next) = ber(rest)?;
        if tag == 0x81 {
            return match inner.last().copied()? {
                0 => Some(Refusal::PasswordExpired),
                1 => Some(Refusal::Locked),
                2 => Some(Refusal::MustChangePassword),
                _ => None,
            };
        }
        rest = next;
    }
    None
}

/// One BER element: (tag, contents, rest). Definite lengths only.
fn ber(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *data.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, data.get(header..end)?, data.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_subcodes() {
        let text = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563\0";
        assert_eq!(ad_subcode(text), Some(Refusal::Locked));
        assert_eq!(
            ad_subcode("AcceptSecurityContext error, data 52e, v1db1"),
            Some(Refusal::WrongPassword)
        );
        assert_eq!(ad_subcode("data 773,"), Some(Refusal::MustChangePassword));
        assert_eq!(ad_subcode("data 532,"), Some(Refusal::PasswordExpired));
        assert_eq!(ad_subcode("data 533,"), Some(Refusal::Disabled));
        assert_eq!(ad_subcode("invalid credentials"), None);
        assert_eq!(ad_subcode("data zzz"), None);
    }

    #[test]
    fn ppolicy_control_values() {
        // SEQUENCE { [1] changeAfterReset }
        assert_eq!(
            ppolicy_error(&[0x30, 0x03, 0x81, 0x01, 0x02]),
            Some(Refusal::MustChangePassword)
        );
        // warning [0] { graceAuthNsRemaining [1] 2 } then error passwordExpired
        assert_eq!(
            ppolicy_error(&[0x30, 0x08, 0xa0, 0x03, 0x81, 0x01, 0x02, 0x81, 0x01, 0x00]),
            Some(Refusal::PasswordExpired)
        );
        assert_eq!(ppolicy_error(&[0x30, 0x00]), None);
        assert_eq!(ppolicy_error(&[0x30, 0x05, 0x81]), None);
        assert_eq!(ppolicy_error(&[]), None);
    }
}
