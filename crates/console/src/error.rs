use mailcert_store::StoreError;
use thiserror::Error;

/// Why a console account or session operation did not happen. Nothing
/// was changed in the store in any case.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("'{name}' is not a usable console user name: {reason}; use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit")]
    BadUserName { name: String, reason: &'static str },
    #[error("there is no console user '{0}'; see `mailcert console user list`")]
    NoSuchUser(String),
    #[error("the console user '{0}' already exists; change its password with `mailcert console user passwd {0}`")]
    UserExists(String),
    #[error("the password is too short ({length} characters): a console password needs at least {min}; choose a longer one (a passphrase of several words is easy to type)")]
    PasswordTooShort { length: usize, min: usize },
    #[error("the password is longer than {max} characters; choose a shorter one")]
    PasswordTooLong { max: usize },
    #[error("the password hash could not be made: {0}")]
    Hash(String),
    #[error("the console on {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the console's TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("the store holds a damaged console record ({what}): {reason}; remove it with `mailcert console user remove` and add it again")]
    Corrupt { what: String, reason: String },
}

pub type Result<T> = std::result::Result<T, ConsoleError>;
