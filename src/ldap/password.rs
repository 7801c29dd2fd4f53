//! Password changes proving the old password: `unicodePwd` on AD, the password-modify
//! extended operation (RFC 3062) on OpenLDAP.

use ldap3::Mod;
use ldap3::exop::PasswordModify;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::time::Instant;

use super::error::{from_result, transport};
use super::{DirError, LdapClient, Refusal};
use crate::config::DirectoryKind;
use crate::instruments::LdapOperation;

impl LdapClient {
    /// Changes a user's password, proving the old one: `unicodePwd` delete+add over an
    /// encrypted connection on AD, the password-modify extended operation on OpenLDAP.
    pub async fn change_password(
        &self,
        dn: &str,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<(), DirError> {
        let started = Instant::now();
        let result = self.modify_password(dn, old, new).await;
        self.observe(LdapOperation::PasswordChange, started, &result);
        result
    }

    async fn modify_password(
        &self,
        dn: &str,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<(), DirError> {
        match self.settings.kind {
            DirectoryKind::Ad => {
                let quote = |p: &str| -> Vec<u8> {
                    format!("\"{p}\"")
                        .encode_utf16()
                        .flat_map(|u| u.to_le_bytes())
                        .collect()
                };
                let mods = vec![
                    Mod::Delete(
                        b"unicodePwd".to_vec(),
                        HashSet::from([quote(old.expose_secret())]),
                    ),
                    Mod::Add(
                        b"unicodePwd".to_vec(),
                        HashSet::from([quote(new.expose_secret())]),
                    ),
                ];
                // A user whose password expired cannot bind: the change goes through a
                // connection of the service account (AD grants "change password" to everyone,
                // and still checks the old password).
                let mut l = self.connect().await?;
                self.bind_service(&mut l).await?;
                let r = l
                    .with_timeout(self.op_timeout())
                    .modify(dn, mods)
                    .await
                    .map_err(transport)?;
                let _ = l.unbind().await;
                match r.rc {
                    0 => Ok(()),
                    // constraintViolation (policy, history) or a wrong old password.
                    19 | 49 | 53 => Err(DirError::PasswordRejected(
                        r.text.trim_end_matches('\0').to_owned(),
                    )),
                    _ => Err(from_result(&r)),
                }
            }
            DirectoryKind::Openldap => {
                let mut l = self.connect().await?;
                // A user whose password was reset may bind but do nothing else than change it.
                match self.user_bind(&mut l, dn, old).await {
                    Ok(()) | Err(DirError::Refused(Refusal::MustChangePassword)) => {}
                    Err(DirError::Refused(Refusal::PasswordExpired)) => {
                        self.bind_service(&mut l).await?
                    }
                    Err(e) => return Err(e),
                }
                let r = l
                    .with_timeout(self.op_timeout())
                    .extended(PasswordModify {
                        user_id: Some(dn),
                        old_pass: Some(old.expose_secret()),
                        new_pass: Some(new.expose_secret()),
                    })
                    .await
                    .map_err(transport)?;
                let _ = l.unbind().await;
                match r.1.rc {
                    0 => Ok(()),
                    19 | 49 | 50 | 53 => Err(DirError::PasswordRejected(
                        r.1.text.trim_end_matches('\0').to_owned(),
                    )),
                    _ => Err(from_result(&r.1)),
                }
            }
        }
    }
}
