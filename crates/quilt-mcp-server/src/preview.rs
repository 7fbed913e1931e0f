//! Format-aware, bounded previews of S3 objects: what `bucket_object_preview` and
//! `resources/read` answer. A preview reads an object only with ranged GETs, under a cap on
//! bytes fetched and a cap on output, and says in its answer what it spent and what it left
//! out — so a 10 GB Parquet file costs a HEAD and a few ranged GETs, and a gzip bomb costs a
//! bounded amount of decompression.
//!
//! The object is read through [`Ranged`] (the caller's S3 client, a request counter and the
//! byte budget); the formats live below:
//! - `preview/parquet.rs`: footer, schema, row groups and the first rows of the first row
//!   group (the `parquet` crate's record API over the ranges fetched, no arrow);
//! - `preview/table.rs`: CSV/TSV with delimiter and header detection and column types;
//! - `preview/json.rs`: JSON documents and JSON Lines, records and top-level keys;
//! - `preview/text.rs`: gzip/zstd streams (output capped), plain text, hex for binary data.
//!
//! Grants are checked by the callers (the tool in `tools/preview.rs`, the resources in
//! `resources.rs`) before a client is built; this module only reads.

mod json;
mod parquet;
mod table;
mod text;

use bytes::Bytes;
use quilt_mcp_aws::Caller;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use std::sync::Arc;

use quilt_mcp_aws::AccessIntent;
use quilt_mcp_aws::s3uri::S3Uri;

use crate::aws::{self, Aws};
use crate::grants::BucketPolicy;
use crate::s3::{object_error, s3_error};
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::packaging::entry::EntryLocator;

/// Previews objects for the caller in scope, after the same grant checks as the bucket tools.
pub(crate) struct Previewer {
    aws: Arc<Aws>,
    policy: BucketPolicy,
    entries: EntryLocator,
    /// `QUILT_CATALOG_URL`, for the answer's catalog URL.
    catalog: Option<String>,
}

impl Previewer {
    pub(crate) fn new(
        aws: &Arc<Aws>,
        policy: BucketPolicy,
        entries: EntryLocator,
        catalog: Option<String>,
    ) -> Self {
        Self {
            aws: aws.clone(),
            policy,
            entries,
            catalog,
        }
    }

    /// Tools' door to AWS.
    pub(crate) fn aws(&self) -> &Arc<Aws> {
        &self.aws
    }

    /// The caller's grants.
    pub(crate) fn policy(&self) -> &BucketPolicy {
        &self.policy
    }

    /// Previews the object at `uri` for the caller in scope; `name` (default: the key)
    /// hints at the format. The grant check comes first and costs no AWS call.
    pub(crate) async fn object(
        &self,
        uri: &S3Uri,
        name: Option<&str>,
        rows: usize,
    ) -> Result<Preview, ToolError> {
        let ctx = crate::call_scope::context()?;
        self.policy
            .check_key(ctx.principal(), &uri.bucket, &uri.key)?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let (reader, content_type) =
            Ranged::open(&s3, &uri.bucket, &uri.key, uri.version_id.as_deref()).await?;
        let mut p = preview(
            reader,
            name.unwrap_or(&uri.key),
            content_type,
            uri.to_string(),
            rows,
        )
        .await?;
        p.catalog_url = self.catalog.as_deref().map(|c| {
            quilt_catalog::urls::object_url(c, &uri.bucket, &uri.key, uri.version_id.as_deref())
        });
        Ok(p)
    }

    /// Previews the entry `path` of package `name` in `registry` (revision `top_hash`, else
    /// latest).
    pub(crate) async fn package_entry(
        &self,
        registry: &str,
        name: &str,
        path: &str,
        top_hash: Option<&str>,
        rows: usize,
    ) -> Result<Preview, ToolError> {
        let entry = self.entries.locate(registry, name, top_hash, path).await?;
        // The physical key is checked against the grants like any object.
        let mut p = self.object(&entry.object, Some(path), rows).await?;
        p.catalog_url = self.catalog.as_deref().map(|c| {
            quilt_catalog::urls::package_url(
                c,
                entry.registry.trim_start_matches("s3://"),
                &entry.name,
                quilt_catalog::urls::Revision::Hash(&entry.top_hash),
                Some(path),
            )
        });
        p.package = Some(PackageEntry {
            registry: entry.registry,
            package_name: entry.name,
            path: path.to_owned(),
            top_hash: entry.top_hash,
        });
        Ok(p)
    }
}

