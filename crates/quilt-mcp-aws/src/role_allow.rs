//! [`RoleArnAllow`]: the role ARN patterns (`MCP_ROLE_ARN_ALLOW`, `*` wildcards) a token's
//! `role_arn` claim must match for the `role_claim` source. Compiled once at start-up, so a bad
//! pattern stops the process there and the broker only ever sees a compiled set.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A compiled allow list; empty refuses every claim.
#[derive(Debug, Clone)]
pub struct RoleArnAllow {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Default for RoleArnAllow {
    /// Nothing allowed.
    fn default() -> Self {
        Self {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

impl RoleArnAllow {
    /// Compiles `patterns` (each trimmed; blank ones skipped). The error names the pattern.
    pub fn parse<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns.into_iter().map(str::trim) {
            if pattern.is_empty() {
                continue;
            }
            builder.add(Glob::new(pattern).map_err(|e| format!("{pattern:?}: {e}"))?);
            kept.push(pattern.to_owned());
        }
        Ok(Self {
            patterns: kept,
            set: builder.build().map_err(|e| e.to_string())?,
        })
    }

    /// Whether no pattern is listed (every claim is then refused).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `arn` matches a pattern.
    pub fn is_match(&self, arn: &str) -> bool {
        self.set.is_match(arn)
    }

    /// The patterns, as listed.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_patterns_are_skipped_and_bad_ones_named() {
        let allow = RoleArnAllow::parse([" arn:aws:iam::1:role/a-* ", ""]).expect("valid");
        assert_eq!(allow.patterns(), ["arn:aws:iam::1:role/a-*"]);
        assert!(allow.is_match("arn:aws:iam::1:role/a-b"));
        assert!(!allow.is_match("arn:aws:iam::1:role/b"));
        assert!(RoleArnAllow::parse([""]).expect("blank").is_empty());
        let e = RoleArnAllow::parse(["arn:[a"]).expect_err("bad");
        assert!(e.starts_with("\"arn:[a\""), "{e}");
    }
}
