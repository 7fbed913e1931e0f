//! The caller's identity is the pair (issuer, subject), never the subject alone: `sub` is only
//! unique within one issuer, and a catalog's `id` and an identity provider's `sub` can be the
//! same string for two different people.
//!
//! Every [`crate::Principal`] has an issuer: the token's verified `iss`, or — when a token has
//! none — a fixed name for the kind of key that verified it ([`HS256_ISSUER`], [`JWKS_ISSUER`]),
//! and [`LOCAL_ISSUER`] for the stdio and auth-disabled principals. Those names start with
//! [`RESERVED_ISSUER_PREFIX`], and a token whose own `iss` starts with it is refused, so a
//! fixed name can never be claimed by a token.
//!
//! [`IdentityKey`] is a SHA-256 over the exact pair (each part length-prefixed, so no two
//! pairs share an encoding); everything that keys or names a caller — credential caches,
//! admission, role session names — uses it, so two callers that differ in either part can
//! never merge.

use std::fmt;

use sha2::{Digest, Sha256};

/// Names that no token's `iss` may start with (they are ours).
pub const RESERVED_ISSUER_PREFIX: &str = "quilt-mcp:";
/// The issuer of an HS256 token (`MCP_JWT_SECRET`) that carries no `iss`.
pub const HS256_ISSUER: &str = "quilt-mcp:hs256";
/// The issuer of a JWKS-verified token that carries no `iss` (only possible while
/// `MCP_JWT_ISSUER` is unset).
pub const JWKS_ISSUER: &str = "quilt-mcp:jwks";
/// The issuer of the local principal (stdio, or auth disabled on loopback).
pub const LOCAL_ISSUER: &str = "quilt-mcp:local";

/// A fixed-size digest of the exact (issuer, subject). See the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    /// The key of (`issuer`, `subject`).
    pub fn new(issuer: &str, subject: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [issuer, subject] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        Self(hash.finalize().into())
    }

    /// The first 8 bytes as 16 lowercase hex digits: short enough for a role session name,
    /// long enough (64 bits) that two identities of one deployment do not meet by chance.
    pub fn short_hex(&self) -> String {
        self.0[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The whole digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.short_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_in_either_part_and_parts_cannot_shift() {
        let a = IdentityKey::new("https://idp-a", "alice");
        assert_eq!(a, IdentityKey::new("https://idp-a", "alice"));
        assert_ne!(a, IdentityKey::new("https://idp-b", "alice"));
        assert_ne!(a, IdentityKey::new("https://idp-a", "alice2"));
        // Length prefixes: moving a character from one part to the other changes the key.
        assert_ne!(IdentityKey::new("ab", "c"), IdentityKey::new("a", "bc"));
        assert_eq!(a.short_hex().len(), 16);
    }
}
