//! Argument checks of the packaging tools (registry, names, hashes, metadata, sources, globs)
//! and the error texts for what the registry holds (manifests that cannot be read or written,
//! conflicts with `latest`). Everything here is checked before any request is sent.

use quilt_mcp_aws::s3uri;
use quilt_package::{
    JsonObject, JsonValue, KeySetError, LogicalKey, ManifestError, PackageName, TopHash, WriteError,
};
use serde_json::Value;

use super::MAX_NEW_ENTRIES;
use super::schema::EntryInput;
use crate::tool_error::{ErrorCode, ToolError};

pub(crate) fn registry_bucket(registry: &str) -> Result<String, ToolError> {
    let bucket = registry
        .strip_prefix("s3://")
        .unwrap_or(registry)
        .trim_end_matches('/');
    s3uri::validate_bucket(bucket)
        .map_err(|e| ToolError::invalid_argument(format!("registry {registry:?}: {e}")))?;
    Ok(bucket.to_owned())
}

pub(super) fn package_name(field: &str, name: &str) -> Result<PackageName, ToolError> {
    PackageName::new(name).map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))
}

pub(super) fn full_hash(field: &str, h: &str) -> Result<TopHash, ToolError> {
    TopHash::parse(h).map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))
}

/// An object of metadata from an argument (`null` is none).
pub(super) fn metadata_object(
    field: &str,
    v: Option<&Value>,
) -> Result<Option<JsonObject>, ToolError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(JsonObject::from_serde(m))),
        Some(other) => Err(ToolError::invalid_argument(format!(
            "{field} must be a JSON object, got {}",
            json_kind(other)
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn key_set_error(e: &KeySetError) -> ToolError {
    ToolError::invalid_argument(format!("the package's logical keys: {e}"))
}

/// A source object and where it goes in the package.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub(super) uri: s3uri::S3Uri,
    pub(super) logical_key: LogicalKey,
    pub(super) meta: JsonObject,
}

/// Sources from `s3_uris` and `entries`, validated, in argument order; duplicate logical
/// keys and file/directory clashes among them are refused.
pub(super) fn sources(
    s3_uris: &[String],
    entries: &[EntryInput],
    flatten: bool,
) -> Result<Vec<Source>, ToolError> {
    let n = s3_uris.len() + entries.len();
    if n > MAX_NEW_ENTRIES {
        return Err(ToolError::new(
            ErrorCode::TooLarge,
            format!("{n} objects in one call; the limit is {MAX_NEW_ENTRIES}"),
        )
        .with_hint("split the work into package_update calls"));
    }
    let plain = s3_uris.iter().enumerate().map(|(i, u)| {
        (
            format!("s3_uris[{i}]"),
            u.as_str(),
            None::<&str>,
            None::<&Value>,
        )
    });
    let detailed = entries.iter().enumerate().map(|(i, e)| {
        (
            format!("entries[{i}]"),
            e.s3_uri.as_str(),
            e.logical_key.as_deref(),
            e.metadata.as_ref(),
        )
    });
    let mut out = Vec::with_capacity(n);
    for (field, uri, lk, meta) in plain.chain(detailed) {
        let parsed = s3uri::parse_s3_uri(uri)
            .map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))?;
        let lk = match lk {
            Some(lk) => lk.to_owned(),
            None if flatten => parsed.key.rsplit('/').next().unwrap_or_default().to_owned(),
            None => parsed.key.clone(),
        };
        let logical_key = LogicalKey::new(lk.as_str()).map_err(|e| {
            ToolError::invalid_argument(format!("{field} ({uri}): {e}"))
                .with_hint("give a logical_key (entries) that is a relative path without '.', '..' or empty parts")
        })?;
        let mut entry_meta = JsonObject::new();
        if let Some(m) = metadata_object(&format!("{field}.metadata"), meta)? {
            entry_meta.insert("user_meta", JsonValue::from(m));
        }
        out.push(Source {
            uri: parsed,
            logical_key,
            meta: entry_meta,
        });
    }
    let mut keys: Vec<&LogicalKey> = out.iter().map(|s| &s.logical_key).collect();
    keys.sort();
    let mut check = quilt_package::WalkOrderCheck::default();
    for k in keys {
        check.push(k).map_err(|e| key_set_error(&e))?;
    }
    Ok(out)
}

pub(super) fn manifest_error(what: &str, e: ManifestError) -> ToolError {
    match e {
        ManifestError::Io(io) => ToolError::new(
            ErrorCode::UpstreamUnavailable,
            format!("reading {what} failed: {io}"),
        ),
        ManifestError::LineTooLong { .. } => ToolError::new(
            ErrorCode::TooLarge,
            format!("{what} cannot be read: {e} (quilt3's limit)"),
        ),
        other => {
            ToolError::invalid_argument(format!("{what} is not a valid Quilt manifest: {other}"))
                .with_hint("the registry holds a malformed manifest; choose another revision")
        }
    }
}

pub(super) fn write_error(e: WriteError) -> ToolError {
    match e {
        WriteError::KeySet(k) => key_set_error(&k),
        WriteError::RecordTooLarge { .. } => ToolError::new(ErrorCode::TooLarge, e.to_string())
            .with_hint("quilt3 refuses manifest lines over 1,000,000 bytes: use smaller metadata"),
        WriteError::NonFiniteNumber { .. } => ToolError::invalid_argument(e.to_string()),
        other => ToolError::internal(format!("writing the manifest failed: {other}")),
    }
}

pub(super) fn conflict(
    name: &PackageName,
    latest: Option<&TopHash>,
    started: Option<&TopHash>,
) -> ToolError {
    let latest = latest.map_or("none (deleted)".to_owned(), ToString::to_string);
    let msg = match started {
        Some(s) => format!("package {name} changed since revision {s}: its latest is now {latest}"),
        None => format!("package {name} already exists (latest {latest})"),
    };
    ToolError::new(ErrorCode::Conflict, msg).with_hint(
        "browse the latest revision and build on it (pass its top_hash), or pass force=true to overwrite latest",
    )
}

pub(super) fn globs(
    field: &str,
    patterns: &[String],
) -> Result<Option<globset::GlobSet>, ToolError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = globset::GlobSetBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .map_err(|e| ToolError::invalid_argument(format!("{field}[{i}] {p:?}: {e}")))?;
        b.add(g);
    }
    b.build()
        .map(Some)
        .map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))
}
