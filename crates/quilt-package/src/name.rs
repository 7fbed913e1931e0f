//! Package names: `user/package`, as quilt3 accepts them.
//!
//! quilt3 matches `^[\w-]+/[\w-]+$` with Python's Unicode `\w`: letters (general category
//! L*), numbers (N*) and `_`. Unlike Python's `$` we refuse a trailing newline (Python lets
//! `"a/b\n"` through, and it would make a broken S3 key).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A valid package name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

/// Why a string is not a valid package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid package name {name:?}: expected `user/package`, each part letters, digits, '_' or '-'"
)]
pub struct PackageNameError {
    /// The refused name.
    pub name: String,
}

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::unwrap_used,
        reason = "a constant pattern, exercised by every test"
    )]
    Regex::new(r"\A[\p{L}\p{N}_-]+/[\p{L}\p{N}_-]+\z").unwrap()
});

impl PackageName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, PackageNameError> {
        let name = name.into();
        if NAME.is_match(&name) {
            Ok(PackageName(name))
        } else {
            Err(PackageNameError { name })
        }
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `/`.
    pub fn user(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(u, _)| u)
    }

    /// The part after `/`.
    pub fn package(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, p)| p)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PackageName {
    type Err = PackageNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for PackageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_quilt3_names_and_refuses_the_rest() {
        for ok in ["alice/demo", "a_b/c-d", "données/é", "x/数据", "u1/p²"] {
            assert!(PackageName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "alice", "a/b/c", "/b", "a/", "a b/c", "a/b\n", "a.b/c", "", "a/b:c",
        ] {
            assert!(PackageName::new(bad).is_err(), "{bad:?}");
        }
        let n = PackageName::new("alice/demo").expect("valid");
        assert_eq!((n.user(), n.package()), ("alice", "demo"));
    }
}
