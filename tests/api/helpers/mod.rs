//! What every black-box test shares: its own Trousseau (`app`), the one fake HTTP peer
//! (`http_peer`), waiting for events (`wait`) and real peers (`peers`).

mod app;
pub mod http_peer;
pub mod peers;
pub mod wait;

pub use app::*;
pub use http_peer::{HttpPeer, Reply};
