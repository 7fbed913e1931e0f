//! The credential sources of DESIGN.md "Credentials" and the access intent of a request.

use std::fmt;
use std::str::FromStr;

/// Where a caller's AWS credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// The token's own `aws_credentials`.
    Jwt,
    /// AssumeRole into the token's `role_arn` (allow-listed).
    RoleClaim,
    /// The Quilt catalog's `/api/auth/get_credentials`, with the caller's token.
    Catalog,
    /// The stack's read or write role, assumed for the caller.
    StackRoles,
    /// The process's own credentials (only when the operator lists it).
    Ambient,
}

impl CredentialSource {
    /// Every source, in DESIGN.md order.
    pub const ALL: [Self; 5] = [
        Self::Jwt,
        Self::RoleClaim,
        Self::Catalog,
        Self::StackRoles,
        Self::Ambient,
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::RoleClaim => "role_claim",
            Self::Catalog => "catalog",
            Self::StackRoles => "stack_roles",
            Self::Ambient => "ambient",
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown source {s:?} (known: {})", known.join(", "))
            })
    }
}

/// What a request means to do with AWS: it picks the stack role and shows in audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessIntent {
    /// Reads only.
    Read,
    /// Writes (puts, copies, package pushes).
    Write,
}

impl AccessIntent {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}
