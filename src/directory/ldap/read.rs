//! Reading the directory: every group with its nesting, the groups and users changed since
//! the last marker, and AD's deleted accounts (tombstones).

use anyhow::Context;
use ldap3::controls::RawControl;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::config::{AdminSettings, DirectoryKind, LdapSettings};
use crate::ldap::LdapClient;

/// AD's "show deleted objects" control.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// Groups of the directory, nesting resolved on demand.
#[derive(Debug, Default)]
pub(super) struct Groups {
    pub(super) cn: HashMap<String, String>,
    pub(super) parents: HashMap<String, Vec<String>>,
    pub(super) children: HashMap<String, Vec<String>>,
    /// Groups changed since the marker (incremental runs).
    pub(super) changed: Vec<String>,
    pub(super) closure: HashMap<String, Arc<Vec<String>>>,
}

impl Groups {
    /// Every group `dn` belongs to, directly or through nesting (cycle-safe).
    pub(super) fn ancestors(&mut self, dn: &str) -> Arc<Vec<String>> {
        if let Some(c) = self.closure.get(dn) {
            return c.clone();
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = self.parents.get(dn).cloned().unwrap_or_default();
        while let Some(g) = stack.pop() {
            if g != dn
                && seen.insert(g.clone())
                && let Some(p) = self.parents.get(&g)
            {
                stack.extend(p.iter().cloned());
            }
        }
        let mut v: Vec<String> = seen.into_iter().collect();
        v.sort();
        let v = Arc::new(v);
        self.closure.insert(dn.to_owned(), v.clone());
        v
    }

    /// The groups below `dn` (nested members), `dn` included.
    pub(super) fn descendants(&self, dn: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        let mut stack = vec![dn.to_owned()];
        while let Some(g) = stack.pop() {
            if out.insert(g.clone())
                && let Some(c) = self.children.get(&g)
            {
                stack.extend(c.iter().cloned());
            }
        }
        out
    }

    /// Both kinds of roles of a user whose direct groups are `direct`.
    pub(super) fn account_roles(&mut self, direct: &[String], maps: &RoleMaps) -> AccountRoles {
        AccountRoles {
            claims: self.roles(direct, &maps.claims),
            admin: self.roles(direct, &maps.admin),
        }
    }

    /// Roles of a user whose direct groups are `direct`.
    pub(super) fn roles(
        &mut self,
        direct: &[String],
        map: &HashMap<String, String>,
    ) -> Vec<String> {
        if map.is_empty() {
            return Vec::new();
        }
        let mut all: Vec<String> = direct.to_vec();
        for g in direct {
            all.extend(self.ancestors(g).iter().cloned());
        }
        let mut roles: Vec<String> = all
            .iter()
            .filter_map(|g| {
                map.get(g)
                    .or_else(|| self.cn.get(g).and_then(|cn| map.get(&cn.to_lowercase())))
            })
            .cloned()
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

/// The role maps with lower-cased keys: `[ldap.roles]` (the `roles` claim) and
/// `[admin.roles]` (Trousseau's own administration roles, never in a relying party's token).
pub(super) fn role_maps(s: &LdapSettings, admin: &AdminSettings) -> RoleMaps {
    RoleMaps {
        claims: s
            .roles
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect(),
        admin: admin.role_map(),
    }
}

/// The two group-to-role maps a sync applies.
#[derive(Debug, Default)]
pub(super) struct RoleMaps {
    pub(super) claims: HashMap<String, String>,
    pub(super) admin: HashMap<String, String>,
}

/// An account's roles from its groups, by map.
#[derive(Debug, Default)]
pub(super) struct AccountRoles {
    pub(super) claims: Vec<String>,
    pub(super) admin: Vec<String>,
}

impl AccountRoles {
    /// What the account fingerprint covers: administration roles only when there are some,
    /// so that fingerprints of directories without `[admin.roles]` stay as they were.
    pub(super) fn fingerprinted(&self) -> Vec<String> {
        self.claims
            .iter()
            .cloned()
            .chain(self.admin.iter().map(|r| format!("admin:{r}")))
            .collect()
    }
}

/// Reads every group (cheap: thousands), with the ones changed since the marker.
pub(super) async fn read_groups(
    dir: &Arc<LdapClient>,
    s: &LdapSettings,
    since: Option<&str>,
) -> anyhow::Result<Groups> {
    let mut g = Groups::default();
    if s.group_base.is_empty() {
        return Ok(g);
    }
    let marker_attr = match s.kind {
        DirectoryKind::Ad => "uSNChanged",
        DirectoryKind::Openldap => "modifyTimestamp",
    };
    let mut attrs = vec!["cn".to_owned(), marker_attr.to_owned()];
    if !s.attributes.member_of.is_empty() {
        attrs.push(s.attributes.member_of.clone());
    }
    let mut pages = Vec::new();
    dir.paged_search(&s.group_base, &s.group_filter, attrs, Vec::new(), |p| {
        pages.push(p);
        Ok(())
    })
    .await
    .context("reading the groups from the directory")?;
    let member_of = s.attributes.member_of.to_lowercase();
    let threshold: Option<(u64, String)> = since.map(|m| {
        let usn = m.parse::<u64>().unwrap_or(0);
        (usn, stamp_minus(m, 60))
    });
    for e in pages.into_iter().flatten() {
        let dn = e.dn.to_lowercase();
        let mut cn = String::new();
        let mut parents = Vec::new();
        let mut changed = false;
        for (k, v) in e.attrs {
            let k = k.to_lowercase();
            if k == "cn" {
                cn = v.into_iter().next().unwrap_or_default();
            } else if k == member_of {
                parents = v.into_iter().map(|p| p.to_lowercase()).collect();
            } else if let (Some((usn, stamp)), Some(val)) = (&threshold, v.first()) {
                changed = match s.kind {
                    DirectoryKind::Ad => val.parse::<u64>().is_ok_and(|x| x > *usn),
                    DirectoryKind::Openldap => val.as_str() >= stamp.as_str(),
                };
            }
        }
        for p in &parents {
            g.children.entry(p.clone()).or_default().push(dn.clone());
        }
        if changed {
            g.changed.push(dn.clone());
        }
        g.cn.insert(dn.clone(), cn);
        g.parents.insert(dn, parents);
    }
    Ok(g)
}

/// AD accounts deleted since the marker (tombstones, seen with the show-deleted control).
pub(super) async fn ad_deleted(dir: &Arc<LdapClient>, since: &str) -> anyhow::Result<Vec<String>> {
    let Some(naming) = dir.root_dse("defaultNamingContext").await? else {
        return Ok(Vec::new());
    };
    let usn: u64 = since.parse().unwrap_or(0);
    let unique = dir.settings().attributes.unique_id.clone();
    let mut out = Vec::new();
    dir.paged_search(
        &format!("CN=Deleted Objects,{naming}"),
        &format!(
            "(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>={}))",
            usn + 1
        ),
        vec![unique.clone()],
        vec![RawControl {
            ctype: SHOW_DELETED_OID.to_owned(),
            crit: true,
            val: None,
        }],
        |page| {
            for e in page {
                let id = e
                    .bin_attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&unique))
                    .and_then(|(_, v)| v.first())
                    .map(|b| crate::ldap::guid_text(b))
                    .or_else(|| {
                        e.attrs
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&unique))
                            .and_then(|(_, v)| v.first().cloned())
                    });
                out.extend(id);
            }
            Ok(())
        },
    )
    .await
    .context("reading the deleted accounts from the directory")?;
    Ok(out)
}

