//! Differences between two package revisions, as quilt3's `Package.diff`: an entry is
//! unchanged when its size, hash and whole `meta` are equal (physical keys ignored).
//!
//! [`changes`] is the one comparison: a merge of two entry streams in walk order that holds
//! only the entry at the head of each, so two manifests of any size (read with
//! [`ManifestReader`](crate::ManifestReader)) are compared in constant memory. [`diff`] collects
//! it for two manifests in memory.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::convert::Infallible;
use std::iter::Peekable;

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

impl Modified {
    /// How `after` differs from `before` (same logical key), or `None` when they are equal as
    /// quilt3's `PackageEntry.__eq__` compares them: size, hash and the whole `meta`,
    /// ignoring physical keys. The one definition of "modified".
    pub fn between(before: &Entry, after: &Entry) -> Option<Modified> {
        let content_changed = before.size != after.size || before.hash != after.hash;
        let meta_changed = before.meta != after.meta;
        (content_changed || meta_changed).then(|| Modified {
            logical_key: before.logical_key.clone(),
            content_changed,
            meta_changed,
        })
    }
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

/// One difference found by [`changes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// In `b` only.
    Added(LogicalKey),
    /// In `a` only.
    Removed(LogicalKey),
    /// In both, different.
    Modified(Modified),
}

/// Compares two manifests.
pub fn diff(a: &Manifest, b: &Manifest) -> Diff {
    let mut d = Diff {
        user_meta_changed: a.header.user_meta() != b.header.user_meta(),
        ..Diff::default()
    };
    let ok = Ok::<&Entry, Infallible>;
    for change in changes(a.entries().map(ok), b.entries().map(ok)) {
        let Ok(change) = change;
        match change {
            Change::Added(k) => d.added.push(k),
            Change::Removed(k) => d.removed.push(k),
            Change::Modified(m) => d.modified.push(m),
        }
    }
    d
}

/// The differences between two entry streams, each in walk order (as [`Manifest::entries`]
/// and [`ManifestReader::entries`](crate::ManifestReader::entries) give them), in walk order,
/// in one merge pass that holds one entry of each stream at a time. Package metadata is not
/// compared (it is in the header, not the entries).
///
/// A read error ends the comparison: it is yielded as soon as it is at the head of either
/// stream (`a`'s first), and nothing follows it.
pub fn changes<A, B, T, E>(a: A, b: B) -> Changes<A::IntoIter, B::IntoIter>
where
    A: IntoIterator<Item = Result<T, E>>,
    B: IntoIterator<Item = Result<T, E>>,
    T: Borrow<Entry>,
{
    Changes {
        a: a.into_iter().peekable(),
        b: b.into_iter().peekable(),
        failed: false,
    }
}

/// The iterator of [`changes`].
pub struct Changes<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
    failed: bool,
}

impl<A, B, T, E> Iterator for Changes<A, B>
where
    A: Iterator<Item = Result<T, E>>,
    B: Iterator<Item = Result<T, E>>,
    T: Borrow<Entry>,
{
    type Item = Result<Change, E>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let order = match (self.a.peek(), self.b.peek()) {
                (Some(Err(_)), _) => return self.fail(Side::A),
                (_, Some(Err(_))) => return self.fail(Side::B),
                (None, None) => return None,
                (Some(Ok(_)), None) => Ordering::Less,
                (None, Some(Ok(_))) => Ordering::Greater,
                (Some(Ok(x)), Some(Ok(y))) => x.borrow().logical_key.cmp(&y.borrow().logical_key),
            };
            match order {
                Ordering::Less => {
                    let x = self.a.next()?.ok()?;
                    return Some(Ok(Change::Removed(x.borrow().logical_key.clone())));
                }
                Ordering::Greater => {
                    let y = self.b.next()?.ok()?;
                    return Some(Ok(Change::Added(y.borrow().logical_key.clone())));
                }
                Ordering::Equal => {
                    let x = self.a.next()?.ok()?;
                    let y = self.b.next()?.ok()?;
                    if let Some(m) = Modified::between(x.borrow(), y.borrow()) {
                        return Some(Ok(Change::Modified(m)));
                    }
                    // Unchanged: look at the next pair.
                }
            }
        }
    }
}

enum Side {
    A,
    B,
}

