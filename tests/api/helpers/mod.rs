//! What every black-box test shares: its own Trousseau (`app`), real peers (`peers`).

mod app;
pub mod peers;

pub use app::*;
