//! A directory user entry read through the configured attribute mapping.

use ldap3::SearchEntry;
use std::collections::HashMap;

use crate::config::{DirectoryKind, LdapAttributes};

/// `userAccountControl` bit of a disabled account.
const ACCOUNTDISABLE: u32 = 0x2;

/// The mapped attributes of one directory account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirEntry {
    pub dn: String,
    /// objectGUID (hex) or entryUUID: survives renames and moves.
    pub unique_id: String,
    /// Login name, lower-cased.
    pub username: String,
    /// userPrincipalName, lower-cased.
    pub upn: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_number: Option<String>,
    pub idnat: Option<String>,
    /// The establishment's FINESS (`ldap.attributes.establishment`), when it is one.
    pub establishment: Option<String>,
    /// Direct groups (DNs, lower-cased).
    pub member_of: Vec<String>,
    pub account_control: Option<u32>,
    /// AD's count of recent bad passwords on the answering controller.
    pub bad_pwd_count: Option<u32>,
    /// When the last bad password was tried (AD FILETIME).
    pub bad_password_time: Option<i64>,
    /// uSNChanged (AD) or modifyTimestamp (OpenLDAP).
    pub change_marker: Option<String>,
}

impl DirEntry {
    /// Disabled in the directory (AD's `userAccountControl` bit).
    pub fn disabled(&self) -> bool {
        self.account_control
            .is_some_and(|v| v & ACCOUNTDISABLE != 0)
    }

