//! Errors: a rich internal [`Error`] used throughout the core, mapped in exactly one place
//! ([`From<Error> for VaultError`]) to the small public enum that crosses the FFI.
//! SQLite failures are classified by their result code, never by message text.

use rusqlite::ErrorCode;

/// The internal error type of the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("SQLite value error: {0}")]
    FromSql(#[from] rusqlite::types::FromSqlError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    Closed(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The public error enum of the UDL (`VaultError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("{reason}")]
    NotFound { reason: String },
    #[error("{reason}")]
    Busy { reason: String },
    #[error("{reason}")]
    InvalidArgument { reason: String },
    #[error("{reason}")]
    ReadOnly { reason: String },
    #[error("{reason}")]
    Closed { reason: String },
    #[error("{reason}")]
    Corrupt { reason: String },
    #[error("{reason}")]
    DiskFull { reason: String },
    #[error("{reason}")]
    Io { reason: String },
    #[error("{reason}")]
    UnsupportedEncoding { reason: String },
    #[error("{reason}")]
    Interrupted { reason: String },
    #[error("{reason}")]
    Internal { reason: String },
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
    pub fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
    /// True for transient lock contention (SQLITE_BUSY / SQLITE_LOCKED or our own lock timeouts).
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Busy(_) => true,
            Error::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

fn sqlite_to_public(e: &rusqlite::Error) -> VaultError {
    let reason = format!("SQLite error: {e}");
    match e {
        rusqlite::Error::SqliteFailure(_, _) => match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => VaultError::Busy {
                reason: format!("{reason} (database is locked)"),
            },
            Some(ErrorCode::ReadOnly) => VaultError::ReadOnly {
                reason: format!("{reason} (read-only)"),
            },
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                VaultError::Corrupt { reason }
            }
            Some(ErrorCode::DiskFull) => VaultError::DiskFull { reason },
            Some(ErrorCode::OperationInterrupted) => VaultError::Interrupted { reason },
            Some(ErrorCode::TooBig) => VaultError::InvalidArgument { reason },
            Some(ErrorCode::SystemIoFailure)
            | Some(ErrorCode::CannotOpen)
            | Some(ErrorCode::PermissionDenied)
            | Some(ErrorCode::FileLockingProtocolFailed)
            | Some(ErrorCode::NoLargeFileSupport) => VaultError::Io { reason },
            Some(ErrorCode::ConstraintViolation) | Some(ErrorCode::TypeMismatch) => {
                VaultError::InvalidArgument { reason }
            }
            _ => VaultError::Internal { reason },
        },
        rusqlite::Error::QueryReturnedNoRows => VaultError::NotFound { reason },
        rusqlite::Error::InvalidParameterName(_)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::ToSqlConversionFailure(_)
        | rusqlite::Error::InvalidPath(_)
        | rusqlite::Error::NulError(_) => VaultError::InvalidArgument { reason },
        _ => VaultError::Internal { reason },
    }
}

impl From<Error> for VaultError {
    fn from(e: Error) -> Self {
        match e {
            Error::Sqlite(ref s) => sqlite_to_public(s),
            Error::Io(ref io) => match io.kind() {
                std::io::ErrorKind::StorageFull => VaultError::DiskFull {
                    reason: e.to_string(),
                },
                std::io::ErrorKind::PermissionDenied => VaultError::Io {
                    reason: e.to_string(),
                },
                _ => VaultError::Io {
                    reason: e.to_string(),
                },
            },
            Error::FromSql(_) => VaultError::Corrupt {
                reason: e.to_string(),
            },
            Error::NotFound(reason) => VaultError::NotFound { reason },
            Error::InvalidArgument(reason) => VaultError::InvalidArgument { reason },
            Error::ReadOnly(reason) => VaultError::ReadOnly { reason },
            Error::Closed(reason) => VaultError::Closed { reason },
            Error::Busy(reason) => VaultError::Busy { reason },
            Error::Corrupt(reason) => VaultError::Corrupt { reason },
            Error::UnsupportedEncoding(reason) => VaultError::UnsupportedEncoding { reason },
            Error::Internal(reason) => VaultError::Internal { reason },
        }
    }
}

/// Result type of everything exported through the UDL.
pub type VResult<T> = std::result::Result<T, VaultError>;

/// Runs `f`, converting internal errors and any panic into a `VaultError`, so no panic ever
/// unwinds into foreign code (uniffi also guards its scaffolding; this keeps the message typed).
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> VResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(VaultError::from),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(VaultError::Internal {
                reason: format!("internal error: {msg}"),
            })
        }
    }
}
