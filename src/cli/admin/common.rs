//! What the administration commands share: the actor they write in the audit trail and the
//! `--json` flag.

use clap::Args;

/// The actor of the audit events written by the command line.
pub(super) const ACTOR: &str = "cli";

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