    /// Builds the entry; `None` when the login name or the unique id is missing.
    pub fn from_search(
        e: SearchEntry,
        a: &LdapAttributes,
        kind: DirectoryKind,
    ) -> Option<DirEntry> {
        let SearchEntry {
            dn,
            attrs,
            bin_attrs,
        } = e;
        let attrs: HashMap<String, Vec<String>> = attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let one = |name: &str| -> Option<String> {
            if name.is_empty() {
                return None;
            }
            attrs
                .get(&name.to_ascii_lowercase())
                .and_then(|v| v.first())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let unique_id = one(&a.unique_id).or_else(|| {
            bin_attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&a.unique_id))
                .and_then(|(_, v)| v.first())
                .map(|b| guid_text(b))
                .filter(|g| !g.is_empty())
        })?;
        let username = one(&a.username)?.to_lowercase();
        let member_of = if a.member_of.is_empty() {
            Vec::new()
        } else {
            attrs
                .get(&a.member_of.to_ascii_lowercase())
                .map(|v| v.iter().map(|g| g.to_lowercase()).collect())
                .unwrap_or_default()
        };
        let marker = match kind {
            DirectoryKind::Ad => "usnchanged",
            DirectoryKind::Openldap => "modifytimestamp",
        };
        Some(DirEntry {
            unique_id,
            username,
            upn: one(&a.upn).map(|u| u.to_lowercase()),
            email: one(&a.email),
            given_name: one(&a.given_name),
            family_name: one(&a.family_name),
            employee_number: one(&a.employee_number),
            idnat: one(&a.idnat),
            establishment: one(&a.establishment)
                .filter(|f| crate::identity::Finess::parse(f).is_ok()),
            member_of,
            account_control: one(&a.account_control).and_then(|v| v.parse().ok()),
            bad_pwd_count: one("badPwdCount").and_then(|v| v.parse().ok()),
            bad_password_time: one("badPasswordTime").and_then(|v| v.parse().ok()),
            change_marker: one(marker),
            dn,
        })
    }

    /// A digest of everything a sync copies, to skip unchanged accounts cheaply.
    pub fn fingerprint(&self, roles: &[String]) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            Some(self.dn.as_str()),
            Some(self.username.as_str()),
            self.upn.as_deref(),
            self.email.as_deref(),
            self.given_name.as_deref(),
            self.family_name.as_deref(),
            self.employee_number.as_deref(),
            self.idnat.as_deref(),
        ] {
            h.update(part.unwrap_or("\u{1}").as_bytes());
            h.update([0]);
        }
        // Only when present: fingerprints of directories without it stay as they were.
        if let Some(f) = &self.establishment {
            h.update(f.as_bytes());
            h.update([2]);
        }
        h.update([u8::from(self.disabled())]);
        for g in &self.member_of {
            h.update(g.as_bytes());
            h.update([0]);
        }
        for r in roles {
            h.update(r.as_bytes());
            h.update([1]);
        }
        let d = h.finalize();
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An objectGUID in its usual text form (the first three fields are little-endian).
pub fn guid_text(b: &[u8]) -> String {
    if b.len() != 16 {
        return b.iter().map(|x| format!("{x:02x}")).collect();
    }
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// The attributes to ask for.
pub fn requested(a: &LdapAttributes, kind: DirectoryKind) -> Vec<String> {
    let mut v: Vec<String> = [
        &a.username,
        &a.upn,
        &a.email,
        &a.given_name,
        &a.family_name,
        &a.employee_number,
        &a.member_of,
        &a.account_control,
        &a.idnat,
        &a.unique_id,
        &a.establishment,
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .cloned()
    .collect();
    match kind {
        DirectoryKind::Ad => {
            v.push("uSNChanged".into());
            v.push("badPwdCount".into());
            v.push("badPasswordTime".into());
        }
        DirectoryKind::Openldap => v.push("modifyTimestamp".into()),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> LdapAttributes {
        LdapAttributes {
            username: "sAMAccountName".into(),
            upn: "userPrincipalName".into(),
            email: "mail".into(),
            given_name: "givenName".into(),
            family_name: "sn".into(),
            employee_number: "employeeID".into(),
            member_of: "memberOf".into(),
            account_control: "userAccountControl".into(),
            idnat: String::new(),
            unique_id: "objectGUID".into(),
            establishment: String::new(),
        }
    }

    #[test]
    fn maps_an_ad_entry() {
        let mut a = HashMap::new();
        a.insert("sAMAccountName".into(), vec!["JDupont".into()]);
        a.insert("userAccountControl".into(), vec!["514".into()]);
        a.insert(
            "memberOf".into(),
            vec!["CN=Med,OU=G,DC=chu,DC=local".into()],
        );
        a.insert("uSNChanged".into(), vec!["4242".into()]);
        let mut b = HashMap::new();
        b.insert("objectGUID".into(), vec![(0u8..16).collect::<Vec<u8>>()]);
        let e = DirEntry::from_search(
            SearchEntry {
                dn: "CN=Jean Dupont,OU=U,DC=chu,DC=local".into(),
                attrs: a,
                bin_attrs: b,
            },
            &attrs(),
            DirectoryKind::Ad,
        )
        .unwrap();
        assert_eq!(e.username, "jdupont");
        assert_eq!(e.unique_id, "03020100-0504-0706-0809-0a0b0c0d0e0f");
        assert!(e.disabled());
        assert_eq!(e.member_of, ["cn=med,ou=g,dc=chu,dc=local"]);
        assert_eq!(e.change_marker.as_deref(), Some("4242"));
        assert_ne!(e.fingerprint(&[]), e.fingerprint(&["medecin".into()]));
    }

    #[test]
    fn entry_without_login_name_is_skipped() {
        let e = SearchEntry {
            dn: "cn=x".into(),
            attrs: HashMap::new(),
            bin_attrs: HashMap::new(),
        };
        assert!(DirEntry::from_search(e, &attrs(), DirectoryKind::Ad).is_none());
    }

    #[test]
    fn an_empty_binary_unique_id_is_no_unique_id() {
        // Two such entries would otherwise share the key "" (found by the ldap_entry fuzz
        // target).
        let mut a = HashMap::new();
        a.insert("sAMAccountName".into(), vec!["x".into()]);
        let mut b = HashMap::new();
        b.insert("objectGUID".into(), vec![Vec::new()]);
        let e = SearchEntry {
            dn: "cn=x".into(),
            attrs: a,
            bin_attrs: b,
        };
        assert!(DirEntry::from_search(e, &attrs(), DirectoryKind::Ad).is_none());
    }
}
