//! Where a package lives in its registry bucket (quilt3's v1 layout).
//!
//! | object | key | body |
//! |---|---|---|
//! | manifest | `.quilt/packages/<top_hash>` | the JSONL manifest |
//! | revision pointer | `.quilt/named_packages/<user>/<pkg>/<unix_seconds>` | the top hash, 64 hex, no newline |
//! | latest pointer | `.quilt/named_packages/<user>/<pkg>/latest` | the same |
//!
//! quilt3 names a revision `str(int(time.time()))` — decimal seconds, no padding — and
//! writes the manifest, then the revision pointer, then `latest`.

use crate::logical_key::LogicalKey;
use crate::name::PackageName;
use crate::top_hash::{TopHash, TopHashError};

/// Prefix of all manifests.
pub const MANIFESTS_PREFIX: &str = ".quilt/packages/";
/// Prefix of all package pointers (list it with delimiter `/` to list users, then names).
pub const NAMED_PACKAGES_PREFIX: &str = ".quilt/named_packages/";
/// The name of the latest pointer.
pub const LATEST: &str = "latest";

/// `.quilt/packages/<top_hash>`.
pub fn manifest_key(top_hash: &TopHash) -> String {
    format!("{MANIFESTS_PREFIX}{top_hash}")
}

/// `.quilt/named_packages/<user>/<pkg>/`: list it to find a package's revisions.
pub fn pointers_prefix(name: &PackageName) -> String {
    format!("{NAMED_PACKAGES_PREFIX}{name}/")
}

/// `.quilt/named_packages/<user>/<pkg>/latest`.
pub fn latest_pointer_key(name: &PackageName) -> String {
    format!("{NAMED_PACKAGES_PREFIX}{name}/{LATEST}")
}

/// `.quilt/named_packages/<user>/<pkg>/<unix_seconds>`.
pub fn revision_pointer_key(name: &PackageName, unix_seconds: u64) -> String {
    format!("{NAMED_PACKAGES_PREFIX}{name}/{unix_seconds}")
}

/// Where quilt3's push copies an entry by default: `<user>/<pkg>/<logical key>` in the
/// registry bucket (`registry.join(name).join(logical_key)`).
pub fn object_key(name: &PackageName, logical_key: &LogicalKey) -> String {
    format!("{name}/{logical_key}")
}

/// A revision pointer's name for time `t`: whole seconds since the epoch, truncated, as
/// quilt3's `str(int(time.time()))` (0 for times before the epoch).
pub fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The body of a pointer object: the top hash, no newline.
pub fn pointer_body(top_hash: &TopHash) -> String {
    top_hash.to_string()
}

/// Reads a pointer body; surrounding ASCII whitespace is tolerated (hand-edited pointers).
pub fn parse_pointer_body(body: &[u8]) -> Result<TopHash, TopHashError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| TopHashError::Invalid(String::from_utf8_lossy(body).into()))?;
    TopHash::parse(text.trim_ascii())
}

/// A registry key this crate recognises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryKey {
    /// `.quilt/packages/<top_hash>`.
    Manifest(TopHash),
    /// `.quilt/named_packages/<name>/latest`.
    Latest(PackageName),
    /// `.quilt/named_packages/<name>/<unix_seconds>`.
    Revision(PackageName, u64),
}

impl RegistryKey {
    /// Recognises a key; `None` for anything else (other files in `.quilt/`, pointer names
    /// that are neither `latest` nor canonical decimal seconds, invalid package names).
    pub fn parse(key: &str) -> Option<RegistryKey> {
        if let Some(hash) = key.strip_prefix(MANIFESTS_PREFIX) {
            return TopHash::parse(hash).ok().map(RegistryKey::Manifest);
        }
        let rest = key.strip_prefix(NAMED_PACKAGES_PREFIX)?;
        let (name, pointer) = rest.rsplit_once('/')?;
        let name = PackageName::new(name).ok()?;
        if pointer == LATEST {
            return Some(RegistryKey::Latest(name));
        }
        let canonical = !pointer.is_empty()
            && pointer.bytes().all(|b| b.is_ascii_digit())
            && (pointer == "0" || !pointer.starts_with('0'));
        canonical
            .then(|| pointer.parse().ok())
            .flatten()
            .map(|t| RegistryKey::Revision(name, t))
    }

    /// The key text.
    pub fn to_key(&self) -> String {
        match self {
            RegistryKey::Manifest(h) => manifest_key(h),
            RegistryKey::Latest(n) => latest_pointer_key(n),
            RegistryKey::Revision(n, t) => revision_pointer_key(n, *t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let name = PackageName::new("alice/demo").expect("valid");
        let hash =
            TopHash::parse("1a17a9c50c4016fbb2bf3be25c27e5a3d998209f1bf3ce2e7633ddfa43613593")
                .expect("valid");
        for k in [
            RegistryKey::Manifest(hash),
            RegistryKey::Latest(name.clone()),
            RegistryKey::Revision(name.clone(), 1_763_856_000),
        ] {
            assert_eq!(RegistryKey::parse(&k.to_key()), Some(k));
        }
        assert_eq!(
            revision_pointer_key(&name, 1_763_856_000),
            ".quilt/named_packages/alice/demo/1763856000"
        );
        assert_eq!(
            RegistryKey::parse(".quilt/named_packages/alice/demo/0123"),
            None
        );
        assert_eq!(RegistryKey::parse(".quilt/packages/ABC"), None);
        assert_eq!(
            parse_pointer_body(
                b"1a17a9c50c4016fbb2bf3be25c27e5a3d998209f1bf3ce2e7633ddfa43613593\n"
            ),
            Ok(hash)
        );
    }
}
