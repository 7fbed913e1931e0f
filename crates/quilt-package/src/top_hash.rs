//! The top hash: a package revision's identity, as quilt3's `Package._calculate_top_hash`.
//!
//! SHA-256 over, with no separator: the header object (legacy `top_hash` key left out), then
//! for each file entry in walk order `{"hash", "logical_key", "meta", "size"}` — each
//! serialised with keys sorted at every level, `,`/`:` separators and ASCII-only escaping
//! ([`JsonObject::to_hash_string`]). Physical keys and directory metadata are not hashed.
//! [`TopHasher`] does this incrementally, so a streamed manifest is hashed in constant memory.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::json::write::{Field, Style, write_fields, write_object};
use crate::logical_key::{KeySetError, WalkOrderCheck};
use crate::manifest::{Entry, Header};

/// A top hash: 32 bytes, shown as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopHash([u8; 32]);

/// Why a string is not a top hash (or prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopHashError {
    /// Not 64 lowercase hex characters.
    #[error("{0:?} is not a top hash (64 lowercase hex characters)")]
    Invalid(String),
    /// Not 6–64 lowercase hex characters.
    #[error("{0:?} is not a top-hash prefix (6 to 64 lowercase hex characters)")]
    InvalidPrefix(String),
    /// No candidate starts with the prefix.
    #[error("no revision's top hash starts with {0:?}")]
    NotFound(String),
    /// More than one candidate starts with the prefix.
    #[error("top-hash prefix {0:?} is ambiguous")]
    Ambiguous(String),
}

impl TopHash {
    /// Parses 64 lowercase hex characters (what quilt3 writes; upper case is refused, as
    /// it would name a different S3 key).
    pub fn parse(s: &str) -> Result<Self, TopHashError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(TopHashError::Invalid(s.to_owned()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            out[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        Ok(TopHash(out))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Resolves a hash prefix (6–64 hex characters) against candidate hashes, requiring
    /// exactly one match, as quilt3's `resolve_top_hash` does over `.quilt/packages/`.
    /// Candidates that are not valid top hashes are ignored.
    pub fn resolve_prefix<'a>(
        prefix: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Result<TopHash, TopHashError> {
        if !(6..=64).contains(&prefix.len())
            || !prefix
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(TopHashError::InvalidPrefix(prefix.to_owned()));
        }
        let mut found = None;
        for c in candidates {
            if let (true, Ok(h)) = (c.starts_with(prefix), TopHash::parse(c)) {
                if found.is_some_and(|f| f != h) {
                    return Err(TopHashError::Ambiguous(prefix.to_owned()));
                }
                found = Some(h);
            }
        }
        found.ok_or_else(|| TopHashError::NotFound(prefix.to_owned()))
    }
}

fn nibble(c: u8) -> u8 {
    if c.is_ascii_digit() {
        c - b'0'
    } else {
        c - b'a' + 10
    }
}

impl fmt::Display for TopHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TopHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopHash({self})")
    }
}

impl std::str::FromStr for TopHash {
    type Err = TopHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Computes a top hash from a header and then entries pushed in walk order.
#[derive(Clone, Debug)]
pub struct TopHasher {
    sha: Sha256,
    order: WalkOrderCheck,
    buf: String,
}

impl TopHasher {
    /// Starts with the header.
    pub fn new(header: &Header) -> Self {
        let mut buf = String::new();
        write_object(&mut buf, header.fields(), Style::Hash);
        let mut sha = Sha256::new();
        sha.update(buf.as_bytes());
        TopHasher {
            sha,
            order: WalkOrderCheck::default(),
            buf,
        }
    }

    /// Adds the next entry. Entries must come in walk order (as quilt3 writes them), since
    /// the hash depends on it: a duplicate, a file/directory clash or a key out of order is
    /// an error and leaves the hasher unchanged.
    pub fn push(&mut self, entry: &Entry) -> Result<(), KeySetError> {
        self.order.push(&entry.logical_key)?;
        self.buf.clear();
        let hash = entry.hash.to_json();
        write_fields(
            &mut self.buf,
            [
                ("hash", Field::Object(&hash)),
                ("logical_key", Field::Str(entry.logical_key.as_str())),
                ("meta", Field::Object(&entry.meta)),
                ("size", Field::U64(entry.size)),
            ],
            Style::Hash,
        );
        self.sha.update(self.buf.as_bytes());
        Ok(())
    }

    /// The top hash.
    pub fn finish(self) -> TopHash {
        TopHash(self.sha.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonObject;

    #[test]
    fn header_only_hashes_match_quilt3() {
        let mut h = Header::new();
        h.set_message(None);
        assert_eq!(
            TopHasher::new(&h).finish().to_string(),
            "2a5a67156ca9238c14d12042db51c5b52260fdd5511b61ea89b58929d6e1769b"
        );
        let mut h = Header::new();
        let mut um = JsonObject::new();
        um.insert("key", "value");
        h.set_user_meta(Some(um.into()));
        h.set_message(Some("Initial"));
        assert_eq!(
            TopHasher::new(&h).finish().to_string(),
            "0d659c7f1d7a141160a9defc9b1c9ea7bca96d3454af59cbfcf523871e72f47e"
        );
    }

    #[test]
    fn message_absent_and_null_hash_differently() {
        let absent = TopHasher::new(&Header::new()).finish();
        let mut h = Header::new();
        h.set_message(None);
        assert_ne!(absent, TopHasher::new(&h).finish());
    }

    #[test]
    fn prefixes_resolve_to_exactly_one() {
        let a = "2a5a67156ca9238c14d12042db51c5b52260fdd5511b61ea89b58929d6e1769b";
        let b = "2a5a67aaaca9238c14d12042db51c5b52260fdd5511b61ea89b58929d6e1769b";
        assert_eq!(
            TopHash::resolve_prefix("2a5a671", [a, b]).map(|h| h.to_string()),
            Ok(a.to_owned())
        );
        assert!(matches!(
            TopHash::resolve_prefix("2a5a67", [a, b]),
            Err(TopHashError::Ambiguous(_))
        ));
        assert!(matches!(
            TopHash::resolve_prefix("ffffff", [a, b]),
            Err(TopHashError::NotFound(_))
        ));
        assert!(matches!(
            TopHash::resolve_prefix("2a5a6", [a]),
            Err(TopHashError::InvalidPrefix(_))
        ));
    }
}
