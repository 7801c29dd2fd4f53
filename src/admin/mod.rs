//! Administration of identities and clients, shared by the CLI (and later the console).

pub mod cards;
pub mod clients;
pub mod keys;
pub mod users;

/// A refused administrative action, worded for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database refused the change: {0}")]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<crate::directory::users::UserError> for AdminError {
    fn from(e: crate::directory::users::UserError) -> AdminError {
        use crate::directory::users::UserError;
        match e {
            UserError::Invalid(m) => AdminError::Invalid(m),
            UserError::NotFound(m) => AdminError::NotFound(m),
            UserError::Conflict(m) => AdminError::Conflict(m),
            UserError::Storage(e) => AdminError::Storage(e),
            UserError::Other(e) => AdminError::Other(e),
        }
    }
}
