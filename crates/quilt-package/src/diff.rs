//! Differences between two package revisions, as quilt3's `Package.diff`: an entry is
//! unchanged when its size, hash and whole `meta` are equal (physical keys ignored).

use std::cmp::Ordering;

use crate::logical_key::LogicalKey;
use crate::manifest::{Entry, Manifest};

/// What changed from `a` to `b`. Keys are in walk order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// In `b` only.
    pub added: Vec<LogicalKey>,
    /// In `a` only.
    pub removed: Vec<LogicalKey>,
    /// In both, different.
    pub modified: Vec<Modified>,
    /// Whether the package metadata (`user_meta`) differs.
    pub user_meta_changed: bool,
}

/// An entry present in both revisions that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modified {
    /// The entry.
    pub logical_key: LogicalKey,
    /// Size or hash differ (the bytes changed).
    pub content_changed: bool,
    /// `meta` differs.
    pub meta_changed: bool,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.modified.is_empty()
            && !self.user_meta_changed
    }
}

/// Compares two manifests.
pub fn diff(a: &Manifest, b: &Manifest) -> Diff {
    let mut d = diff_entries(a.entries(), b.entries());
    d.user_meta_changed = a.header.user_meta() != b.header.user_meta();
    d
}

/// Compares two entry sequences, each in walk order (as [`Manifest::entries`] and streamed
/// manifests give them), in one merge pass; `user_meta_changed` is left false.
pub fn diff_entries<'a>(
    a: impl IntoIterator<Item = &'a Entry>,
    b: impl IntoIterator<Item = &'a Entry>,
) -> Diff {
    let mut d = Diff::default();
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.logical_key.cmp(&y.logical_key),
        };
        match order {
            Ordering::Less => {
                if let Some(x) = a.next() {
                    d.removed.push(x.logical_key.clone());
                }
            }
            Ordering::Greater => {
                if let Some(y) = b.next() {
                    d.added.push(y.logical_key.clone());
                }
            }
            Ordering::Equal => {
                if let (Some(x), Some(y)) = (a.next(), b.next()) {
                    let content_changed = x.size != y.size || x.hash != y.hash;
                    let meta_changed = x.meta != y.meta;
                    if content_changed || meta_changed {
                        d.modified.push(Modified {
                            logical_key: x.logical_key.clone(),
                            content_changed,
                            meta_changed,
                        });
                    }
                }
            }
        }
    }
    d
}
