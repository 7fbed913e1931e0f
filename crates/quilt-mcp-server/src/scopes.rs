//! The OAuth scopes this server's tools, resources, prompts and tasks need ([`Scope`], the one
//! place their names are written) and the operator's policy over them ([`ScopePolicy`]:
//! `MCP_REQUIRE_SCOPES`, `MCP_SCOPE_MAP`). A foundation module: the registry, the permission
//! engine, resources, prompts and the RFC 9728 metadata all read it; it reads nothing above it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use quilt_mcp_auth::Principal;

/// A scope a token may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Reading buckets, packages, the catalog (`quilt:read`).
    Read,
    /// Writing objects and packages (`quilt:write`).
    Write,
    /// Running Athena queries (`athena:query`).
    AthenaQuery,
    /// The catalog's admin tools (`quilt:admin`; the catalog decides who is an admin, the
    /// scope only narrows it).
    Admin,
}

impl Scope {
    /// The scopes advertised in the RFC 9728 metadata (`scopes_supported`), granted to the
    /// stdio principal, minted by `token` by default, and the ones `MCP_SCOPE_MAP` may rename.
    pub const ADVERTISED: [Scope; 3] = [Scope::Read, Scope::Write, Scope::AthenaQuery];

    /// The scope's name in tokens (before `MCP_SCOPE_MAP`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "quilt:read",
            Scope::Write => "quilt:write",
            Scope::AthenaQuery => "athena:query",
            Scope::Admin => "quilt:admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    /// One of [`Scope::ADVERTISED`] (the scopes an operator may rename).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ADVERTISED
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of {}", advertised_list()))
    }
}

/// `quilt:read, quilt:write, athena:query`, for messages.
pub(crate) fn advertised_list() -> String {
    Scope::ADVERTISED.map(Scope::as_str).join(", ")
}

/// Whether tools need their scope in the token, and how the issuer spells scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePolicy {
    required: bool,
    map: HashMap<Scope, String>,
}

impl Default for ScopePolicy {
    fn default() -> Self {
        Self {
            required: true,
            map: HashMap::new(),
        }
    }
}

impl ScopePolicy {
    /// The policy of `MCP_REQUIRE_SCOPES` and a parsed `MCP_SCOPE_MAP`.
    pub fn new(required: bool, map: HashMap<Scope, String>) -> Self {
        Self { required, map }
    }

    /// Parses `MCP_SCOPE_MAP` entries (`server_scope=token_scope`; blank entries skipped).
    pub fn parse_map<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<Scope, String>, String> {
        let mut map = HashMap::new();
        for entry in entries {
            if entry.trim().is_empty() {
                continue;
            }
            let parsed = entry.split_once('=').and_then(|(ours, theirs)| {
                let ours = ours.trim().parse::<Scope>().ok()?;
                let theirs = theirs.trim();
                (!theirs.is_empty()).then(|| (ours, theirs.to_owned()))
            });
            let Some((ours, theirs)) = parsed else {
                return Err(format!(
                    "{entry:?} is not server_scope=token_scope with server_scope one of {}",
                    advertised_list()
                ));
            };
            map.insert(ours, theirs);
        }
        Ok(map)
    }

    /// Whether scopes are required at all.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Whether `principal` holds `scope` (always true when scopes are not required).
    pub fn allows(&self, principal: &Principal, scope: Scope) -> bool {
        self.permits(principal, Some(scope))
    }

    /// [`ScopePolicy::allows`] for a tool that may need no scope.
    pub fn permits(&self, principal: &Principal, scope: Option<Scope>) -> bool {
        match scope {
            None => true,
            Some(_) if !self.required => true,
            Some(s) => principal.has_scope(self.map.get(&s).map_or(s.as_str(), String::as_str)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_admin_is_not_mappable() {
        for scope in Scope::ADVERTISED {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("quilt:admin".parse::<Scope>().is_err());
    }

    #[test]
    fn scope_map_entries_are_checked() {
        let map = ScopePolicy::parse_map(["quilt:read=catalog.read", " "]).expect("valid");
        assert_eq!(
            map.get(&Scope::Read).map(String::as_str),
            Some("catalog.read")
        );
        for bad in ["quilt:read", "quilt:read=", "quilt:nope=x"] {
            let e = ScopePolicy::parse_map([bad]).expect_err(bad);
            assert!(e.contains("server_scope=token_scope"), "{e}");
        }
    }
}
