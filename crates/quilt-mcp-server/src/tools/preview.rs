//! `bucket_object_preview`: a format-aware, bounded look inside an object or a package entry
//! (the work is in `crate::preview`; this file is the tool's arguments and its door).

use std::sync::Arc;

use quilt_mcp_aws::s3uri;
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::preview::{DEFAULT_ROWS, MAX_ROWS, Preview, Previewer};
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

/// Arguments of `bucket_object_preview`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewInput {
    /// s3://bucket/key, the key verbatim (?versionId=… for a version); or give registry, package_name and path.
    #[serde(default)]
    pub s3_uri: Option<String>,
    /// A package's registry (s3://bucket).
    #[serde(default)]
    pub registry: Option<String>,
    /// The package (user/name).
    #[serde(default)]
    pub package_name: Option<String>,
    /// The entry's logical key.
    #[serde(default)]
    pub path: Option<String>,
    /// The package revision (hash or prefix; default latest).
    #[serde(default)]
    pub top_hash: Option<String>,
    /// Rows or records to return (default 10, max 100).
    #[serde(default)]
    pub max_rows: Option<u64>,
}

pub(crate) fn register(registry: &mut ToolRegistry, previewer: &Arc<Previewer>) {
    registry.add_with(
        previewer,
        "bucket_object_preview",
        "Look inside an object or package entry: Parquet schema, row groups and first rows; CSV/TSV columns, types and rows; JSON/JSONL records and keys; gzip/zstd text; else the first bytes. Ranged reads only, capped; cost and caps in the answer.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
        Some(crate::scopes::Scope::Read),
        preview,
    );
}

async fn preview(previewer: Arc<Previewer>, input: PreviewInput) -> Result<Preview, ToolError> {
    let rows = input.max_rows.unwrap_or(DEFAULT_ROWS as u64);
    if rows > MAX_ROWS as u64 {
        return Err(ToolError::invalid_argument(format!(
            "max_rows must be between 0 and {MAX_ROWS}, got {rows}"
        )));
    }
    let rows = rows as usize;
    match (input.s3_uri, input.registry, input.package_name, input.path) {
        (Some(uri), None, None, None) if input.top_hash.is_none() => {
            let uri = s3uri::parse_s3_uri(&uri)
                .map_err(|e| ToolError::invalid_argument(format!("s3_uri: {e}")))?;
            previewer.object(&uri, None, rows).await
        }
        (None, Some(registry), Some(name), Some(path)) => {
            previewer
                .package_entry(&registry, &name, &path, input.top_hash.as_deref(), rows)
                .await
        }
        _ => Err(ToolError::invalid_argument(
            "give s3_uri, or registry, package_name and path (and optionally top_hash)",
        )),
    }
}
