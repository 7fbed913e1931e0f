//! Logical keys: the paths of files inside a package, their rules and their walk order.
//!
//! quilt3 (`util.validate_key`) refuses an empty key and any `""`, `.` or `..` component, so
//! no leading, trailing or doubled `/`. A package is a tree, so one name cannot be both a
//! file and a directory (`a` and `a/b`), and a key appears once. quilt3 walks the tree
//! sorting each directory's children by name, which orders keys by their list of
//! components: `B.txt < a/b.txt < a-c.txt < a.txt` — not plain string order.

use std::cmp::Ordering;
use std::fmt;

/// A valid logical key of a file entry. Ordered in quilt3's walk order.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LogicalKey(String);

/// Why a string is not a valid logical key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogicalKeyError {
    /// The key is empty.
    #[error("logical key is empty")]
    Empty,
    /// The key starts with `/`.
    #[error("logical key {0:?} starts with '/'")]
    LeadingSlash(String),
    /// The key ends with `/` (a directory, not a file).
    #[error("logical key {0:?} ends with '/': a file key cannot name a directory")]
    TrailingSlash(String),
    /// The key has `//`.
    #[error("logical key {0:?} has an empty path component ('//')")]
    EmptyComponent(String),
    /// The key has a `.` or `..` component.
    #[error("logical key {key:?} has a {component:?} path component")]
    DotComponent {
        /// The key.
        key: String,
        /// `.` or `..`.
        component: String,
    },
}

/// Why a set of logical keys cannot form one package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    /// The same key twice.
    #[error("duplicate logical key {0:?}")]
    Duplicate(String),
    /// `file` is a file and also a directory holding `inside`.
    #[error("logical key {file:?} is both a file and a directory (it holds {inside:?})")]
    FileDirectoryClash {
        /// The key used as a file.
        file: String,
        /// A key under it.
        inside: String,
    },
    /// A stream of keys is not in walk order (streaming readers and hashers need it).
    #[error(
        "logical key {key:?} comes after {previous:?} but sorts before it in quilt3's walk order"
    )]
    NotInWalkOrder {
        /// The key out of place.
        key: String,
        /// The key before it.
        previous: String,
    },
}

impl LogicalKey {
    /// Validates `key` as quilt3 does.
    pub fn new(key: impl Into<String>) -> Result<Self, LogicalKeyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(LogicalKeyError::Empty);
        }
        if key.starts_with('/') {
            return Err(LogicalKeyError::LeadingSlash(key));
        }
        if key.ends_with('/') {
            return Err(LogicalKeyError::TrailingSlash(key));
        }
        for part in key.split('/') {
            match part {
                "" => return Err(LogicalKeyError::EmptyComponent(key)),
                "." | ".." => {
                    let component = part.to_owned();
                    return Err(LogicalKeyError::DotComponent { key, component });
                }
                _ => {}
            }
        }
        Ok(LogicalKey(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's components (`a/b.txt` → `a`, `b.txt`).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether `self` is a directory prefix of `other` (`a` of `a/b`).
    pub fn is_dir_of(&self, other: &LogicalKey) -> bool {
        other.0.len() > self.0.len()
            && other.0.starts_with(&self.0)
            && other.0.as_bytes()[self.0.len()] == b'/'
    }

    /// Consumes the key.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Compares two keys in quilt3's walk order (by `key.split('/')`).
///
/// Equivalent to comparing bytes with `/` below every other byte: `/` is ASCII, so it never
/// occurs inside a multi-byte UTF-8 sequence, and UTF-8 byte order is code-point order, which
/// is how Python compares strings.
pub fn walk_order(a: &str, b: &str) -> Ordering {
    let rank = |c: u8| if c == b'/' { 0u16 } else { u16::from(c) + 1 };
    a.bytes().map(rank).cmp(b.bytes().map(rank))
}

impl Ord for LogicalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        walk_order(&self.0, &other.0)
    }
}

impl PartialOrd for LogicalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for LogicalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LogicalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::str::FromStr for LogicalKey {
    type Err = LogicalKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for LogicalKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks that `keys` can form one package: no duplicates, no name both a file and a
/// directory. Any order; sorts a copy of the references.
pub fn check_key_set<'a>(
    keys: impl IntoIterator<Item = &'a LogicalKey>,
) -> Result<(), KeySetError> {
    let mut sorted: Vec<&LogicalKey> = keys.into_iter().collect();
    sorted.sort();
    let mut order = WalkOrderCheck::default();
    for k in sorted {
        order.push(k)?;
    }
    Ok(())
}

/// Checks keys arriving one by one in walk order, in constant memory: in walk order a
/// duplicate is equal to the key before it, and the keys under a directory `a/…` come
/// right after a file `a` if there is one.
#[derive(Debug, Default, Clone)]
pub struct WalkOrderCheck {
    previous: Option<LogicalKey>,
}

impl WalkOrderCheck {
    /// Accepts the next key, or says why it cannot follow the previous one.
    pub fn push(&mut self, key: &LogicalKey) -> Result<(), KeySetError> {
        if let Some(prev) = &self.previous {
            match prev.cmp(key) {
                Ordering::Equal => return Err(KeySetError::Duplicate(key.0.clone())),
                Ordering::Greater => {
                    return Err(KeySetError::NotInWalkOrder {
                        key: key.0.clone(),
                        previous: prev.0.clone(),
                    });
                }
                Ordering::Less if prev.is_dir_of(key) => {
                    return Err(KeySetError::FileDirectoryClash {
                        file: prev.0.clone(),
                        inside: key.0.clone(),
                    });
                }
                Ordering::Less => {}
            }
        }
        self.previous = Some(key.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> LogicalKey {
        LogicalKey::new(s).expect("valid key")
    }

    #[test]
    fn walk_order_sorts_by_components() {
        let mut keys = [k("a.txt"), k("a-c.txt"), k("a/b.txt"), k("B.txt")];
        keys.sort();
        let got: Vec<&str> = keys.iter().map(LogicalKey::as_str).collect();
        assert_eq!(got, ["B.txt", "a/b.txt", "a-c.txt", "a.txt"]);
    }

    #[test]
    fn bad_keys_get_their_specific_error() {
        assert_eq!(LogicalKey::new(""), Err(LogicalKeyError::Empty));
        assert!(matches!(
            LogicalKey::new("/a"),
            Err(LogicalKeyError::LeadingSlash(_))
        ));
        assert!(matches!(
            LogicalKey::new("a/"),
            Err(LogicalKeyError::TrailingSlash(_))
        ));
        assert!(matches!(
            LogicalKey::new("a//b"),
            Err(LogicalKeyError::EmptyComponent(_))
        ));
        assert!(matches!(
            LogicalKey::new("a/../b"),
            Err(LogicalKeyError::DotComponent { .. })
        ));
        assert!(matches!(
            LogicalKey::new("./b"),
            Err(LogicalKeyError::DotComponent { .. })
        ));
        assert!(LogicalKey::new("a/..b/c.").is_ok());
    }

    #[test]
    fn key_sets_refuse_duplicates_and_file_directory_clashes() {
        assert_eq!(
            check_key_set(&[k("a"), k("b"), k("a")]),
            Err(KeySetError::Duplicate("a".into()))
        );
        assert_eq!(
            check_key_set(&[k("a/b/c"), k("a-x"), k("a/b")]),
            Err(KeySetError::FileDirectoryClash {
                file: "a/b".into(),
                inside: "a/b/c".into()
            })
        );
        assert!(check_key_set(&[k("a/b"), k("a-b"), k("ab"), k("a.b/c")]).is_ok());
    }
}
