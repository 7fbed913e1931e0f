//! Parquet previews from the footer and the first row group, by ranged GETs only.
//!
//! The footer (`<metadata><u32 length>PAR1` at the end of the file) is read with one ranged
//! GET of the last 64 KiB (a second when the metadata is larger), decoded with
//! `ParquetMetaDataReader::decode_metadata`. The rows come from the first row group: its
//! column chunks are fetched in one GET when they fit the cap, or, for a row group too large
//! for that, a prefix of each column chunk (the first pages hold the first rows). The
//! `parquet` crate's record API then reads the rows through [`Sparse`], a `ChunkReader`
//! that serves only the ranges fetched and fails — instead of reading more — outside them.
//! No `arrow`: the record API is all a preview needs, and arrow would double the build.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf as _, Bytes};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::ReaderProperties;
use parquet::file::reader::{ChunkReader, Length, RowGroupReader as _};
use parquet::file::serialized_reader::SerializedRowGroupReader;
use serde_json::Value;

use super::{Body, Column, ParquetInfo, Ranged, RowGroupSize, bound_rows};
use crate::tool_error::{ErrorCode, ToolError};

/// The first read of the footer.
const FOOTER_GUESS: u64 = 64 * 1024;
/// Largest footer metadata read.
const MAX_METADATA: u64 = 8 * 1024 * 1024;
/// Largest first row group fetched whole.
const MAX_ROW_GROUP: u64 = 8 * 1024 * 1024;
/// Per-column prefix of a larger row group, and the widest such row group read.
const MAX_COLUMN_PREFIX: u64 = 2 * 1024 * 1024;
const MIN_COLUMN_PREFIX: u64 = 64 * 1024;
const MAX_PREFIX_COLUMNS: usize = 16;
/// Row groups listed by size.
const LISTED_ROW_GROUPS: usize = 20;

fn corrupt(what: impl std::fmt::Display) -> ToolError {
    ToolError::invalid_argument(format!("not a readable Parquet file: {what}"))
        .with_hint("bucket_object_fetch returns the raw bytes")
}

pub(super) async fn preview(reader: &mut Ranged<'_>, rows: usize) -> Result<Body, ToolError> {
    let size = reader.size();
    if size < 12 {
        return Err(corrupt(format!(
            "{size} bytes is too small for a Parquet file"
        )));
    }
    let tail = reader
        .get(size - size.min(FOOTER_GUESS), FOOTER_GUESS)
        .await?;
    let n = tail.len();
    match &tail[n - 4..] {
        b"PAR1" => {}
        b"PARE" => {
            return Err(ToolError::invalid_argument(
                "the Parquet file has an encrypted footer, which previews do not read",
            ));
        }
        _ => return Err(corrupt("it does not end with the PAR1 magic")),
    }
    let meta_len = u64::from(u32::from_le_bytes([
        tail[n - 8],
        tail[n - 7],
        tail[n - 6],
        tail[n - 5],
    ]));
    if meta_len + 12 > size {
        return Err(corrupt(format!(
            "the footer says its metadata is {meta_len} bytes, more than the {size}-byte file holds"
        )));
    }
    if meta_len > MAX_METADATA {
        return Err(ToolError::new(
            ErrorCode::TooLarge,
            format!(
                "the Parquet metadata is {meta_len} bytes, over the preview's {MAX_METADATA}-byte cap"
            ),
        ));
    }
    let meta_start = size - 8 - meta_len;
    let footer = if meta_len + 8 <= n as u64 {
        tail.slice(n - 8 - meta_len as usize..n - 8)
    } else {
        let missing = meta_len + 8 - n as u64;
        let head = reader.get(meta_start, missing).await?;
        let mut all = Vec::with_capacity((meta_len + 8) as usize);
        all.extend_from_slice(&head);
        all.extend_from_slice(&tail);
        Bytes::from(all).slice(..meta_len as usize)
    };
    let metadata = blocking(move || ParquetMetaDataReader::decode_metadata(&footer))
        .await?
        .map_err(|e| corrupt(format!("its footer metadata is corrupt ({e})")))?;
    let metadata = Arc::new(metadata);

    let mut body = describe(&metadata);
    let groups = metadata.num_row_groups();
    if rows == 0 || groups == 0 || metadata.row_group(0).num_rows() == 0 {
        body.truncated = metadata.file_metadata().num_rows() > 0;
        return Ok(body);
    }
    let Some((segments, partial)) = fetch_first_group(
        reader,
        &metadata,
        meta_start,
        (size - n as u64, &tail),
        &mut body,
    )
    .await?
    else {
        body.truncated = true;
        return Ok(body);
    };
    let sparse = Sparse {
        segments,
        len: size,
        missed: AtomicBool::new(false),
        partial,
    };
    let meta = metadata.clone();
    let (values, note) = blocking(move || read_rows(sparse, &meta, rows)).await?;
    body.notes.extend(note);
    let read = values.len() as u64;
    let (values, cut) = bound_rows(values, &mut body.notes);
    body.truncated = cut || read < metadata.file_metadata().num_rows().max(0) as u64;
    body.rows = values;
    Ok(body)
}