/// Most bytes one preview fetches from S3, all requests together.
pub(crate) const MAX_FETCH_BYTES: u64 = 16 * 1024 * 1024;
/// Most bytes of rows, text or hex one preview returns (serialised JSON).
pub(crate) const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// How much of a text object is read to sniff and parse it.
const HEAD_BYTES: u64 = 256 * 1024;
/// How much of a compressed object is read, and how much of its decompressed stream is kept.
const COMPRESSED_BYTES: u64 = 1024 * 1024;
const DECOMPRESSED_BYTES: usize = 1024 * 1024;
/// Longest string kept in a cell or record before it is cut.
const MAX_CELL_CHARS: usize = 512;
/// Rows returned unless asked otherwise, and at most.
pub(crate) const DEFAULT_ROWS: usize = 10;
pub(crate) const MAX_ROWS: usize = 100;

/// An object read by ranges with the caller's client, counting requests and bytes.
pub(crate) struct Ranged<'a> {
    s3: &'a Caller<aws_sdk_s3::Client>,
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    size: u64,
    requests: u32,
    fetched: u64,
}

impl<'a> Ranged<'a> {
    /// HEADs the object (its size and type) and returns a reader over it.
    pub(crate) async fn open(
        s3: &'a Caller<aws_sdk_s3::Client>,
        bucket: &'a str,
        key: &'a str,
        version_id: Option<&'a str>,
    ) -> Result<(Self, Option<String>), ToolError> {
        aws::touched(bucket, Some(key));
        let head = s3
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(
                |e| match S3Uri::new(bucket, key, version_id.map(str::to_owned)) {
                    Ok(object) => object_error("HeadObject", &e, s3, &object),
                    Err(_) => s3_error("HeadObject", &e, s3),
                },
            )?;
        let size = head.content_length().unwrap_or_default().max(0) as u64;
        let reader = Self {
            s3,
            bucket,
            key,
            version_id,
            size,
            requests: 1,
            fetched: 0,
        };
        Ok((reader, head.content_type().map(str::to_owned)))
    }

    /// The object's size.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Bytes the budget still allows.
    pub(crate) fn budget(&self) -> u64 {
        MAX_FETCH_BYTES.saturating_sub(self.fetched)
    }

    /// One ranged GET of `len` bytes from `start` (clamped to the object), within the budget.
    pub(crate) async fn get(&mut self, start: u64, len: u64) -> Result<Bytes, ToolError> {
        let end = (start + len).min(self.size);
        if start >= end {
            return Ok(Bytes::new());
        }
        let len = end - start;
        if len > self.budget() {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "reading {len} more bytes would pass the preview's cap of {MAX_FETCH_BYTES} bytes fetched"
                ),
            ));
        }
        let out = self
            .s3
            .client
            .get_object()
            .bucket(self.bucket)
            .key(self.key)
            .set_version_id(self.version_id.map(str::to_owned))
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(|e| s3_error("GetObject", &e, self.s3))?;
        self.requests += 1;
        let mut body = out.body;
        let mut buf = Vec::with_capacity(len as usize);
        // A server that ignores Range must not make us hold more than asked for.
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                format!("reading s3://{}/{} failed: {e}", self.bucket, self.key),
            )
        })? {
            let room = len as usize - buf.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() == len as usize {
                break;
            }
        }
        self.fetched += buf.len() as u64;
        Ok(Bytes::from(buf))
    }

    fn cost(&self) -> Cost {
        Cost {
            requests: self.requests,
            bytes_fetched: self.fetched,
            max_bytes_fetched: MAX_FETCH_BYTES,
            max_output_bytes: MAX_OUTPUT_BYTES as u64,
        }
    }
}

/// A column (Parquet, CSV/TSV) or top-level key (JSON) and its type.
#[derive(Debug, Serialize, JsonSchema, Clone, PartialEq)]
pub(crate) struct Column {
    /// Name (a dotted path for nested Parquet columns).
    pub name: String,
    /// Type: Parquet physical (logical) type; inferred for CSV; JSON types seen, joined by |.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether values may be missing or null.
    pub nullable: bool,
}

/// What a preview cost, and its caps.
#[derive(Debug, Serialize, JsonSchema, Clone)]
pub(crate) struct Cost {
    /// S3 requests made (HEAD and ranged GETs).
    pub requests: u32,
    /// Bytes fetched from S3.
    pub bytes_fetched: u64,
    /// Cap on bytes fetched.
    pub max_bytes_fetched: u64,
    /// Cap on rows/text/hex returned (bytes of JSON).
    pub max_output_bytes: u64,
}

