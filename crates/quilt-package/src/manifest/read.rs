//! Reading manifests line by line, whole ([`Manifest::read`](super::Manifest::read)) or
//! streamed ([`ManifestReader`]), with a specific error for each way a manifest can be bad.

use std::io::{BufRead, Read as _};

use crate::json::parse::{JsonError, parse_value};
use crate::json::{JsonObject, JsonValue};
use crate::logical_key::{KeySetError, LogicalKey, LogicalKeyError, WalkOrderCheck};
use crate::object_hash::ObjectHash;

use super::{DirMeta, Entry, Header, Record};

/// The longest line (without its newline) accepted, and written: quilt3's
/// `MANIFEST_MAX_RECORD_SIZE` default.
pub const MAX_LINE_BYTES: usize = 1_000_000;

/// Why a manifest could not be read. `line` is 1-based.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading failed.
    #[error("reading the manifest failed: {0}")]
    Io(#[from] std::io::Error),
    /// The input is empty.
    #[error("the manifest is empty (no header line)")]
    MissingHeader,
    /// A line is longer than [`MAX_LINE_BYTES`].
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong {
        /// The line.
        line: u64,
    },
    /// A line is not UTF-8.
    #[error("line {line} is not valid UTF-8")]
    InvalidUtf8 {
        /// The line.
        line: u64,
    },
    /// A line is not JSON.
    #[error("line {line}: {source}")]
    InvalidJson {
        /// The line.
        line: u64,
        /// Where and why.
        source: JsonError,
    },
    /// A JSON object on a line has the same key twice.
    #[error("line {line}: duplicate JSON object key {key:?}")]
    DuplicateObjectKey {
        /// The line.
        line: u64,
        /// The key.
        key: String,
    },
    /// A line is JSON but not an object.
    #[error("line {line} is not a JSON object")]
    NotAnObject {
        /// The line.
        line: u64,
    },
    /// A required field is missing (`meta`, `logical_key`, `size`, `hash`, …).
    #[error("line {line}: required field {field:?} is missing")]
    MissingField {
        /// The line.
        line: u64,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong type or value.
    #[error("line {line}: field {field:?} is invalid: {reason}")]
    InvalidField {
        /// The line.
        line: u64,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// An entry's logical key is invalid.
    #[error("line {line}: {source}")]
    InvalidLogicalKey {
        /// The line.
        line: u64,
        /// Why.
        source: LogicalKeyError,
    },
    /// A logical key repeats, clashes with a directory, or (streaming) is out of order.
    #[error("line {line}: {source}")]
    KeySet {
        /// The line.
        line: u64,
        /// Why.
        source: KeySetError,
    },
}

impl ManifestError {
    fn json(line: u64, e: JsonError) -> Self {
        match e {
            JsonError::DuplicateKey { key } => ManifestError::DuplicateObjectKey { line, key },
            source => ManifestError::InvalidJson { line, source },
        }
    }

    /// Whether this is a duplicate logical key.
    pub fn is_duplicate_logical_key(&self) -> bool {
        matches!(
            self,
            ManifestError::KeySet {
                source: KeySetError::Duplicate(_),
                ..
            }
        )
    }
}

/// Reads lines with the length limit and turns them into records (no ordering checks).
pub(crate) struct LineSource<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> LineSource<R> {
    pub(crate) fn new(reader: R) -> Self {
        LineSource {
            reader,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next line's JSON object, or `None` at the end.
    fn next_object(&mut self) -> Result<Option<JsonObject>, ManifestError> {
        self.buf.clear();
        // Read at most the limit plus a newline plus one byte, so a huge line is refused
        // without being held.
        let cap = MAX_LINE_BYTES as u64 + 2;
        let n = self
            .reader
            .by_ref()
            .take(cap)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let line = self.line;
        let content = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        if content.len() > MAX_LINE_BYTES {
            return Err(ManifestError::LineTooLong { line });
        }
        let text = std::str::from_utf8(content).map_err(|_| ManifestError::InvalidUtf8 { line })?;
        match parse_value(text).map_err(|e| ManifestError::json(line, e))? {
            JsonValue::Object(o) => Ok(Some(o)),
            _ => Err(ManifestError::NotAnObject { line }),
        }
    }

    pub(crate) fn header(&mut self) -> Result<Header, ManifestError> {
        let fields = self.next_object()?.ok_or(ManifestError::MissingHeader)?;
        Ok(Header::from_fields(fields))
    }

    /// The next record with its line number.
    pub(crate) fn next_record(&mut self) -> Result<Option<(u64, Record)>, ManifestError> {
        let Some(mut o) = self.next_object()? else {
            return Ok(None);
        };
        let line = self.line;
        let missing = |field| ManifestError::MissingField { line, field };
        let invalid = |field, reason| ManifestError::InvalidField {
            line,
            field,
            reason,
        };
        let logical_key = match o.remove("logical_key") {
            Some(JsonValue::String(s)) => s,
            Some(_) => return Err(invalid("logical_key", "must be a string")),
            None => return Err(missing("logical_key")),
        };
        // quilt3: `if not obj.get('physical_keys')` → directory metadata.
        let is_dir = match o.get("physical_keys") {
            None | Some(JsonValue::Null) => true,
            Some(JsonValue::Array(a)) => a.is_empty(),
            Some(_) => return Err(invalid("physical_keys", "must be an array of strings")),
        };
        if is_dir {
            let meta = o.remove("meta").ok_or_else(|| missing("meta"))?;
            return Ok(Some((
                line,
                Record::Dir(DirMeta {
                    logical_key,
                    meta,
                    extra: o,
                }),
            )));
        }
        let logical_key = LogicalKey::new(logical_key)
            .map_err(|source| ManifestError::InvalidLogicalKey { line, source })?;
        let physical_keys = match o.remove("physical_keys") {
            Some(JsonValue::Array(a)) => a
                .into_iter()
                .map(|v| match v {
                    JsonValue::String(s) => Ok(s),
                    _ => Err(invalid("physical_keys", "must be an array of strings")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(invalid("physical_keys", "must be an array of strings")),
        };
        let size = match o.remove("size") {
            Some(JsonValue::Number(n)) => n
                .as_u64()
                .ok_or_else(|| invalid("size", "must be a non-negative integer"))?,
            Some(_) => return Err(invalid("size", "must be a non-negative integer")),
            None => return Err(missing("size")),
        };
        let hash = match o.remove("hash") {
            Some(JsonValue::Object(h)) => {
                ObjectHash::from_json(h).map_err(|reason| invalid("hash", reason))?
            }
            Some(_) => return Err(invalid("hash", "must be an object")),
            None => return Err(missing("hash")),
        };
        let meta = match o.remove("meta") {
            Some(JsonValue::Object(m)) => m,
            // quilt3: `self._meta = meta or {}`.
            Some(JsonValue::Null) => JsonObject::new(),
            Some(_) => return Err(invalid("meta", "must be an object")),
            None => return Err(missing("meta")),
        };
        Ok(Some((
            line,
            Record::Entry(Entry {
                logical_key,
                physical_keys,
                size,
                hash,
                meta,
                extra: o,
            }),
        )))
    }
}

/// Streams a manifest's records without holding them: the header is read by
/// [`ManifestReader::new`], then the reader yields [`Record`]s.
///
/// Duplicate and clashing keys are found in constant memory by requiring entries in walk
/// order, which is how quilt3 writes every manifest; an entry out of order is
/// [`KeySetError::NotInWalkOrder`] (read such a manifest whole with
/// [`Manifest::read`](super::Manifest::read)). Feed the entries to a
/// [`TopHasher`](crate::TopHasher) to hash while streaming.
pub struct ManifestReader<R> {
    source: LineSource<R>,
    header: Header,
    order: WalkOrderCheck,
    failed: bool,
}

impl<R: BufRead> ManifestReader<R> {
    /// Reads the header line.
    pub fn new(reader: R) -> Result<Self, ManifestError> {
        let mut source = LineSource::new(reader);
        let header = source.header()?;
        Ok(ManifestReader {
            source,
            header,
            order: WalkOrderCheck::default(),
            failed: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Only the file entries (directory records skipped).
    pub fn entries(self) -> impl Iterator<Item = Result<Entry, ManifestError>> {
        self.filter_map(|r| match r {
            Ok(Record::Entry(e)) => Some(Ok(e)),
            Ok(Record::Dir(_)) => None,
            Err(e) => Some(Err(e)),
        })
    }
}

impl<R: BufRead> Iterator for ManifestReader<R> {
    type Item = Result<Record, ManifestError>;

    /// The next record; after an error, `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.source.next_record().and_then(|r| match r {
            Some((line, Record::Entry(e))) => match self.order.push(&e.logical_key) {
                Ok(()) => Ok(Some(Record::Entry(e))),
                Err(source) => Err(ManifestError::KeySet { line, source }),
            },
            Some((_, dir)) => Ok(Some(dir)),
            None => Ok(None),
        });
        match result {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
