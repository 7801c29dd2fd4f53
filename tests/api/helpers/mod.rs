//! What every black-box test shares: its own Trousseau (`app`), the one fake HTTP peer
//! (`http_peer`), waiting for events (`wait`), real peers (`peers`) and skipping loudly when
//! one is missing (`skip`).

mod app;
pub mod http_peer;
pub mod peers;
pub mod sandbox;
pub mod skip;
pub mod wait;

pub use app::*;
pub use http_peer::{HttpPeer, Reply};