impl<A, B, T, E> Changes<A, B>
where
    A: Iterator<Item = Result<T, E>>,
    B: Iterator<Item = Result<T, E>>,
{
    /// Yields the error at the head of `side` and ends the iteration.
    fn fail(&mut self, side: Side) -> Option<Result<Change, E>> {
        self.failed = true;
        let head = match side {
            Side::A => self.a.next(),
            Side::B => self.b.next(),
        };
        head.and_then(Result::err).map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonValue;
    use crate::object_hash::ObjectHash;
    use crate::physical_key::PhysicalKey;
    use crate::{JsonObject, LogicalKey};

    fn entry(key: &str, bytes: &[u8], size: u64, meta: Option<&str>) -> Entry {
        let pk = PhysicalKey::new("bucket", format!("data/{key}"), None).expect("physical key");
        let mut m = JsonObject::new();
        if let Some(v) = meta {
            m.insert("user_meta", JsonValue::from(v));
        }
        Entry::new(
            LogicalKey::new(key).expect("key"),
            &pk,
            size,
            ObjectHash::sha2_256_chunked(bytes),
            m,
        )
    }

    fn keys(changes: &[Change]) -> Vec<(char, &str, bool, bool)> {
        changes
            .iter()
            .map(|c| match c {
                Change::Added(k) => ('+', k.as_str(), false, false),
                Change::Removed(k) => ('-', k.as_str(), false, false),
                Change::Modified(m) => (
                    '~',
                    m.logical_key.as_str(),
                    m.content_changed,
                    m.meta_changed,
                ),
            })
            .collect()
    }

    fn all(a: &[Entry], b: &[Entry]) -> Vec<Change> {
        changes(a.iter().map(Ok::<_, ()>), b.iter().map(Ok))
            .collect::<Result<_, _>>()
            .expect("no read errors")
    }

    #[test]
    fn streams_report_added_removed_and_each_kind_of_modified_in_walk_order() {
        let a = vec![
            entry("a/hash-only.bin", b"one", 3, None),
            entry("a/same.txt", b"same", 4, Some("m")),
            entry("b/gone.txt", b"x", 1, None),
            entry("c/meta-only.txt", b"m", 1, Some("before")),
            entry("d/size-only.bin", b"s", 1, None),
            entry("e/moved.txt", b"p", 1, None),
        ];
        let mut moved = entry("e/moved.txt", b"p", 1, None);
        moved.physical_keys = vec!["s3://elsewhere/e/moved.txt".into()];
        let b = vec![
            entry("a/hash-only.bin", b"two", 3, None),
            entry("a/new.txt", b"n", 1, None),
            entry("a/same.txt", b"same", 4, Some("m")),
            entry("c/meta-only.txt", b"m", 1, Some("after")),
            entry("d/size-only.bin", b"s", 2, None),
            moved,
            entry("z.txt", b"z", 1, None),
        ];
        assert_eq!(
            keys(&all(&a, &b)),
            [
                ('~', "a/hash-only.bin", true, false),
                ('+', "a/new.txt", false, false),
                ('-', "b/gone.txt", false, false),
                ('~', "c/meta-only.txt", false, true),
                ('~', "d/size-only.bin", true, false),
                ('+', "z.txt", false, false),
            ],
            "a new physical key alone is not a change"
        );
        // Swapping the sides swaps added and removed, and nothing else.
        assert_eq!(
            keys(&all(&b, &a)),
            [
                ('~', "a/hash-only.bin", true, false),
                ('-', "a/new.txt", false, false),
                ('+', "b/gone.txt", false, false),
                ('~', "c/meta-only.txt", false, true),
                ('~', "d/size-only.bin", true, false),
                ('-', "z.txt", false, false),
            ]
        );
        assert!(all(&a, &a).is_empty());
        assert_eq!(
            keys(&all(&[], &a[..1])),
            [('+', "a/hash-only.bin", false, false)]
        );
    }

    #[test]
    fn streams_are_merged_in_walk_order_not_byte_order() {
        // In walk order "a/b.txt" < "a-b" ('/' sorts first); in byte order '-' < '/'. A merge
        // by byte order would see "a-b" as added and then removed.
        let a = vec![entry("a/b.txt", b"2", 1, None), entry("a-b", b"1", 1, None)];
        let b = vec![entry("a-b", b"1", 1, None)];
        assert_eq!(keys(&all(&a, &b)), [('-', "a/b.txt", false, false)]);
    }

    #[test]
    fn a_read_error_ends_the_comparison_first_side_first() {
        let e = entry("k", b"k", 1, None);
        let a = vec![Ok(e.clone()), Err("a broke")];
        let b = vec![Ok(e.clone()), Err("b broke")];
        let got: Vec<_> = changes(a, b).collect();
        assert_eq!(got, [Err("a broke")]);
        let b = vec![Err("b broke"), Ok(e.clone())];
        let got: Vec<_> = changes(vec![Ok(e)], b).collect();
        assert_eq!(got, [Err("b broke")], "nothing follows an error");
    }
}