/// A package entry.
#[derive(Debug, Serialize, JsonSchema, Clone)]
pub(crate) struct PackageEntry {
    /// The registry (s3://bucket).
    pub registry: String,
    /// The package.
    pub package_name: String,
    /// The entry's logical key.
    pub path: String,
    /// The revision read.
    pub top_hash: String,
}

/// Parquet file facts from the footer.
#[derive(Debug, Serialize, JsonSchema, Clone)]
pub(crate) struct ParquetInfo {
    /// Row groups in the file.
    pub row_groups: usize,
    /// The first row groups: rows and compressed bytes each.
    pub row_group_sizes: Vec<RowGroupSize>,
    /// The writer.
    pub created_by: Option<String>,
    /// Keys of the file's key-value metadata (values left out: pandas/arrow schemas are large).
    pub metadata_keys: Vec<String>,
    /// Compression codecs used.
    pub codecs: Vec<String>,
}

/// One row group's size.
#[derive(Debug, Serialize, JsonSchema, Clone)]
pub(crate) struct RowGroupSize {
    /// Rows.
    pub rows: i64,
    /// Compressed bytes.
    pub bytes: i64,
}

/// CSV/TSV facts.
#[derive(Debug, Serialize, JsonSchema, Clone)]
pub(crate) struct TableInfo {
    /// The field delimiter detected.
    pub delimiter: String,
    /// Whether the first row is a header (detected).
    pub header: bool,
    /// Rows parsed to infer the column types.
    pub rows_sampled: usize,
    /// Rows with a different number of fields than the first.
    pub ragged_rows: usize,
}

/// A preview's findings, whatever the format.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub(crate) format: &'static str,
    pub(crate) compression: Option<&'static str>,
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<Value>,
    pub(crate) total_rows: Option<u64>,
    pub(crate) parquet: Option<ParquetInfo>,
    pub(crate) table: Option<TableInfo>,
    pub(crate) text: Option<String>,
    pub(crate) hex: Option<String>,
    pub(crate) truncated: bool,
    pub(crate) notes: Vec<String>,
}

/// A whole preview.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Preview {
    /// The object read.
    pub s3_uri: String,
    /// The package entry previewed, when asked for by package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageEntry>,
    /// parquet, csv, tsv, json, jsonl, text, binary or empty.
    pub format: String,
    /// gzip or zstd when the object is a compressed stream (the rest describes its content).
    pub compression: Option<String>,
    /// Object size in bytes.
    pub size: u64,
    /// Content type S3 reports.
    pub content_type: Option<String>,
    /// Columns or top-level keys with types.
    pub columns: Vec<Column>,
    /// The first rows or records (objects by column name; arrays for CSV without a header).
    pub rows: Vec<Value>,
    /// Rows in the whole object, when known (Parquet).
    pub total_rows: Option<u64>,
    /// Parquet footer facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parquet: Option<ParquetInfo>,
    /// CSV/TSV facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<TableInfo>,
    /// The start of the object as text (formats without rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The first bytes as hex (binary data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// Whether more data follows what is shown (row cap, byte caps or output cap).
    pub truncated: bool,
    /// What the preview left out or found wrong, and why.
    pub notes: Vec<String>,
    /// Requests and bytes spent, with the caps.
    pub cost: Cost,
    /// The object (or package entry) in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Which format an object's name suggests (compression suffixes stripped first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    Parquet,
    Csv,
    Tsv,
    Json,
    JsonLines,
    None,
}

/// The name's compression suffix, and the name without it.
fn compression_of(name: &str) -> (Option<&'static str>, &str) {
    let lower = name.to_ascii_lowercase();
    for (suffix, codec) in [
        (".gz", "gzip"),
        (".gzip", "gzip"),
        (".zst", "zstd"),
        (".zstd", "zstd"),
    ] {
        if lower.ends_with(suffix) {
            return (Some(codec), &name[..name.len() - suffix.len()]);
        }
    }
    (None, name)
}

/// Whether an object by this name may be returned as its own bytes: not Parquet, not
/// compressed (those are read through a preview).
pub(crate) fn plain_name(name: &str) -> bool {
    let (codec, inner) = compression_of(name);
    codec.is_none() && hint_of(inner) != Hint::Parquet
}

