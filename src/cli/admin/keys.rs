//! `trousseau keys`: list and rotate signing keys.

use clap::Subcommand;
use serde_json::json;

use super::common::{ACTOR, JsonFlag};
use crate::cli::output::{table, time};
use crate::oidc::keys::SigningAlg;
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state.
    List(JsonFlag),
    /// Rotate: the published next key signs from now on; the current one stays published.
    Rotate {
        /// Only this algorithm (default: all).
        #[arg(long, value_parser = ["RS256", "ES256", "PS256"])]
        alg: Option<String>,
    },
}

pub async fn keys(state: &AppState, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List(f) => {
            let records = state.keys.records().await?;
            if f.json {
                let out: Vec<_> = records
                    .iter()
                    .map(|k| json!({ "kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at, "activated_at": k.activated_at, "retired_at": k.retired_at, "publish_until": k.publish_until }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let rows = records
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.alg.clone(),
                            k.state.clone(),
                            time(k.created_at),
                            k.publish_until.map(time).unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>();
                table(
                    &["KID", "ALG", "STATE", "CREATED", "PUBLISHED_UNTIL"],
                    &rows,
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let t = &state.settings.tokens;
            let publish =
                t.access_token_ttl_secs.max(t.id_token_ttl_secs) + t.key_publish_after_retire_secs;
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![a.parse::<SigningAlg>().map_err(anyhow::Error::msg)?],
                None => SigningAlg::ALL.to_vec(),
            };
            for a in algs {
                let kid = state.keys.rotate(a, publish).await?;
                let mut tx = state.db.begin().await?;
                state
                    .audit
                    .in_tx(
                        &mut tx,
                        crate::audit::AuditEvent::success("key_rotated")
                            .actor(ACTOR)
                            .details(json!({ "alg": a.as_str(), "kid": kid })),
                    )
                    .await?;
                tx.commit().await?;
                println!("{}", json!({ "alg": a.as_str(), "current_kid": kid }));
            }
        }
    }
    Ok(())
}
