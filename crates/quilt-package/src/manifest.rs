//! The manifest model: a header, directory-metadata records and file entries.
//!
//! A manifest is JSONL. Line 1 is the [`Header`] (`version`, `user_meta`, `workflow`,
//! `message`, and whatever else a writer put there, kept in order). Then optional
//! directory-metadata records ([`DirMeta`], no physical keys, not hashed), then one
//! [`Entry`] per file, in walk order. Reading is in [`read`](self::read) (whole or streamed),
//! writing in [`write`](self::write).

pub(crate) mod read;
pub(crate) mod write;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::json::{JsonObject, JsonValue};
use crate::logical_key::{KeySetError, LogicalKey};
use crate::object_hash::ObjectHash;
use crate::physical_key::{PhysicalKey, PhysicalKeyError};
use crate::top_hash::{TopHash, TopHasher};

pub use read::{MAX_LINE_BYTES, ManifestError, ManifestReader};
pub use write::{ManifestWriter, WriteError};

/// The header line. Its fields are an ordered JSON object; the accessors cover the ones
/// quilt3 defines. A legacy `top_hash` field is dropped when reading, as quilt3 does.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    fields: JsonObject,
}

impl Default for Header {
    fn default() -> Self {
        Self::new()
    }
}

impl Header {
    /// `{"version": "v0"}`, what a new quilt3 `Package()` starts with. quilt3 then adds
    /// `user_meta` (`set_meta`) and `message` (push), and `workflow` when the registry has a
    /// workflow config; the field order changes the bytes but not the top hash.
    pub fn new() -> Self {
        let mut fields = JsonObject::new();
        fields.insert("version", "v0");
        Header { fields }
    }

    /// A header from its JSON object (a `top_hash` field is removed).
    pub fn from_fields(mut fields: JsonObject) -> Self {
        fields.remove("top_hash");
        Header { fields }
    }

    /// All fields, in order.
    pub fn fields(&self) -> &JsonObject {
        &self.fields
    }

    /// All fields, mutably (do not add `top_hash`).
    pub fn fields_mut(&mut self) -> &mut JsonObject {
        &mut self.fields
    }

    /// `version` (quilt3 writes `"v0"`).
    pub fn version(&self) -> Option<&str> {
        self.fields.get("version").and_then(JsonValue::as_str)
    }

    /// The commit message: `None` when absent or `null`.
    pub fn message(&self) -> Option<&str> {
        self.fields.get("message").and_then(JsonValue::as_str)
    }

    /// Sets `message` (`null` for `None`). quilt3's push always sets it; note that an absent
    /// message and a `null` one give different top hashes.
    pub fn set_message(&mut self, message: Option<&str>) {
        self.fields
            .insert("message", message.map_or(JsonValue::Null, JsonValue::from));
    }

    /// `user_meta`, the package metadata.
    pub fn user_meta(&self) -> Option<&JsonValue> {
        self.fields.get("user_meta")
    }

    /// Sets or (with `None`) removes `user_meta`.
    pub fn set_user_meta(&mut self, meta: Option<JsonValue>) {
        match meta {
            Some(m) => {
                self.fields.insert("user_meta", m);
            }
            None => {
                self.fields.remove("user_meta");
            }
        }
    }

    /// `workflow`, when the registry has a workflow config.
    pub fn workflow(&self) -> Option<&JsonValue> {
        self.fields.get("workflow")
    }

    /// Sets or removes `workflow`.
    pub fn set_workflow(&mut self, workflow: Option<JsonValue>) {
        match workflow {
            Some(w) => {
                self.fields.insert("workflow", w);
            }
            None => {
                self.fields.remove("workflow");
            }
        }
    }
}

/// A file entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Where the file sits in the package.
    pub logical_key: LogicalKey,
    /// The physical keys as stored (quilt3 writes exactly one, and reads the first);
    /// [`Entry::physical_key`] parses the first.
    pub physical_keys: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// The object hash.
    pub hash: ObjectHash,
    /// `meta`: the entry's metadata object; user metadata lives at `meta.user_meta`.
    pub meta: JsonObject,
    /// Fields quilt3 does not define, kept and written after `meta` (quilt3 itself would
    /// drop them; they are not hashed).
    pub extra: JsonObject,
}

impl Entry {
    /// An entry with one physical key and the given metadata object.
    pub fn new(
        logical_key: LogicalKey,
        physical_key: &PhysicalKey,
        size: u64,
        hash: ObjectHash,
        meta: JsonObject,
    ) -> Self {
        Entry {
            logical_key,
            physical_keys: vec![physical_key.to_string()],
            size,
            hash,
            meta,
            extra: JsonObject::new(),
        }
    }

    /// The first physical key, parsed.
    pub fn physical_key(&self) -> Result<PhysicalKey, PhysicalKeyError> {
        let first = self.physical_keys.first().map_or("", String::as_str);
        PhysicalKey::parse(first)
    }

    /// `meta.user_meta`.
    pub fn user_meta(&self) -> Option<&JsonValue> {
        self.meta.get("user_meta")
    }

    /// Sets or removes `meta.user_meta`.
    pub fn set_user_meta(&mut self, meta: Option<JsonValue>) {
        match meta {
            Some(m) => {
                self.meta.insert("user_meta", m);
            }
            None => {
                self.meta.remove("user_meta");
            }
        }
    }
}