pub(crate) fn hint_of(name: &str) -> Hint {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "parquet" | "pq" => Hint::Parquet,
        "csv" => Hint::Csv,
        "tsv" | "tab" => Hint::Tsv,
        "json" => Hint::Json,
        "jsonl" | "ndjson" | "jsonlines" => Hint::JsonLines,
        _ => Hint::None,
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Previews the object `reader` reads; `name` (its key or logical key) hints at the format,
/// the content decides where they disagree.
pub(crate) async fn preview(
    mut reader: Ranged<'_>,
    name: &str,
    content_type: Option<String>,
    s3_uri: String,
    rows: usize,
) -> Result<Preview, ToolError> {
    let size = reader.size();
    let body = if size == 0 {
        Body {
            format: "empty",
            notes: vec!["the object is empty (0 bytes)".into()],
            ..Body::default()
        }
    } else {
        let (codec, inner) = compression_of(name);
        let hint = hint_of(inner);
        if hint == Hint::Parquet && codec.is_none() {
            parquet::preview(&mut reader, rows).await?
        } else {
            let first = if codec.is_some() {
                COMPRESSED_BYTES
            } else {
                HEAD_BYTES
            };
            let head = reader.get(0, first).await?;
            let complete = head.len() as u64 == size;
            if head.starts_with(PARQUET_MAGIC) && size >= 12 {
                parquet::preview(&mut reader, rows).await?
            } else if head.starts_with(GZIP_MAGIC) {
                text::decompressed("gzip", &head, complete, hint, rows)
            } else if head.starts_with(ZSTD_MAGIC) {
                text::decompressed("zstd", &head, complete, hint, rows)
            } else {
                let mut body = text::content(&head, complete, hint, rows);
                if let Some(c) = codec {
                    body.notes.push(format!(
                        "the name says {c} but the content is not {c}-compressed"
                    ));
                }
                body
            }
        }
    };
    Ok(Preview {
        s3_uri,
        package: None,
        format: body.format.to_owned(),
        compression: body.compression.map(str::to_owned),
        size,
        content_type,
        columns: body.columns,
        rows: body.rows,
        total_rows: body.total_rows,
        parquet: body.parquet,
        table: body.table,
        text: body.text,
        hex: body.hex,
        truncated: body.truncated,
        notes: body.notes,
        cost: reader.cost(),
        catalog_url: None,
    })
}

/// Cuts long strings and keeps `rows` within the output cap; says whether it dropped any.
pub(crate) fn bound_rows(rows: Vec<Value>, notes: &mut Vec<String>) -> (Vec<Value>, bool) {
    let mut out = Vec::with_capacity(rows.len());
    let mut used = 0usize;
    let total = rows.len();
    for row in rows {
        let row = shorten(row, 0);
        let n = serde_json::to_vec(&row).map_or(0, |v| v.len());
        if used + n > MAX_OUTPUT_BYTES && !out.is_empty() {
            notes.push(format!(
                "{} of {total} rows left out: the output cap is {MAX_OUTPUT_BYTES} bytes",
                total - out.len()
            ));
            return (out, true);
        }
        used += n;
        out.push(row);
    }
    (out, false)
}

/// A value with strings over [`MAX_CELL_CHARS`] cut (marked with "…"), and arrays and objects
/// past a depth or width shortened, so one huge cell cannot take the whole answer.
fn shorten(v: Value, depth: usize) -> Value {
    const WIDTH: usize = 50;
    match v {
        Value::String(s) if s.chars().count() > MAX_CELL_CHARS => {
            let mut cut: String = s.chars().take(MAX_CELL_CHARS).collect();
            cut.push('…');
            Value::String(cut)
        }
        Value::Array(items) if depth >= 6 => Value::String(format!("[… {} items]", items.len())),
        Value::Object(map) if depth >= 6 => Value::String(format!("{{… {} keys}}", map.len())),
        Value::Array(items) => {
            let n = items.len();
            let mut out: Vec<Value> = items
                .into_iter()
                .take(WIDTH)
                .map(|v| shorten(v, depth + 1))
                .collect();
            if n > WIDTH {
                out.push(Value::String(format!("… {} more", n - WIDTH)));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let n = map.len();
            let mut out: serde_json::Map<String, Value> = map
                .into_iter()
                .take(WIDTH)
                .map(|(k, v)| (k, shorten(v, depth + 1)))
                .collect();
            if n > WIDTH {
                out.insert(
                    "…".into(),
                    Value::String(format!("{} more keys", n - WIDTH)),
                );
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// The JSON type name of a value.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