/// Runs CPU-bound decoding off the async threads; a panic inside the `parquet` crate on a
/// corrupt file is a corrupt-file error, not a crashed call.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| corrupt(format!("decoding it failed ({e})")))
}

/// Schema, row groups and writer, from the metadata alone.
fn describe(metadata: &ParquetMetaData) -> Body {
    let file = metadata.file_metadata();
    let columns = file
        .schema_descr()
        .columns()
        .iter()
        .map(|c| {
            let physical = format!("{:?}", c.physical_type());
            let kind = match c.logical_type_ref() {
                Some(l) => format!("{physical} ({})", logical_name(l)),
                None => physical,
            };
            Column {
                name: c.path().string(),
                kind,
                nullable: c.max_def_level() > 0,
            }
        })
        .collect();
    let mut codecs: Vec<String> = metadata
        .row_groups()
        .iter()
        .take(LISTED_ROW_GROUPS)
        .flat_map(|g| g.columns().iter().map(|c| c.compression().to_string()))
        .collect();
    codecs.sort();
    codecs.dedup();
    let mut notes = Vec::new();
    if metadata.num_row_groups() > LISTED_ROW_GROUPS {
        notes.push(format!(
            "row_group_sizes lists the first {LISTED_ROW_GROUPS} of {} row groups",
            metadata.num_row_groups()
        ));
    }
    Body {
        format: "parquet",
        columns,
        total_rows: Some(file.num_rows().max(0) as u64),
        parquet: Some(ParquetInfo {
            row_groups: metadata.num_row_groups(),
            row_group_sizes: metadata
                .row_groups()
                .iter()
                .take(LISTED_ROW_GROUPS)
                .map(|g| RowGroupSize {
                    rows: g.num_rows(),
                    bytes: g.compressed_size(),
                })
                .collect(),
            created_by: file.created_by().map(str::to_owned),
            metadata_keys: file
                .key_value_metadata()
                .map(|kv| kv.iter().map(|k| k.key.clone()).collect())
                .unwrap_or_default(),
            codecs,
        }),
        notes,
        ..Body::default()
    }
}

/// The logical type's name without its parameters' noise (`Timestamp(MICROS, utc)`).
fn logical_name(l: &parquet::basic::LogicalType) -> String {
    use parquet::basic::LogicalType as L;
    match l {
        L::Timestamp(t) => format!(
            "Timestamp({}{})",
            variant(&t.unit),
            if t.is_adjusted_to_u_t_c { ", utc" } else { "" }
        ),
        L::Time(t) => format!("Time({})", variant(&t.unit)),
        L::Decimal(d) => format!("Decimal({}, {})", d.precision, d.scale),
        L::Integer(i) => format!("{}Int{}", if i.is_signed { "" } else { "U" }, i.bit_width),
        other => variant(other),
    }
}