/// A directory-metadata record (`{"logical_key": "a/", "meta": {…}}`): kept and written
/// back, never hashed. quilt3 treats any record whose `physical_keys` is absent, `null` or
/// empty as one.
#[derive(Clone, Debug, PartialEq)]
pub struct DirMeta {
    /// The directory key as stored (quilt3 writes it with a trailing `/`).
    pub logical_key: String,
    /// Its metadata.
    pub meta: JsonValue,
    /// Other fields, written after `meta`.
    pub extra: JsonObject,
}

/// One record after the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Directory metadata.
    Dir(DirMeta),
    /// A file.
    Entry(Entry),
}

/// A whole manifest in memory, entries kept in walk order and unique.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Manifest {
    /// The header.
    pub header: Header,
    /// Directory-metadata records, in stored order (written before the entries).
    pub dirs: Vec<DirMeta>,
    entries: BTreeMap<LogicalKey, Entry>,
}

impl Manifest {
    /// An empty manifest with this header.
    pub fn new(header: Header) -> Self {
        Manifest {
            header,
            dirs: Vec::new(),
            entries: BTreeMap::new(),
        }
    }

    /// Reads a whole manifest. Entries may come in any order; duplicates and file/directory
    /// clashes are errors. For manifests too big to hold, use [`ManifestReader`].
    pub fn read(reader: impl BufRead) -> Result<Self, ManifestError> {
        let mut lines = read::LineSource::new(reader);
        let header = lines.header()?;
        let mut m = Manifest::new(header);
        while let Some((line, record)) = lines.next_record()? {
            match record {
                Record::Dir(d) => m.dirs.push(d),
                Record::Entry(e) => {
                    m.insert(e)
                        .map_err(|source| ManifestError::KeySet { line, source })?;
                }
            }
        }
        Ok(m)
    }

    /// Writes the manifest as quilt3 does: header, directory records, entries in walk order.
    pub fn write(&self, writer: impl Write) -> Result<(), WriteError> {
        let mut w = ManifestWriter::new(writer, &self.header)?;
        for d in &self.dirs {
            w.write_dir(d)?;
        }
        for e in self.entries.values() {
            w.write_entry(e)?;
        }
        w.finish().map(|_| ())
    }

    /// The manifest bytes (see [`Manifest::write`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, WriteError> {
        let mut out = Vec::new();
        self.write(&mut out)?;
        Ok(out)
    }

    /// The top hash.
    pub fn top_hash(&self) -> TopHash {
        let mut h = TopHasher::new(&self.header);
        for e in self.entries.values() {
            // Cannot fail: the map holds unique, clash-free keys in walk order.
            let _ = h.push(e);
        }
        h.finish()
    }

    /// Entries in walk order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> + DoubleEndedIterator {
        self.entries.values()
    }

    /// Entries whose logical key starts with `prefix` (plain string prefix), in walk order.
    pub fn entries_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .values()
            .filter(move |e| e.logical_key.as_str().starts_with(prefix))
    }

    /// The entry at `logical_key`.
    pub fn get(&self, logical_key: &str) -> Option<&Entry> {
        let key = LogicalKey::new(logical_key).ok()?;
        self.entries.get(&key)
    }

    /// Number of file entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no file entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry, refusing a duplicate key and a file/directory clash.
    pub fn insert(&mut self, entry: Entry) -> Result<(), KeySetError> {
        self.check_clash(&entry.logical_key)?;
        if self.entries.contains_key(&entry.logical_key) {
            return Err(KeySetError::Duplicate(entry.logical_key.into_string()));
        }
        self.entries.insert(entry.logical_key.clone(), entry);
        Ok(())
    }

    /// Adds or replaces an entry (refusing a file/directory clash); returns the old one.
    pub fn upsert(&mut self, entry: Entry) -> Result<Option<Entry>, KeySetError> {
        self.check_clash(&entry.logical_key)?;
        Ok(self.entries.insert(entry.logical_key.clone(), entry))
    }

    /// Removes the entry at `logical_key`.
    pub fn remove(&mut self, logical_key: &str) -> Option<Entry> {
        let key = LogicalKey::new(logical_key).ok()?;
        self.entries.remove(&key)
    }

    fn check_clash(&self, key: &LogicalKey) -> Result<(), KeySetError> {
        // An ancestor directory of `key` must not be a file.
        let s = key.as_str();
        for (i, _) in s.match_indices('/') {
            if let Ok(parent) = LogicalKey::new(&s[..i])
                && self.entries.contains_key(&parent)
            {
                return Err(KeySetError::FileDirectoryClash {
                    file: s[..i].to_owned(),
                    inside: s.to_owned(),
                });
            }
        }
        // `key` must not be a directory: in walk order its contents come right after it.
        use std::ops::Bound::{Excluded, Unbounded};
        if let Some((next, _)) = self.entries.range((Excluded(key), Unbounded)).next()
            && key.is_dir_of(next)
        {
            return Err(KeySetError::FileDirectoryClash {
                file: s.to_owned(),
                inside: next.as_str().to_owned(),
            });
        }
        Ok(())
    }
}
