//! Where accounts live among the store's named values. A module of its
//! own because both `accounts` and the logins (which end when their
//! account is gone) read them.

/// Where accounts live among the store's named values.
pub const USER_PREFIX: &str = "console/user/";

/// The store key of an account.
pub fn user_key(name: &str) -> String {
    format!("{USER_PREFIX}{name}")
}