/// An enum value's variant name, from its `Debug` form (`MICROS(MicroSeconds)` → `MICROS`).
fn variant(v: &impl std::fmt::Debug) -> String {
    format!("{v:?}")
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The byte ranges of the first row group's column chunks, checked against the file.
fn chunk_ranges(metadata: &ParquetMetaData, data_end: u64) -> Result<Vec<(u64, u64)>, ToolError> {
    metadata
        .row_group(0)
        .columns()
        .iter()
        .map(|c| {
            let start = c
                .dictionary_page_offset()
                .filter(|d| *d > 0)
                .unwrap_or_else(|| c.data_page_offset());
            let len = c.compressed_size();
            if start < 4 || len < 0 || start as u64 + len as u64 > data_end {
                return Err(corrupt(format!(
                    "column chunk {} lies outside the file's data ({start}+{len})",
                    c.column_path()
                )));
            }
            Ok((start as u64, len as u64))
        })
        .collect()
}

/// Fetches what the first rows need: the whole first row group when it fits the cap, else a
/// prefix of each column chunk (then `true`); `None` (with a note) when neither fits.
async fn fetch_first_group(
    reader: &mut Ranged<'_>,
    metadata: &ParquetMetaData,
    data_end: u64,
    tail: (u64, &Bytes),
    body: &mut Body,
) -> Result<Option<(Vec<(u64, Bytes)>, bool)>, ToolError> {
    let ranges = chunk_ranges(metadata, data_end)?;
    let (Some(start), Some(end)) = (
        ranges.iter().map(|r| r.0).min(),
        ranges.iter().map(|r| r.0 + r.1).max(),
    ) else {
        return Ok(None);
    };
    let span = end - start;
    // A small file: the footer's read already holds the row group.
    if start >= tail.0 {
        return Ok(Some((vec![(tail.0, tail.1.clone())], false)));
    }
    if span <= MAX_ROW_GROUP.min(reader.budget()) {
        return Ok(Some((vec![(start, reader.get(start, span).await?)], false)));
    }
    let prefix = (reader.budget() / ranges.len().max(1) as u64).min(MAX_COLUMN_PREFIX);
    if ranges.len() > MAX_PREFIX_COLUMNS || prefix < MIN_COLUMN_PREFIX {
        body.notes.push(format!(
            "rows not read: the first row group holds {span} bytes in {} column chunks, over the preview's caps ({MAX_ROW_GROUP} bytes whole, or a prefix of at most {MAX_PREFIX_COLUMNS} columns)",
            ranges.len()
        ));
        return Ok(None);
    }
    body.notes.push(format!(
        "the first row group is {span} bytes: read the first {prefix} bytes of each column chunk"
    ));
    let mut segments = Vec::with_capacity(ranges.len());
    for (start, len) in ranges {
        segments.push((start, reader.get(start, len.min(prefix)).await?));
    }
    Ok(Some((segments, true)))
}

/// Up to `rows` rows of the first row group as JSON objects, and a note when it stopped early.
fn read_rows(
    sparse: Sparse,
    metadata: &ParquetMetaData,
    rows: usize,
) -> (Vec<Value>, Option<String>) {
    let chunk = Arc::new(sparse);
    let group = match SerializedRowGroupReader::new(
        chunk.clone(),
        metadata.row_group(0),
        metadata.page_index_for_row_group(0),
        Arc::new(ReaderProperties::builder().build()),
    ) {
        Ok(g) => g,
        Err(e) => return (Vec::new(), Some(format!("rows not read: {e}"))),
    };
    let iter = match group.get_row_iter(None) {
        Ok(i) => i,
        Err(e) => return (Vec::new(), Some(format!("rows not read: {e}"))),
    };
    let mut out = Vec::with_capacity(rows);
    for row in iter.take(rows) {
        match row {
            Ok(row) => out.push(row.to_json_value()),
            Err(e) => {
                let why = if chunk.missed.load(Ordering::Relaxed) || chunk.partial {
                    "the next page lies past the bytes fetched".to_owned()
                } else {
                    format!("the data is corrupt or unsupported ({e})")
                };
                let note = format!("stopped after {} rows: {why}", out.len());
                return (out, Some(note));
            }
        }
    }
    (out, None)
}

/// A `ChunkReader` over the ranges fetched: reads inside them are served from memory, reads
/// outside them fail (and are remembered), so decoding can never cause another request.
struct Sparse {
    segments: Vec<(u64, Bytes)>,
    len: u64,
    missed: AtomicBool,
    /// Whether the segments are prefixes of the column chunks (a page may run past them).
    partial: bool,
}

impl Sparse {
    fn find(&self, start: u64, len: u64) -> parquet::errors::Result<Bytes> {
        for (at, bytes) in &self.segments {
            let end = at + bytes.len() as u64;
            if start >= *at && start + len <= end {
                let from = (start - at) as usize;
                return Ok(bytes.slice(from..from + len as usize));
            }
        }
        self.missed.store(true, Ordering::Relaxed);
        Err(ParquetError::EOF(format!(
            "bytes {start}..{} were not fetched",
            start + len
        )))
    }
}

impl Length for Sparse {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Sparse {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        for (at, bytes) in &self.segments {
            let end = at + bytes.len() as u64;
            if start >= *at && start < end {
                return Ok(bytes.slice((start - at) as usize..).reader());
            }
        }
        self.missed.store(true, Ordering::Relaxed);
        Err(ParquetError::EOF(format!("byte {start} was not fetched")))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.find(start, length as u64)
    }
}
