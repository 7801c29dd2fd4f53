//! What reconciliation does to broken RPPS links (`[reconcile]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Suspend an identity whose RPPS link broke (IdNat gone, or no activity here) once the
    /// finding is this many days old. Absent: flag only.
    #[serde(default)]
    pub suspend_broken_links_after_days: Option<u32>,
}
