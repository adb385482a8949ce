//! The three modes of a policy (RFC 8461 §5).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StsError;

/// What a sending MTA does when a receiving MX fails the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Do not deliver over a connection that fails the policy.
    Enforce,
    /// Deliver anyway, and report the failure (TLS-RPT).
    Testing,
    /// The domain has no policy (any longer): senders forget the cached one.
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = StsError;

    fn from_str(text: &str) -> Result<Mode, StsError> {
        match text {
            "enforce" => Ok(Mode::Enforce),
            "testing" => Ok(Mode::Testing),
            "none" => Ok(Mode::None),
            other => Err(StsError::UnknownMode {
                mode: other.to_string(),
            }),
        }
    }
}
