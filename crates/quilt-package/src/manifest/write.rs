//! Writing manifests in quilt3's bytes, streamed: [`ManifestWriter`] writes the header, then
//! directory records, then entries in walk order, and gives the top hash at the end.

use std::io::Write;

use crate::json::write::{Field, Style, write_fields};
use crate::logical_key::KeySetError;
use crate::top_hash::{TopHash, TopHasher};

use super::read::MAX_LINE_BYTES;
use super::{DirMeta, Entry, Header};

/// Why a manifest could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing failed.
    #[error("writing the manifest failed: {0}")]
    Io(#[from] std::io::Error),
    /// A record would be longer than [`MAX_LINE_BYTES`] (quilt3 refuses to write it too).
    #[error("the manifest record for {what} is {size} bytes, over the {MAX_LINE_BYTES}-byte limit")]
    RecordTooLarge {
        /// `package metadata` or `entry with logical key …`.
        what: String,
        /// Its size.
        size: usize,
    },
    /// NaN or ±Infinity in metadata (quilt3 writes with `allow_nan=False`).
    #[error("the manifest record for {what} holds NaN or Infinity, which quilt3 does not write")]
    NonFiniteNumber {
        /// Where.
        what: String,
    },
    /// Entries out of walk order, duplicated or clashing.
    #[error(transparent)]
    KeySet(#[from] KeySetError),
    /// A directory record after the first entry (quilt3 writes them all before).
    #[error("directory metadata for {0:?} written after the file entries")]
    DirAfterEntries(String),
}

/// Streams a manifest out in quilt3's byte format while computing its top hash.
pub struct ManifestWriter<W> {
    out: W,
    hasher: TopHasher,
    line: String,
    entries_started: bool,
}

impl<W: Write> ManifestWriter<W> {
    /// Writes the header line.
    pub fn new(out: W, header: &Header) -> Result<Self, WriteError> {
        let mut w = ManifestWriter {
            out,
            hasher: TopHasher::new(header),
            line: String::new(),
            entries_started: false,
        };
        let fields: Vec<(&str, Field<'_>)> = header
            .fields()
            .iter()
            .map(|(k, v)| (k, Field::Value(v)))
            .collect();
        w.emit(&fields, || "package metadata".to_owned())?;
        Ok(w)
    }

    /// Writes a directory-metadata record (before any entry).
    pub fn write_dir(&mut self, dir: &DirMeta) -> Result<(), WriteError> {
        if self.entries_started {
            return Err(WriteError::DirAfterEntries(dir.logical_key.clone()));
        }
        let mut fields = vec![
            ("logical_key", Field::Str(&dir.logical_key)),
            ("meta", Field::Value(&dir.meta)),
        ];
        fields.extend(dir.extra.iter().map(|(k, v)| (k, Field::Value(v))));
        self.emit(&fields, || format!("directory {:?}", dir.logical_key))
    }

    /// Writes the next entry; entries must come in walk order.
    pub fn write_entry(&mut self, entry: &Entry) -> Result<(), WriteError> {
        self.hasher.push(entry)?;
        self.entries_started = true;
        let hash = entry.hash.to_json();
        let mut fields = vec![
            ("logical_key", Field::Str(entry.logical_key.as_str())),
            ("physical_keys", Field::Strings(&entry.physical_keys)),
            ("size", Field::U64(entry.size)),
            ("hash", Field::Object(&hash)),
            ("meta", Field::Object(&entry.meta)),
        ];
        fields.extend(entry.extra.iter().map(|(k, v)| (k, Field::Value(v))));
        self.emit(&fields, || {
            format!("entry with logical key {:?}", entry.logical_key.as_str())
        })
    }

    /// Flushes and returns the writer and the manifest's top hash.
    pub fn finish(mut self) -> Result<(W, TopHash), WriteError> {
        self.out.flush()?;
        Ok((self.out, self.hasher.finish()))
    }

    fn emit(
        &mut self,
        fields: &[(&str, Field<'_>)],
        what: impl Fn() -> String,
    ) -> Result<(), WriteError> {
        if fields.iter().any(|(_, v)| v.has_non_finite()) {
            return Err(WriteError::NonFiniteNumber { what: what() });
        }
        self.line.clear();
        write_fields(&mut self.line, fields.iter().copied(), Style::Manifest);
        if self.line.len() > MAX_LINE_BYTES {
            return Err(WriteError::RecordTooLarge {
                what: what(),
                size: self.line.len(),
            });
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        Ok(())
    }
}