/// A GeneralizedTime (`YYYYMMDDHHMMSSZ`, fraction allowed) moved back by `secs`; the text
/// unchanged when it cannot be read.
pub(super) fn stamp_minus(stamp: &str, secs: i64) -> String {
    let digits: String = stamp.chars().take(14).collect();
    if digits.len() != 14 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return stamp.to_owned();
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().unwrap_or(0);
    let Ok(month) = time::Month::try_from(n(4, 6) as u8) else {
        return stamp.to_owned();
    };
    let Ok(date) = time::Date::from_calendar_date(n(0, 4) as i32, month, n(6, 8) as u8) else {
        return stamp.to_owned();
    };
    let Ok(t) = time::Time::from_hms(n(8, 10) as u8, n(10, 12) as u8, n(12, 14) as u8) else {
        return stamp.to_owned();
    };
    let dt = time::PrimitiveDateTime::new(date, t) - time::Duration::seconds(secs);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_resolve_without_loops() {
        let mut g = Groups::default();
        g.parents.insert("g1".into(), vec!["g2".into()]);
        g.parents
            .insert("g2".into(), vec!["g3".into(), "g1".into()]);
        g.parents.insert("g3".into(), vec![]);
        g.cn.insert("g3".into(), "Medecins".into());
        assert_eq!(*g.ancestors("g1"), vec!["g2".to_owned(), "g3".to_owned()]);
        let map = HashMap::from([("medecins".to_owned(), "medecin".to_owned())]);
        assert_eq!(g.roles(&["g1".into()], &map), ["medecin"]);
        g.children.insert("g3".into(), vec!["g2".into()]);
        g.children.insert("g2".into(), vec!["g1".into()]);
        assert_eq!(g.descendants("g3").len(), 3);
    }

    #[test]
    fn stamps_move_back() {
        assert_eq!(stamp_minus("20261123000030Z", 60), "20261122235930Z");
        assert_eq!(stamp_minus("20260101000000.123Z", 1), "20251231235959Z");
        assert_eq!(stamp_minus("garbage", 60), "garbage");
    }
}
