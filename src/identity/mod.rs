//! Validated identifiers of French health professionals and structures (rpps.md, "IdNat_PS").

mod finess;
mod idnat;
mod link;
mod luhn;
pub mod name;
mod role;
mod status;

pub use finess::{Finess, FinessError};
pub use idnat::{Adeli, IdNat, IdNatError, IdNatKind, Rpps};
pub use link::LinkMethod;
pub use role::{AdminRole, IdentityDocument, UnknownDocument, UnknownRole};
pub use status::{Status, UnknownStatus};
