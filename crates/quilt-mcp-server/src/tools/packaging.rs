//! The packaging tools: Quilt packages written and read natively in the registry bucket (the
//! v1 layout of `quilt_package::registry`), with the caller's own credentials, in exactly the
//! bytes quilt3 writes and reads.
//!
//! - Reads (`package_list`, `package_browse`, `package_diff`) list pointers and stream
//!   manifests through [`ManifestReader`] on a blocking thread fed by the S3 body, so a
//!   manifest of any size is read in constant memory; browsing checks the manifest's top
//!   hash against its name.
//! - Writes (`package_create`, `package_update`, `package_create_from_s3`) first check every
//!   argument and the grants of every bucket involved (nothing touched on bad input), HEAD
//!   every source (a missing one is `not_found` before anything is copied), then copy
//!   (server-side; multipart copy in quilt3's chunk size above one chunk) or reference each
//!   object with bounded parallelism, hashing the bytes the manifest will point to while
//!   streaming them (S3's `ChecksumSHA256` is used only where it is exactly the Quilt hash).
//!   Then the manifest, the revision pointer and `latest`, in quilt3's order, all with the
//!   configured SSE. `latest` moving since the caller's `top_hash` is a `conflict` unless
//!   `force`, checked before copying and again right before the pointers are written.
//! - `package_delete` deletes pointers only (manifests and objects stay), as quilt3 does.

pub(crate) mod entry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedPart};
use bytes::{Buf as _, Bytes};
use futures::{StreamExt as _, TryStreamExt as _};
use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::s3uri;
use quilt_mcp_aws::{AccessIntent, Caller};
use quilt_package::registry::{self, LATEST, MANIFESTS_PREFIX, NAMED_PACKAGES_PREFIX};
use quilt_package::{
    BASE_CHUNK_SIZE, ChunkedSha256Hasher, Entry, Header, JsonObject, JsonValue, KeySetError,
    LogicalKey, Manifest, ManifestError, ManifestReader, ManifestWriter, ObjectHash, PackageName,
    PhysicalKey, Record, RegistryKey, TopHash, TopHashError, TopHasher, WriteError, chunk_size,
};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::{self, Aws};
use crate::grants::BucketPolicy;
use crate::progress;
use crate::s3::{complete_or_abort, real_version, s3_error};
use crate::scopes::Scope;
use crate::settings::{Settings, Sse};
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;

mod workflow;

const READ: Scope = Scope::Read;
const WRITE: Scope = Scope::Write;
/// Most entries a create (or an update's additions) takes in one call.
const MAX_NEW_ENTRIES: usize = 10_000;
/// Objects copied or hashed at once.
const PARALLELISM: usize = 16;
/// Parts of one multipart copy in flight at once.
const PART_PARALLELISM: usize = 4;
/// Most entries `package_browse` returns.
const MAX_BROWSE_ENTRIES: usize = 10_000;
/// Most keys listed per category by `package_diff`.
const MAX_DIFF_KEYS: usize = 1_000;
/// Most objects `package_create_from_s3` lists from a prefix.
const MAX_LISTED_OBJECTS: usize = 100_000;
/// Most objects shown by a dry run.
const MAX_DRY_RUN_SHOWN: usize = 1_000;
/// Most pointer keys `package_list` reads.
const MAX_POINTER_KEYS: usize = 100_000;
// --- Memory bounds by bytes, not only by count (issue 14) ---
/// Most bytes of entries (keys, hash and metadata as written) one `package_browse` page holds:
/// manifest lines may be 1 MB each, so 10,000 entries could otherwise be 10 GB. At least one
/// entry is always returned.
const MAX_BROWSE_BYTES: usize = 4 * 1024 * 1024;
/// Largest pointer object read (a pointer is a 64-character top hash and a newline).
const MAX_POINTER_BYTES: usize = 1024;
/// Most bytes of keys one listing accumulates (100,000 keys of up to 1 KiB would be 100 MB).
const MAX_LISTED_KEY_BYTES: usize = 16 * 1024 * 1024;
/// Presigned URLs from `package_browse` last this long (or less, with the credentials).
const SIGNED_URL_S: u64 = 3600;
/// A single PutObject takes at most 5 GiB.
const MAX_MANIFEST_BYTES: u64 = 5 * 1024 * 1024 * 1024;

type S3 = Caller<aws_sdk_s3::Client>;

/// What the packaging tools share.
struct Packaging {
    aws: Arc<Aws>,
    policy: BucketPolicy,
    sse: Sse,
    /// Workflow configs and schemas recently read (`workflow.rs`).
    rules: workflow::RulesCache,
    /// For catalog URLs in answers (with QUILT_CATALOG_URL).
    config: Arc<Settings>,
}

pub(crate) fn register(registry: &mut ToolRegistry, aws: &Arc<Aws>, config: &Settings) {
    let p = Arc::new(Packaging {
        aws: aws.clone(),
        policy: BucketPolicy::new(config.grants.clone()),
        sse: config.s3.sse.clone(),
        rules: workflow::RulesCache::default(),
        config: Arc::new(config.clone()),
    });
    let read = || {
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true)
    };
    // A new revision never removes one, but copies overwrite `<package>/<logical key>` (on an
    // unversioned registry, bytes an older revision points to) and `force` moves `latest`.
    let write = || {
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true)
    };
    registry.add_with(
        &p,
        "package_list",
        "List the Quilt packages of a registry (s3://bucket): names, revision counts, whether latest exists. prefix filters names (e.g. \"alice/\").",
        read(),
        Some(READ),
        Packaging::list,
    );
    registry.add_with(
        &p,
        "package_browse",
        "Entries and metadata of a package revision: latest, a timestamp pointer, or top_hash (full or a 6-63 char prefix). prefix filters logical keys; max_entries (default 1000, max 10000) with truncated; include_signed_urls adds presigned GET URLs.",
        read(),
        Some(READ),
        Packaging::browse,
    );
    registry.add_with(
        &p,
        "package_diff",
        "Compare two package revisions (package1_name/package1_hash vs package2_name/package2_hash; names default to each other, hashes to latest): added, removed, modified logical keys, and whether package metadata changed.",
        read(),
        Some(READ),
        Packaging::diff,
    );
    registry.add_with(
        &p,
        "package_create",
        "Create a package revision from S3 objects (s3_uris, or entries with logical_key and metadata; flatten uses file names). copy (default true) copies into the registry at <package_name>/<logical key>; false references objects in place. Over an existing package pass top_hash (the revision you started from) or force. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::create,
    );
    registry.add_with(
        &p,
        "package_update",
        "New revision of an existing package: add or replace entries (s3_uris/entries), remove logical keys, merge metadata into the package metadata. top_hash is the revision you started from (default latest); conflict if latest moved, unless force. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::update,
    );
    registry.add_with(
        &p,
        "package_delete",
        "Delete a package's pointers (latest and every revision) from the registry, as quilt3 does; manifests and data objects stay.",
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(true)
            .open_world(true),
        Some(WRITE),
        Packaging::delete,
    );
    registry.add_with(
        &p,
        "package_create_from_s3",
        "Package the objects under s3://source_bucket/source_prefix (logical keys relative to the prefix), filtered by include_patterns/exclude_patterns globs, into target_registry as package_name. dry_run lists what would be packaged. The registry's workflows apply (see package_validate).",
        write(),
        Some(WRITE),
        Packaging::create_from_s3,
    );
    registry.add_with(
        &p,
        "package_validate",
        "Check a planned package_create (or package_update with update=true) against the registry's workflows (.quilt/workflows/config.yml, as quilt3 enforces them) without writing: every failure at once, and the workflow record the manifest would get. Omit workflow to see the registry's workflows and default; writes take the same workflow argument (an id, or null for none).",
        read(),
        Some(READ),
        Packaging::validate,
    );
}

// ------------------------------------------------------------------------------------------
// Inputs and outputs.

/// Arguments of `package_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// Only names starting with this (e.g. "alice/").
    #[serde(default)]
    pub prefix: String,
}

/// A package in a registry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PackageSummary {
    pub name: String,
    /// Timestamped revision pointers.
    pub revisions: u64,
    pub has_latest: bool,
    /// The package in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// The packages of a registry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    pub registry: String,
    pub packages: Vec<PackageSummary>,
    /// More than shown.
    pub truncated: bool,
}

/// Arguments of `package_browse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowseInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
    /// A top hash or a prefix of 6-63 hex characters (default: latest).
    #[serde(default)]
    pub top_hash: Option<String>,
    /// A revision pointer's name (unix seconds) instead of latest.
    #[serde(default)]
    pub timestamp: Option<u64>,
    /// Only logical keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Most entries returned (default 1000, max 10000).
    #[serde(default)]
    pub max_entries: Option<usize>,
    /// Add presigned GET URLs (for objects in buckets you may use).
    #[serde(default)]
    pub include_signed_urls: bool,
}

/// An object hash.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HashOut {
    #[serde(rename = "type")]
    pub hash_type: String,
    pub value: String,
}

/// A package entry.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EntryOut {
    pub logical_key: String,
    /// The manifest's physical key as quilt3 writes it: a percent-encoded URL (?versionId=).
    pub physical_key: String,
    /// The same object as the bucket tools take it (s3://bucket/key, key verbatim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_uri: Option<String>,
    pub size: u64,
    pub hash: HashOut,
    /// Entry metadata object (user_meta inside).
    pub meta: Value,
    /// Presigned GET URL, when asked for and the bucket is one you may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_url: Option<String>,
}

/// A revision's contents.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BrowseOutput {
    pub registry: String,
    pub package_name: String,
    /// The revision's top hash (checked against the manifest's contents).
    pub top_hash: String,
    pub message: Option<String>,
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Value>,
    pub entries: Vec<EntryOut>,
    pub total_entries: u64,
    /// Entries matching prefix.
    pub matched_entries: u64,
    pub matched_bytes: u64,
    /// More than shown.
    pub truncated: bool,
    /// This revision in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// One object to package.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// s3://bucket/key, the key verbatim (no %-decoding); ?versionId=… at the end for a version.
    pub s3_uri: String,
    /// Where it goes in the package (default: the key, or its file name with flatten).
    #[serde(default)]
    pub logical_key: Option<String>,
    /// The entry's user metadata (an object).
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// Arguments of `package_create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
    /// Objects, logical key from the key (or file name with flatten).
    #[serde(default)]
    pub s3_uris: Vec<String>,
    /// Objects with explicit logical keys and metadata.
    #[serde(default)]
    pub entries: Vec<EntryInput>,
    /// Package metadata (an object).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// Logical keys default to the file name instead of the whole key.
    #[serde(default)]
    pub flatten: bool,
    /// Copy objects into the registry (default true); false references them in place.
    #[serde(default = "yes")]
    pub copy: bool,
    /// Write even if the package's latest is not top_hash.
    #[serde(default)]
    pub force: bool,
    /// The revision you started from, when the package exists.
    #[serde(default)]
    pub top_hash: Option<String>,
    /// Workflow id from the registry's config; null for none; omit for the config's default.
    #[serde(default, deserialize_with = "workflow::absent_or_null")]
    pub workflow: Option<Option<String>>,
}

fn yes() -> bool {
    true
}

/// A revision written.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteOutput {
    pub registry: String,
    pub package_name: String,
    /// The new revision's top hash.
    pub top_hash: String,
    /// The latest this replaced.
    pub previous_top_hash: Option<String>,
    /// Revision pointer name (unix seconds).
    pub timestamp: u64,
    pub entries: u64,
    pub added: u64,
    pub replaced: u64,
    pub removed: u64,
    pub bytes: u64,
    pub copied: u64,
    pub referenced: u64,
    /// Hashes taken from exact S3 checksums.
    pub hashes_from_checksums: u64,
    /// The new revision in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Arguments of `package_update`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
    /// Objects to add or replace (logical key from the key, or file name with flatten).
    #[serde(default)]
    pub s3_uris: Vec<String>,
    /// Objects to add or replace, with explicit logical keys and metadata.
    #[serde(default)]
    pub entries: Vec<EntryInput>,
    /// Logical keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Merged into the package metadata (top-level keys replaced).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// Logical keys default to the file name instead of the whole key.
    #[serde(default)]
    pub flatten: bool,
    /// Copy new objects into the registry (default true); false references them.
    #[serde(default = "yes")]
    pub copy: bool,
    /// Write even if latest moved since top_hash.
    #[serde(default)]
    pub force: bool,
    /// The revision you started from (default: latest).
    #[serde(default)]
    pub top_hash: Option<String>,
    /// Workflow id from the registry's config; null for none; omit for the config's default.
    #[serde(default, deserialize_with = "workflow::absent_or_null")]
    pub workflow: Option<Option<String>>,
}

/// Arguments of `package_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
}

/// Pointers deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    pub registry: String,
    pub package_name: String,
    pub deleted_pointers: Vec<String>,
}

/// Arguments of `package_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// The first package (default: package2_name).
    #[serde(default)]
    pub package1_name: Option<String>,
    /// The second package (default: package1_name).
    #[serde(default)]
    pub package2_name: Option<String>,
    /// The first revision: top hash or prefix (default latest).
    #[serde(default)]
    pub package1_hash: Option<String>,
    /// The second revision: top hash or prefix (default latest).
    #[serde(default)]
    pub package2_hash: Option<String>,
}

/// What changed from the first revision to the second.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DiffOutput {
    pub package1_hash: String,
    pub package2_hash: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Size, hash or metadata differ (lists max 1000 keys).
    pub modified: Vec<String>,
    pub added_count: u64,
    pub removed_count: u64,
    pub modified_count: u64,
    pub metadata_changed: bool,
    /// More than shown.
    pub truncated: bool,
    /// The two revisions in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package1_catalog_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package2_catalog_url: Option<String>,
}

/// Arguments of `package_create_from_s3`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromS3Input {
    /// The bucket to package from.
    pub source_bucket: String,
    /// Only keys under this prefix; logical keys are relative to it.
    #[serde(default)]
    pub source_prefix: String,
    /// The registry, s3://bucket.
    pub target_registry: String,
    /// user/package.
    pub package_name: String,
    /// Globs on the relative key (e.g. "*.csv", "data/**"); default all.
    #[serde(default)]
    pub include_patterns: Vec<String>,
    /// Globs on the relative key to leave out.
    #[serde(default)]
    pub exclude_patterns: Vec<String>,
    /// Package metadata (an object).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// Copy into the registry (default true); false references objects in place.
    #[serde(default = "yes")]
    pub copy: bool,
    /// Write even if the package's latest is not top_hash.
    #[serde(default)]
    pub force: bool,
    /// The revision you started from, when the package exists.
    #[serde(default)]
    pub top_hash: Option<String>,
    /// Only list what would be packaged.
    #[serde(default)]
    pub dry_run: bool,
    /// Workflow id from the registry's config; null for none; omit for the config's default.
    #[serde(default, deserialize_with = "workflow::absent_or_null")]
    pub workflow: Option<Option<String>>,
}

/// An object a dry run would package.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedEntry {
    pub logical_key: String,
    pub s3_uri: String,
    pub size: u64,
}

/// What `package_create_from_s3` did or would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FromS3Output {
    pub dry_run: bool,
    pub matched: u64,
    pub matched_bytes: u64,
    /// Left out by patterns.
    pub excluded: u64,
    /// Dry run: matching objects (max 1000).
    pub planned: Vec<PlannedEntry>,
    /// More than shown.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<WriteOutput>,
}

// ------------------------------------------------------------------------------------------
// Argument checks.

fn registry_bucket(registry: &str) -> Result<String, ToolError> {
    let bucket = registry
        .strip_prefix("s3://")
        .unwrap_or(registry)
        .trim_end_matches('/');
    s3uri::validate_bucket(bucket)
        .map_err(|e| ToolError::invalid_argument(format!("registry {registry:?}: {e}")))?;
    Ok(bucket.to_owned())
}

fn package_name(field: &str, name: &str) -> Result<PackageName, ToolError> {
    PackageName::new(name).map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))
}

fn full_hash(field: &str, h: &str) -> Result<TopHash, ToolError> {
    TopHash::parse(h).map_err(|e| ToolError::invalid_argument(format!("{field}: {e}")))
}

/// An object of metadata from an argument (`null` is none).
fn metadata_object(field: &str, v: Option<&Value>) -> Result<Option<JsonObject>, ToolError> {
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

fn key_set_error(e: &KeySetError) -> ToolError {
    ToolError::invalid_argument(format!("the package's logical keys: {e}"))
}

/// A source object and where it goes in the package.
#[derive(Debug, Clone)]
struct Source {
    uri: s3uri::S3Uri,
    logical_key: LogicalKey,
    meta: JsonObject,
}

/// Sources from `s3_uris` and `entries`, validated, in argument order; duplicate logical
/// keys and file/directory clashes among them are refused.
fn sources(
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

fn manifest_error(what: &str, e: ManifestError) -> ToolError {
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

fn write_error(e: WriteError) -> ToolError {
    match e {
        WriteError::KeySet(k) => key_set_error(&k),
        WriteError::RecordTooLarge { .. } => ToolError::new(ErrorCode::TooLarge, e.to_string())
            .with_hint("quilt3 refuses manifest lines over 1,000,000 bytes: use smaller metadata"),
        WriteError::NonFiniteNumber { .. } => ToolError::invalid_argument(e.to_string()),
        other => ToolError::internal(format!("writing the manifest failed: {other}")),
    }
}

fn conflict(name: &PackageName, latest: Option<&TopHash>, started: Option<&TopHash>) -> ToolError {
    let latest = latest.map_or("none (deleted)".to_owned(), ToString::to_string);
    let msg = match started {
        Some(s) => format!("package {name} changed since revision {s}: its latest is now {latest}"),
        None => format!("package {name} already exists (latest {latest})"),
    };
    ToolError::new(ErrorCode::Conflict, msg).with_hint(
        "browse the latest revision and build on it (pass its top_hash), or pass force=true to overwrite latest",
    )
}

// ------------------------------------------------------------------------------------------
// Streaming a manifest from S3 into a blocking reader.

/// `std::io::Read` over byte chunks sent from an async task (the S3 body).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

type Lines = BufReader<ChannelReader>;

/// Feeds `body` to `f` on a blocking thread, as a `BufRead`, and returns `f`'s result.
async fn with_body<T, F>(body: ByteStream, f: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce(Lines) -> Result<T, ToolError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let reader = BufReader::with_capacity(
        256 * 1024,
        ChannelReader {
            rx,
            current: Bytes::new(),
        },
    );
    let task = tokio::task::spawn_blocking(move || f(reader));
    pump(body, tx).await;
    task.await
        .map_err(|e| ToolError::internal(format!("manifest reader failed: {e}")))?
}

async fn pump(mut body: ByteStream, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let next = match body.try_next().await {
            Ok(Some(b)) => Ok(b),
            Ok(None) => return,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        let failed = next.is_err();
        // The reader stopped (done or failed): nothing more to send.
        if tx.send(next).await.is_err() || failed {
            return;
        }
    }
}

/// A file removed when dropped (the new manifest of an update, before its upload).
struct TempFile(PathBuf);

impl TempFile {
    fn new() -> Self {
        TempFile(std::env::temp_dir().join(format!("quilt-mcp-manifest-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ------------------------------------------------------------------------------------------
// Progress of a long write.

struct Tracker {
    objects: u64,
    bytes: u64,
    done_objects: AtomicU64,
    done_bytes: AtomicU64,
    sent: AtomicU64,
    /// Held while a report is sent, so reports leave in the order their values were read.
    last: tokio::sync::Mutex<Instant>,
}

impl Tracker {
    fn new(objects: u64, bytes: u64) -> Self {
        Tracker {
            objects,
            bytes,
            done_objects: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    async fn bytes(&self, n: u64) {
        self.done_bytes.fetch_add(n, Ordering::Relaxed);
        self.report(false).await;
    }

    async fn object(&self) {
        self.done_objects.fetch_add(1, Ordering::Relaxed);
        self.report(false).await;
    }

    /// Progress is objects + bytes done (both only grow), out of objects + bytes in all;
    /// reports are at most every 200 ms, except the last.
    async fn report(&self, force: bool) {
        if !progress::wanted() {
            return;
        }
        let mut at = self.last.lock().await;
        let done_o = self.done_objects.load(Ordering::Relaxed);
        let done_b = self.done_bytes.load(Ordering::Relaxed);
        let value = done_o + done_b;
        let last = done_o == self.objects && done_b == self.bytes;
        if !(force || last) && at.elapsed() < Duration::from_millis(200) {
            return;
        }
        // Progress must grow from one report to the next.
        if value <= self.sent.load(Ordering::Relaxed) && !(force && value == 0) {
            return;
        }
        self.sent.store(value, Ordering::Relaxed);
        *at = Instant::now();
        progress::report(
            value as f64,
            Some((self.objects + self.bytes) as f64),
            format!(
                "{done_o}/{} objects, {done_b}/{} bytes",
                self.objects, self.bytes
            ),
        )
        .await;
    }
}

// ------------------------------------------------------------------------------------------
// The tools.

/// A source after its HEAD.
struct Headed {
    source: Source,
    size: u64,
    etag: Option<String>,
    version_id: Option<String>,
    checksum_sha256: Option<String>,
}

/// A new entry and how it was made.
struct Built {
    entry: Entry,
    copied: bool,
    from_checksum: bool,
}

/// The new entries and what building them did.
#[derive(Default)]
struct BuiltSet {
    entries: BTreeMap<LogicalKey, Entry>,
    bytes: u64,
    copied: u64,
    referenced: u64,
    from_checksums: u64,
}

impl Packaging {
    fn ctx() -> Result<Arc<RequestContext>, ToolError> {
        Ok(RequestContext::current()?)
    }

    fn check(&self, bucket: &str, key: &str) -> Result<(), ToolError> {
        let ctx = Self::ctx()?;
        self.policy.check_key(ctx.principal(), bucket, key)
    }

    /// Grants for reading a package's pointers and manifests.
    fn check_registry_read(
        &self,
        bucket: &str,
        name: Option<&PackageName>,
    ) -> Result<(), ToolError> {
        self.check(bucket, MANIFESTS_PREFIX)?;
        match name {
            Some(n) => self.check(bucket, &registry::pointers_prefix(n)),
            None => self.check(bucket, NAMED_PACKAGES_PREFIX),
        }
    }

    /// A small object's bytes, or `None` when it does not exist.
    async fn get_small(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, ToolError> {
        aws::touched(bucket, Some(key));
        match s3.client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                aws::aws_request(out.request_id());
                let too_large = || {
                    ToolError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "s3://{bucket}/{key} is larger than {MAX_POINTER_BYTES} bytes: not a pointer"
                        ),
                    )
                };
                if out.content_length().unwrap_or(0) > MAX_POINTER_BYTES as i64 {
                    return Err(too_large());
                }
                // Limited while reading too: a length header is not a promise.
                let mut body = out.body;
                let mut bytes = Vec::new();
                while let Some(chunk) = body.try_next().await.map_err(|e| {
                    ToolError::new(
                        ErrorCode::UpstreamUnavailable,
                        format!("reading s3://{bucket}/{key} failed: {e}"),
                    )
                })? {
                    if bytes.len() + chunk.len() > MAX_POINTER_BYTES {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Some(bytes))
            }
            Err(e) => {
                let err = s3_error("GetObject", &e, s3);
                if err.code == ErrorCode::NotFound && !err.message.contains("NoSuchBucket") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn pointer(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
    ) -> Result<Option<TopHash>, ToolError> {
        let Some(body) = self.get_small(s3, bucket, key).await? else {
            return Ok(None);
        };
        registry::parse_pointer_body(&body).map(Some).map_err(|e| {
            ToolError::invalid_argument(format!(
                "pointer s3://{bucket}/{key} is not a top hash: {e}"
            ))
        })
    }

    async fn latest(
        &self,
        s3: &S3,
        bucket: &str,
        name: &PackageName,
    ) -> Result<Option<TopHash>, ToolError> {
        self.pointer(s3, bucket, &registry::latest_pointer_key(name))
            .await
    }

    /// The revision a read names: a full hash, a prefix, a timestamp pointer, or latest.
    async fn resolve(
        &self,
        s3: &S3,
        bucket: &str,
        name: &PackageName,
        top_hash: Option<&str>,
        timestamp: Option<u64>,
    ) -> Result<TopHash, ToolError> {
        match (top_hash.filter(|h| !h.is_empty()), timestamp) {
            (Some(_), Some(_)) => Err(ToolError::invalid_argument(
                "give top_hash or timestamp, not both",
            )),
            (Some(h), None) if h.len() == 64 => full_hash("top_hash", h),
            (Some(prefix), None) => self.resolve_prefix(s3, bucket, prefix).await,
            (None, Some(t)) => {
                let key = registry::revision_pointer_key(name, t);
                self.pointer(s3, bucket, &key).await?.ok_or_else(|| {
                    ToolError::new(
                        ErrorCode::NotFound,
                        format!("package {name} has no revision {t} in s3://{bucket}"),
                    )
                })
            }
            (None, None) => self.latest(s3, bucket, name).await?.ok_or_else(|| {
                ToolError::new(
                    ErrorCode::NotFound,
                    format!("package {name} does not exist in s3://{bucket} (no latest pointer)"),
                )
                .with_hint("package_list shows the registry's packages")
            }),
        }
    }

    async fn resolve_prefix(
        &self,
        s3: &S3,
        bucket: &str,
        prefix: &str,
    ) -> Result<TopHash, ToolError> {
        // Refuse a bad prefix before listing.
        if let Err(e @ TopHashError::InvalidPrefix(_)) = TopHash::resolve_prefix(prefix, []) {
            return Err(ToolError::invalid_argument(format!("top_hash: {e}")));
        }
        let keys = self
            .list_keys(s3, bucket, &format!("{MANIFESTS_PREFIX}{prefix}"), 1000)
            .await?
            .0;
        let names = keys
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(MANIFESTS_PREFIX));
        TopHash::resolve_prefix(prefix, names).map_err(|e| match e {
            TopHashError::NotFound(_) => {
                ToolError::new(ErrorCode::NotFound, format!("{e} in s3://{bucket}"))
            }
            other => ToolError::invalid_argument(format!("top_hash: {other}"))
                .with_hint("give more characters of the hash"),
        })
    }

    /// Keys (with sizes) under `prefix`, at most `cap`; whether it stopped at the cap.
    async fn list_keys(
        &self,
        s3: &S3,
        bucket: &str,
        prefix: &str,
        cap: usize,
    ) -> Result<(Vec<(String, u64)>, bool), ToolError> {
        aws::touched(bucket, Some(prefix));
        let mut out = Vec::new();
        let mut key_bytes = 0usize;
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", &e, s3))?;
            aws::aws_request(page.request_id());
            for o in page.contents() {
                if out.len() == cap || key_bytes > MAX_LISTED_KEY_BYTES {
                    return Ok((out, true));
                }
                if let Some(k) = o.key() {
                    key_bytes += k.len();
                    out.push((k.to_owned(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok((out, false)),
            }
        }
    }

    async fn manifest_body(
        &self,
        s3: &S3,
        bucket: &str,
        hash: &TopHash,
    ) -> Result<ByteStream, ToolError> {
        let key = registry::manifest_key(hash);
        aws::touched(bucket, Some(&key));
        let out = s3
            .client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| {
                let mut err = s3_error("GetObject", &e, s3);
                if err.code == ErrorCode::NotFound {
                    err.message = format!(
                        "the manifest of revision {hash} (s3://{bucket}/{key}) does not exist: {}",
                        err.message
                    );
                }
                err
            })?;
        aws::aws_request(out.request_id());
        Ok(out.body)
    }

    async fn put(
        &self,
        s3: &S3,
        bucket: &str,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<(), ToolError> {
        aws::touched(bucket, Some(key));
        let out = s3
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &e, s3))?;
        aws::aws_request(out.request_id());
        aws::written(bucket, key);
        Ok(())
    }

    // --- package_list -----------------------------------------------------------------

    async fn list(self: Arc<Self>, input: ListInput) -> Result<ListOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        self.check(&bucket, NAMED_PACKAGES_PREFIX)?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let prefix = format!("{NAMED_PACKAGES_PREFIX}{}", input.prefix);
        let (keys, truncated) = self
            .list_keys(&s3, &bucket, &prefix, MAX_POINTER_KEYS)
            .await?;
        let mut packages: BTreeMap<String, PackageSummary> = BTreeMap::new();
        for (key, _) in keys {
            let (name, is_latest) = match RegistryKey::parse(&key) {
                Some(RegistryKey::Latest(n)) => (n, true),
                Some(RegistryKey::Revision(n, _)) => (n, false),
                _ => continue,
            };
            let p = packages
                .entry(name.to_string())
                .or_insert_with(|| PackageSummary {
                    catalog_url: crate::tools::catalog::package_link(
                        &self.config,
                        &bucket,
                        name.as_str(),
                        None,
                        None,
                    ),
                    name: name.to_string(),
                    revisions: 0,
                    has_latest: false,
                });
            if is_latest {
                p.has_latest = true;
            } else {
                p.revisions += 1;
            }
        }
        Ok(ListOutput {
            registry: format!("s3://{bucket}"),
            packages: packages.into_values().collect(),
            truncated,
        })
    }

    // --- package_browse ---------------------------------------------------------------

    async fn browse(self: Arc<Self>, input: BrowseInput) -> Result<BrowseOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let limit = input.max_entries.unwrap_or(1000);
        if !(1..=MAX_BROWSE_ENTRIES).contains(&limit) {
            return Err(ToolError::invalid_argument(format!(
                "max_entries must be between 1 and {MAX_BROWSE_ENTRIES}, got {limit}"
            )));
        }
        self.check_registry_read(&bucket, Some(&name))?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let hash = self
            .resolve(
                &s3,
                &bucket,
                &name,
                input.top_hash.as_deref(),
                input.timestamp,
            )
            .await?;
        let body = self.manifest_body(&s3, &bucket, &hash).await?;
        let prefix = input.prefix.clone();
        let what = format!("the manifest of revision {hash}");
        let scan = with_body(body, move |lines| {
            scan_manifest(lines, &prefix, limit, &what)
        })
        .await?;
        if scan.top_hash != hash {
            return Err(ToolError::invalid_argument(format!(
                "the manifest s3://{bucket}/{} hashes to {}, not to its name: it was altered or is not a quilt3 manifest",
                registry::manifest_key(&hash),
                scan.top_hash
            )));
        }
        let ctx = Self::ctx()?;
        let mut entries = Vec::with_capacity(scan.entries.len());
        for e in scan.entries {
            let signed_url = if input.include_signed_urls {
                match e.physical_key() {
                    Ok(pk)
                        if self
                            .policy
                            .check_key(ctx.principal(), pk.bucket(), pk.key())
                            .is_ok() =>
                    {
                        Some(self.presign(&s3, &pk).await?)
                    }
                    _ => None,
                }
            } else {
                None
            };
            entries.push(EntryOut {
                s3_uri: e
                    .physical_key()
                    .ok()
                    .map(|pk| entry::object_of(&pk).to_string()),
                logical_key: e.logical_key.as_str().to_owned(),
                physical_key: e.physical_keys.first().cloned().unwrap_or_default(),
                size: e.size,
                hash: HashOut {
                    hash_type: e.hash.hash_type.as_str().to_owned(),
                    value: e.hash.value.clone(),
                },
                meta: JsonValue::from(e.meta.clone()).to_serde(),
                signed_url,
            });
        }
        Ok(BrowseOutput {
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(&hash.to_string()),
                None,
            ),
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: hash.to_string(),
            message: scan.header.message().map(str::to_owned),
            metadata: scan.header.user_meta().map(JsonValue::to_serde),
            workflow: scan.header.workflow().map(JsonValue::to_serde),
            truncated: scan.matched > entries.len() as u64,
            entries,
            total_entries: scan.total,
            matched_entries: scan.matched,
            matched_bytes: scan.matched_bytes,
        })
    }

    async fn presign(&self, s3: &S3, pk: &PhysicalKey) -> Result<String, ToolError> {
        let remaining = s3.resolved.credentials.expires_at().map(|e| {
            e.duration_since(SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let secs = remaining
            .map_or(SIGNED_URL_S, |r| SIGNED_URL_S.min(r))
            .max(1);
        let cfg = PresigningConfig::expires_in(Duration::from_secs(secs))
            .map_err(|e| ToolError::internal(e.to_string()))?;
        let signed = s3
            .client
            .get_object()
            .bucket(pk.bucket())
            .key(pk.key())
            .set_version_id(pk.version_id().map(str::to_owned))
            .presigned(cfg)
            .await
            .map_err(|e| ToolError::internal(format!("presigning failed: {e}")))?;
        Ok(signed.uri().to_owned())
    }

    // --- package_diff -----------------------------------------------------------------

    async fn diff(self: Arc<Self>, input: DiffInput) -> Result<DiffOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let (n1, n2) = match (&input.package1_name, &input.package2_name) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            (Some(a), None) | (None, Some(a)) => (a.clone(), a.clone()),
            (None, None) => {
                return Err(ToolError::invalid_argument(
                    "give package1_name (and package2_name to compare two packages)",
                ));
            }
        };
        let n1 = package_name("package1_name", &n1)?;
        let n2 = package_name("package2_name", &n2)?;
        self.check_registry_read(&bucket, Some(&n1))?;
        self.check_registry_read(&bucket, Some(&n2))?;
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let h1 = self
            .resolve(&s3, &bucket, &n1, input.package1_hash.as_deref(), None)
            .await?;
        let h2 = self
            .resolve(&s3, &bucket, &n2, input.package2_hash.as_deref(), None)
            .await?;
        let b1 = self.manifest_body(&s3, &bucket, &h1).await?;
        let b2 = self.manifest_body(&s3, &bucket, &h2).await?;
        let (what1, what2) = (
            format!("the manifest of revision {h1}"),
            format!("the manifest of revision {h2}"),
        );
        // Two streams merged in walk order on one blocking thread, each fed by its own pump.
        let (tx1, rx1) = tokio::sync::mpsc::channel(8);
        let (tx2, rx2) = tokio::sync::mpsc::channel(8);
        let task = tokio::task::spawn_blocking(move || {
            let r1 = BufReader::new(ChannelReader {
                rx: rx1,
                current: Bytes::new(),
            });
            let r2 = BufReader::new(ChannelReader {
                rx: rx2,
                current: Bytes::new(),
            });
            diff_streams(r1, r2, &what1, &what2)
        });
        tokio::join!(pump(b1, tx1), pump(b2, tx2));
        let mut out = task
            .await
            .map_err(|e| ToolError::internal(format!("manifest reader failed: {e}")))??;
        out.package1_hash = h1.to_string();
        out.package2_hash = h2.to_string();
        let link = |name: &PackageName, hash: &str| {
            crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(hash),
                None,
            )
        };
        out.package1_catalog_url = link(&n1, &out.package1_hash);
        out.package2_catalog_url = link(&n2, &out.package2_hash);
        Ok(out)
    }

    // --- package_create ---------------------------------------------------------------

    async fn create(self: Arc<Self>, input: CreateInput) -> Result<WriteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let sources = sources(&input.s3_uris, &input.entries, input.flatten)?;
        let meta = metadata_object("metadata", input.metadata.as_ref())?;
        let mut header = Header::new();
        header.set_user_meta(meta.map(JsonValue::from));
        header.set_message(input.message.as_deref());
        self.write_revision(
            bucket,
            name,
            header,
            sources,
            input.copy,
            input.force,
            started,
            &workflow::requested(&input.workflow),
        )
        .await
    }

    async fn create_from_s3(
        self: Arc<Self>,
        input: FromS3Input,
    ) -> Result<FromS3Output, ToolError> {
        s3uri::validate_bucket(&input.source_bucket)
            .map_err(|e| ToolError::invalid_argument(format!("source_bucket: {e}")))?;
        let bucket = registry_bucket(&input.target_registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let meta = metadata_object("metadata", input.metadata.as_ref())?;
        let include = globs("include_patterns", &input.include_patterns)?;
        let exclude = globs("exclude_patterns", &input.exclude_patterns)?;
        let ctx = Self::ctx()?;
        let prefix =
            self.policy
                .list_prefix(ctx.principal(), &input.source_bucket, &input.source_prefix)?;
        if prefix != input.source_prefix {
            return Err(ToolError::not_permitted(format!(
                "source_prefix {:?} is wider than what you may use in {}: {prefix:?}",
                input.source_prefix, input.source_bucket
            )));
        }
        if !input.dry_run {
            self.check_registry_write(&bucket, &name, input.copy)?;
        }
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let (keys, capped) = self
            .list_keys(&s3, &input.source_bucket, &prefix, MAX_LISTED_OBJECTS)
            .await?;
        if capped {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "more than {MAX_LISTED_OBJECTS} objects (or {} MiB of keys) under s3://{}/{prefix}",
                    MAX_LISTED_KEY_BYTES >> 20,
                    input.source_bucket
                ),
            )
            .with_hint("use a narrower source_prefix"));
        }
        let mut planned = Vec::new();
        let mut excluded = 0u64;
        for (key, size) in keys {
            let rel = &key[prefix.len()..];
            // Folder markers and a registry's own records are not package contents.
            if rel.is_empty() || key.ends_with('/') || key.starts_with(".quilt/") {
                excluded += 1;
                continue;
            }
            let included = include.as_ref().is_none_or(|g| g.is_match(rel));
            let left_out = exclude.as_ref().is_some_and(|g| g.is_match(rel));
            if !included || left_out {
                excluded += 1;
                continue;
            }
            planned.push((key.clone(), rel.to_owned(), size));
        }
        if planned.len() > MAX_NEW_ENTRIES {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} objects match; one package_create_from_s3 takes at most {MAX_NEW_ENTRIES}",
                    planned.len()
                ),
            )
            .with_hint("narrow source_prefix or include_patterns"));
        }
        let matched = planned.len() as u64;
        let matched_bytes = planned.iter().map(|p| p.2).sum();
        if input.dry_run {
            let truncated = planned.len() > MAX_DRY_RUN_SHOWN;
            return Ok(FromS3Output {
                dry_run: true,
                matched,
                matched_bytes,
                excluded,
                planned: planned
                    .into_iter()
                    .take(MAX_DRY_RUN_SHOWN)
                    .map(|(key, rel, size)| PlannedEntry {
                        logical_key: rel,
                        s3_uri: format!("s3://{}/{key}", input.source_bucket),
                        size,
                    })
                    .collect(),
                truncated,
                created: None,
            });
        }
        let mut sources = Vec::with_capacity(planned.len());
        for (key, rel, _) in planned {
            let logical_key = LogicalKey::new(rel.as_str()).map_err(|e| {
                ToolError::invalid_argument(format!("s3://{}/{key}: {e}", input.source_bucket))
                    .with_hint("exclude it with exclude_patterns")
            })?;
            sources.push(Source {
                uri: s3uri::S3Uri {
                    bucket: input.source_bucket.clone(),
                    key,
                    version_id: None,
                },
                logical_key,
                meta: JsonObject::new(),
            });
        }
        let mut sorted: Vec<&LogicalKey> = sources.iter().map(|s| &s.logical_key).collect();
        sorted.sort();
        let mut check = quilt_package::WalkOrderCheck::default();
        for k in sorted {
            check.push(k).map_err(|e| key_set_error(&e))?;
        }
        let mut header = Header::new();
        header.set_user_meta(meta.map(JsonValue::from));
        header.set_message(input.message.as_deref());
        let created = self
            .write_revision(
                bucket,
                name,
                header,
                sources,
                input.copy,
                input.force,
                started,
                &workflow::requested(&input.workflow),
            )
            .await?;
        Ok(FromS3Output {
            dry_run: false,
            matched,
            matched_bytes,
            excluded,
            planned: Vec::new(),
            truncated: false,
            created: Some(created),
        })
    }

    fn check_registry_write(
        &self,
        bucket: &str,
        name: &PackageName,
        copy: bool,
    ) -> Result<(), ToolError> {
        self.check(bucket, MANIFESTS_PREFIX)?;
        self.check(bucket, &registry::pointers_prefix(name))?;
        if copy {
            self.check(bucket, &format!("{name}/"))?;
        }
        Ok(())
    }

    fn check_sources(&self, sources: &[Source]) -> Result<(), ToolError> {
        for s in sources {
            self.check(&s.uri.bucket, &s.uri.key)?;
        }
        Ok(())
    }

    /// Writes a revision made of `sources` only (create).
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per tool; a struct would only rename them"
    )]
    async fn write_revision(
        &self,
        bucket: String,
        name: PackageName,
        mut header: Header,
        sources: Vec<Source>,
        copy: bool,
        force: bool,
        started: Option<TopHash>,
        requested: &quilt_workflows::Requested,
    ) -> Result<WriteOutput, ToolError> {
        preflight(&header, &sources)?;
        self.check_registry_write(&bucket, &name, copy)?;
        self.check_sources(&sources)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        // The registry's workflows, checked before anything is written (as quilt3 does, before
        // the conflict check); the entries check runs once every source has been HEADed.
        let gov = self.govern(&read, &bucket, requested).await?;
        let failures = gov.package_failures(&name, header.message(), header.user_meta());
        if !gov.needs_entries() {
            gov.refuse(&failures)?;
        }
        workflow::set_record(&mut header, gov.record());
        let check = |headed: &[Headed]| {
            let mut all = failures.clone();
            all.extend(gov.entry_failures(&workflow::headed_views(headed)));
            gov.refuse(&all)
        };
        let latest = self.latest(&read, &bucket, &name).await?;
        if !force && latest.is_some() && latest != started {
            return Err(conflict(&name, latest.as_ref(), started.as_ref()));
        }
        if let Some(latest) = latest.as_ref().filter(|_| force) {
            crate::confirm::confirm(&format!(
                "Force a new latest revision of {name} in s3://{bucket}, replacing latest {latest} whatever it is."
            ))
            .await?;
        }
        let write = self.aws.s3(AccessIntent::Write).await?;
        let built = self
            .build_entries(&read, &write, &bucket, &name, sources, copy, &check)
            .await?;
        let mut manifest = Manifest::new(header);
        for e in built.entries.into_values() {
            manifest.insert(e).map_err(|e| key_set_error(&e))?;
        }
        let bytes = manifest.to_bytes().map_err(write_error)?;
        let top_hash = manifest.top_hash();
        let entries = manifest.len() as u64;
        let previous = self
            .commit(
                &read,
                &write,
                &bucket,
                &name,
                &top_hash,
                ByteStream::from(bytes),
                latest,
                force,
            )
            .await?;
        Ok(WriteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: top_hash.to_string(),
            previous_top_hash: previous.1.map(|h| h.to_string()),
            timestamp: previous.0,
            entries,
            added: entries,
            replaced: 0,
            removed: 0,
            bytes: built.bytes,
            copied: built.copied,
            referenced: built.referenced,
            hashes_from_checksums: built.from_checksums,
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(&top_hash.to_string()),
                None,
            ),
        })
    }

    /// Manifest, revision pointer, latest — in quilt3's order — after checking once more that
    /// latest has not moved. Returns the timestamp and the latest it replaced.
    #[expect(clippy::too_many_arguments, reason = "the pieces of one commit")]
    async fn commit(
        &self,
        read: &S3,
        write: &S3,
        bucket: &str,
        name: &PackageName,
        top_hash: &TopHash,
        manifest: ByteStream,
        expected_latest: Option<TopHash>,
        force: bool,
    ) -> Result<(u64, Option<TopHash>), ToolError> {
        // A package task's run stops here if it was cancelled; past this point it is not
        // (package_tasks.rs). Outside a task this does nothing.
        crate::package_tasks::commit_point().await?;
        let now = self.latest(read, bucket, name).await?;
        if !force && now != expected_latest {
            return Err(conflict(name, now.as_ref(), expected_latest.as_ref()));
        }
        self.put(
            write,
            bucket,
            &registry::manifest_key(top_hash),
            manifest,
            "application/jsonl",
        )
        .await?;
        let t = registry::unix_seconds(SystemTime::now());
        let body = registry::pointer_body(top_hash);
        self.put(
            write,
            bucket,
            &registry::revision_pointer_key(name, t),
            ByteStream::from(body.clone().into_bytes()),
            "text/plain",
        )
        .await?;
        self.put(
            write,
            bucket,
            &registry::latest_pointer_key(name),
            ByteStream::from(body.into_bytes()),
            "text/plain",
        )
        .await?;
        Ok((t, now))
    }

    /// HEADs every source (a missing one fails before anything is copied), runs `check` on
    /// them (the workflow's entries check), then copies or references each, `PARALLELISM` at
    /// a time, hashing the bytes the entry points to.
    #[expect(clippy::too_many_arguments, reason = "the pieces of one build")]
    async fn build_entries(
        &self,
        read: &S3,
        write: &S3,
        bucket: &str,
        name: &PackageName,
        sources: Vec<Source>,
        copy: bool,
        check: &(dyn Fn(&[Headed]) -> Result<(), ToolError> + Sync),
    ) -> Result<BuiltSet, ToolError> {
        let headed: Vec<Headed> = futures::stream::iter(sources)
            .map(|s| self.head(read, s))
            .buffer_unordered(PARALLELISM)
            .try_collect()
            .await?;
        check(&headed)?;
        let tracker = Tracker::new(headed.len() as u64, headed.iter().map(|h| h.size).sum());
        tracker.report(true).await;
        let tracker = &tracker;
        let built: Vec<Built> = futures::stream::iter(headed)
            .map(|h| async move {
                let in_registry = h.source.uri.bucket == bucket;
                let b = if copy && !in_registry {
                    self.copy_in(read, write, bucket, name, h, tracker).await?
                } else {
                    self.reference(read, h, tracker).await?
                };
                tracker.object().await;
                Ok::<_, ToolError>(b)
            })
            .buffer_unordered(PARALLELISM)
            .try_collect()
            .await?;
        let mut set = BuiltSet::default();
        for b in built {
            set.bytes += b.entry.size;
            if b.copied {
                set.copied += 1;
            } else {
                set.referenced += 1;
            }
            if b.from_checksum {
                set.from_checksums += 1;
            }
            set.entries.insert(b.entry.logical_key.clone(), b.entry);
        }
        Ok(set)
    }

    async fn head(&self, s3: &S3, source: Source) -> Result<Headed, ToolError> {
        let u = &source.uri;
        aws::touched(&u.bucket, Some(&u.key));
        let out = s3
            .client
            .head_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(u.version_id.clone())
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| missing(s3_error("HeadObject", &e, s3), u))?;
        aws::aws_request(out.request_id());
        Ok(Headed {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().map(str::to_owned),
            version_id: u
                .version_id
                .clone()
                .or_else(|| real_version(out.version_id())),
            checksum_sha256: out.checksum_sha256().map(str::to_owned),
            source,
        })
    }

    /// An entry for the object where it is (pinned to its version when it has one).
    async fn reference(&self, s3: &S3, h: Headed, tracker: &Tracker) -> Result<Built, ToolError> {
        let u = &h.source.uri;
        let pk = PhysicalKey::new(u.bucket.as_str(), u.key.as_str(), h.version_id.clone())
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        // A multipart object's checksum is a composite even where HEAD drops its `-N`
        // (moto does); its ETag always has the `-N`: trust only single-part objects.
        let single_part = h.etag.as_deref().is_some_and(|e| !e.contains('-'));
        let exact = h
            .checksum_sha256
            .as_deref()
            .filter(|_| single_part)
            .and_then(|c| ObjectHash::from_s3_full_object_sha256(c, h.size));
        let (hash, from_checksum) = match exact {
            Some(hash) => {
                tracker.bytes(h.size).await;
                (hash, true)
            }
            None => {
                // Unversioned: the ETag makes sure the bytes hashed are the ones HEAD saw.
                let if_match = h.version_id.is_none().then(|| h.etag.clone()).flatten();
                let hash = self
                    .hash_object(
                        s3,
                        u,
                        h.version_id.as_deref(),
                        if_match.as_deref(),
                        h.size,
                        tracker,
                    )
                    .await?;
                (hash, false)
            }
        };
        Ok(Built {
            entry: Entry::new(h.source.logical_key, &pk, h.size, hash, h.source.meta),
            copied: false,
            from_checksum,
        })
    }

    /// Copies the object to `<name>/<logical key>` in the registry and hashes the copy.
    async fn copy_in(
        &self,
        read: &S3,
        write: &S3,
        bucket: &str,
        name: &PackageName,
        h: Headed,
        tracker: &Tracker,
    ) -> Result<Built, ToolError> {
        let u = &h.source.uri;
        let dest = registry::object_key(name, &h.source.logical_key);
        let copy_source = PhysicalKey::new(u.bucket.as_str(), u.key.as_str(), h.version_id.clone())
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?
            .to_string();
        let copy_source = copy_source.trim_start_matches("s3://").to_owned();
        aws::touched(bucket, Some(&dest));
        let (etag, version, checksum) = if h.size > BASE_CHUNK_SIZE {
            let (e, v) = self
                .multipart_copy(write, &h, bucket, &dest, &copy_source)
                .await?;
            (e, v, None)
        } else {
            let out = write
                .client
                .copy_object()
                .bucket(bucket)
                .key(&dest)
                .copy_source(&copy_source)
                .set_copy_source_if_match(h.etag.clone())
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .set_server_side_encryption(self.sse.mode.clone())
                .set_ssekms_key_id(self.sse.kms_key_id.clone())
                .send()
                .await
                .map_err(|e| missing(s3_error("CopyObject", &e, write), u))?;
            aws::aws_request(out.request_id());
            let result = out.copy_object_result();
            (
                result.and_then(|r| r.e_tag()).map(str::to_owned),
                real_version(out.version_id()),
                result.and_then(|r| r.checksum_sha256()).map(str::to_owned),
            )
        };
        aws::written(bucket, &dest);
        let dest_uri = s3uri::S3Uri {
            bucket: bucket.to_owned(),
            key: dest.clone(),
            version_id: version.clone(),
        };
        let exact = checksum
            .as_deref()
            .and_then(|c| ObjectHash::from_s3_full_object_sha256(c, h.size));
        let (hash, from_checksum) = match exact {
            Some(hash) => {
                tracker.bytes(h.size).await;
                (hash, true)
            }
            None => {
                let if_match = version.is_none().then_some(etag).flatten();
                let hash = self
                    .hash_object(
                        read,
                        &dest_uri,
                        version.as_deref(),
                        if_match.as_deref(),
                        h.size,
                        tracker,
                    )
                    .await?;
                (hash, false)
            }
        };
        let pk = PhysicalKey::new(bucket, dest, version)
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        Ok(Built {
            entry: Entry::new(h.source.logical_key, &pk, h.size, hash, h.source.meta),
            copied: true,
            from_checksum,
        })
    }

    /// UploadPartCopy in quilt3's chunk size (so a real S3's composite checksum lines up
    /// with the Quilt hash), every part pinned to the ETag HEAD saw.
    async fn multipart_copy(
        &self,
        s3: &S3,
        h: &Headed,
        bucket: &str,
        dest: &str,
        copy_source: &str,
    ) -> Result<(Option<String>, Option<String>), ToolError> {
        let created = s3
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(dest)
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone())
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", &e, s3))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let part = chunk_size(h.size);
        let ranges: Vec<(i32, u64, u64)> = (0..h.size.div_ceil(part))
            .map(|i| {
                let start = i * part;
                (i as i32 + 1, start, (start + part).min(h.size) - 1)
            })
            .collect();
        let parts: Result<Vec<CompletedPart>, ToolError> = futures::stream::iter(ranges)
            .map(|(number, start, end)| {
                let upload_id = &upload_id;
                async move {
                    let out = s3
                        .client
                        .upload_part_copy()
                        .bucket(bucket)
                        .key(dest)
                        .upload_id(upload_id)
                        .part_number(number)
                        .copy_source(copy_source)
                        .copy_source_range(format!("bytes={start}-{end}"))
                        .set_copy_source_if_match(h.etag.clone())
                        .send()
                        .await
                        .map_err(|e| missing(s3_error("UploadPartCopy", &e, s3), &h.source.uri))?;
                    Ok::<_, ToolError>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(
                                out.copy_part_result()
                                    .and_then(|r| r.e_tag())
                                    .map(str::to_owned),
                            )
                            .build(),
                    )
                }
            })
            .buffered(PART_PARALLELISM)
            .try_collect()
            .await;
        complete_or_abort(s3, bucket, dest, &upload_id, parts).await
    }

    /// `sha2-256-chunked` of an object's bytes, streamed.
    async fn hash_object(
        &self,
        s3: &S3,
        u: &s3uri::S3Uri,
        version_id: Option<&str>,
        if_match: Option<&str>,
        size: u64,
        tracker: &Tracker,
    ) -> Result<ObjectHash, ToolError> {
        let out = s3
            .client
            .get_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(version_id.map(str::to_owned))
            .set_if_match(if_match.map(str::to_owned))
            .send()
            .await
            .map_err(|e| missing(s3_error("GetObject", &e, s3), u))?;
        aws::aws_request(out.request_id());
        let mut hasher = ChunkedSha256Hasher::new(size);
        let mut body = out.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                format!("reading s3://{}/{} failed: {e}", u.bucket, u.key),
            )
        })? {
            hasher.update(&chunk);
            tracker.bytes(chunk.len() as u64).await;
        }
        hasher.finish().map_err(|e| {
            ToolError::new(
                ErrorCode::Conflict,
                format!("s3://{}/{} changed while it was read: {e}", u.bucket, u.key),
            )
        })
    }

    // --- package_update ---------------------------------------------------------------

    async fn update(self: Arc<Self>, input: UpdateInput) -> Result<WriteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let started = input
            .top_hash
            .as_deref()
            .map(|h| full_hash("top_hash", h))
            .transpose()?;
        let sources = sources(&input.s3_uris, &input.entries, input.flatten)?;
        let merge = metadata_object("metadata", input.metadata.as_ref())?;
        let mut remove = BTreeSet::new();
        for (i, k) in input.remove.iter().enumerate() {
            let key = LogicalKey::new(k.as_str())
                .map_err(|e| ToolError::invalid_argument(format!("remove[{i}]: {e}")))?;
            if sources.iter().any(|s| s.logical_key == key) {
                return Err(ToolError::invalid_argument(format!(
                    "remove[{i}]: {k:?} is also being added"
                )));
            }
            remove.insert(key);
        }
        if sources.is_empty() && remove.is_empty() && merge.is_none() && input.message.is_none() {
            return Err(ToolError::invalid_argument(
                "nothing to change: give s3_uris, entries, remove, metadata or message",
            ));
        }
        let mut stand_in = Header::new();
        stand_in.set_user_meta(merge.clone().map(JsonValue::from));
        stand_in.set_message(input.message.as_deref());
        preflight(&stand_in, &sources)?;
        self.check_registry_read(&bucket, Some(&name))?;
        self.check_registry_write(&bucket, &name, input.copy)?;
        self.check_sources(&sources)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        let latest = self.latest(&read, &bucket, &name).await?.ok_or_else(|| {
            ToolError::new(
                ErrorCode::NotFound,
                format!("package {name} does not exist in s3://{bucket}"),
            )
            .with_hint("create it with package_create")
        })?;
        let base = started.unwrap_or(latest);
        if !input.force && base != latest {
            return Err(conflict(&name, Some(&latest), Some(&base)));
        }
        if input.force {
            crate::confirm::confirm(&format!(
                "Force a new latest revision of {name} in s3://{bucket} built on {base}, replacing latest {latest} whatever it is."
            ))
            .await?;
        }
        // Read the base revision's header and check the removals before copying anything.
        let body = self.manifest_body(&read, &bucket, &base).await?;
        let what = format!("the manifest of revision {base}");
        let wanted: Vec<LogicalKey> = remove.iter().cloned().collect();
        let what2 = what.clone();
        let found = with_body(body, move |lines| find_keys(lines, &wanted, &what2)).await?;
        if let Some(k) = remove.iter().find(|k| !found.contains(*k)) {
            return Err(ToolError::invalid_argument(format!(
                "remove: {:?} is not in revision {base} of {name}",
                k.as_str()
            )));
        }
        // The registry's workflows, on the revision this update makes (see workflow.rs).
        let gov = self
            .govern(&read, &bucket, &workflow::requested(&input.workflow))
            .await?;
        let (failures, base_entries) = if gov.applies() {
            let body = self.manifest_body(&read, &bucket, &base).await?;
            let (what2, need) = (what.clone(), gov.needs_entries());
            let (base_header, base_entries) =
                with_body(body, move |lines| workflow::scan_base(lines, need, &what2)).await?;
            let meta = workflow::merged_meta(base_header.user_meta(), merge.as_ref());
            let failures = gov.package_failures(&name, input.message.as_deref(), meta.as_ref());
            if !need {
                gov.refuse(&failures)?;
            }
            (failures, base_entries)
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let check = |headed: &[Headed]| {
            if !gov.needs_entries() {
                return Ok(());
            }
            let mut all = failures.clone();
            let views = workflow::update_views(base_entries.clone(), &remove, headed);
            all.extend(gov.entry_failures(&views));
            gov.refuse(&all)
        };
        let record = gov.record();
        let write = self.aws.s3(AccessIntent::Write).await?;
        let built = self
            .build_entries(&read, &write, &bucket, &name, sources, input.copy, &check)
            .await?;
        let (bytes, copied, referenced, from_checksums) = (
            built.bytes,
            built.copied,
            built.referenced,
            built.from_checksums,
        );
        let body = self.manifest_body(&read, &bucket, &base).await?;
        let file = TempFile::new();
        let path = file.0.clone();
        let message = input.message.clone();
        let merged = with_body(body, move |lines| {
            merge_manifest(
                lines,
                &path,
                built.entries,
                &remove,
                merge,
                message.as_deref(),
                record,
                &what,
            )
        })
        .await?;
        let size = std::fs::metadata(&file.0).map(|m| m.len()).unwrap_or(0);
        if size > MAX_MANIFEST_BYTES {
            return Err(ToolError::new(
                ErrorCode::TooLarge,
                format!("the new manifest is {size} bytes, over the 5 GiB a single upload takes"),
            ));
        }
        let stream = ByteStream::from_path(&file.0)
            .await
            .map_err(|e| ToolError::internal(format!("reading the new manifest failed: {e}")))?;
        let (t, previous) = self
            .commit(
                &read,
                &write,
                &bucket,
                &name,
                &merged.top_hash,
                stream,
                Some(latest),
                input.force,
            )
            .await?;
        drop(file);
        Ok(WriteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            top_hash: merged.top_hash.to_string(),
            previous_top_hash: previous.map(|h| h.to_string()),
            timestamp: t,
            entries: merged.entries,
            added: merged.added,
            replaced: merged.replaced,
            removed: merged.removed,
            bytes,
            copied,
            referenced,
            hashes_from_checksums: from_checksums,
            catalog_url: crate::tools::catalog::package_link(
                &self.config,
                &bucket,
                name.as_str(),
                Some(&merged.top_hash.to_string()),
                None,
            ),
        })
    }

    // --- package_delete ---------------------------------------------------------------

    async fn delete(self: Arc<Self>, input: DeleteInput) -> Result<DeleteOutput, ToolError> {
        let bucket = registry_bucket(&input.registry)?;
        let name = package_name("package_name", &input.package_name)?;
        let prefix = registry::pointers_prefix(&name);
        self.check(&bucket, &prefix)?;
        let read = self.aws.s3(AccessIntent::Read).await?;
        let (keys, _) = self
            .list_keys(&read, &bucket, &prefix, MAX_POINTER_KEYS)
            .await?;
        // Only this package's own pointers (not those of a name it is a prefix of).
        let mut pointers: Vec<String> = keys
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| match RegistryKey::parse(k) {
                Some(RegistryKey::Latest(n) | RegistryKey::Revision(n, _)) => n == name,
                _ => false,
            })
            .collect();
        if pointers.is_empty() {
            return Err(ToolError::new(
                ErrorCode::NotFound,
                format!("package {name} does not exist in s3://{bucket}"),
            ));
        }
        // latest first: a failure part-way leaves no latest rather than a half-deleted one.
        pointers.sort_by_key(|k| !k.ends_with(&format!("/{LATEST}")));
        crate::confirm::confirm(&format!(
            "Delete package {name} from s3://{bucket} ({} revision pointers; manifests and data stay).",
            pointers.len()
        ))
        .await?;
        let write = self.aws.s3(AccessIntent::Write).await?;
        for key in &pointers {
            aws::touched(&bucket, Some(key));
            let out = write
                .client
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| s3_error("DeleteObject", &e, &write))?;
            aws::aws_request(out.request_id());
        }
        Ok(DeleteOutput {
            registry: format!("s3://{bucket}"),
            package_name: name.to_string(),
            deleted_pointers: pointers,
        })
    }
}

/// Writes the header and a stand-in line per source to nowhere, so a line quilt3 would
/// refuse (over 1,000,000 bytes: huge metadata) is refused before anything is copied. The
/// real lines differ only by the hash and version (a few dozen bytes).
fn preflight(header: &Header, sources: &[Source]) -> Result<(), ToolError> {
    let mut w = ManifestWriter::new(std::io::sink(), header).map_err(write_error)?;
    let mut sorted: Vec<&Source> = sources.iter().collect();
    sorted.sort_by(|a, b| a.logical_key.cmp(&b.logical_key));
    let stand_in = ObjectHash::sha2_256_chunked(b"");
    for s in sorted {
        let pk = PhysicalKey::new(
            s.uri.bucket.as_str(),
            s.uri.key.as_str(),
            s.uri.version_id.clone(),
        )
        .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        let e = Entry::new(
            s.logical_key.clone(),
            &pk,
            0,
            stand_in.clone(),
            s.meta.clone(),
        );
        w.write_entry(&e).map_err(write_error)?;
    }
    Ok(())
}

/// A missing source object, named.
fn missing(mut e: ToolError, u: &s3uri::S3Uri) -> ToolError {
    if e.code == ErrorCode::NotFound {
        e.message = format!(
            "source object does not exist (deleted or moved?): {}: {}",
            u.missing(),
            e.message
        );
        if u.looks_percent_encoded() {
            e.hint = Some(s3uri::PERCENT_HINT.to_owned());
        }
    } else if e.message.contains("PreconditionFailed") {
        e.code = ErrorCode::Conflict;
        e.message = format!(
            "source object {u} changed while it was packaged: {}",
            e.message
        );
    }
    e
}

fn globs(field: &str, patterns: &[String]) -> Result<Option<globset::GlobSet>, ToolError> {
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

// ------------------------------------------------------------------------------------------
// Blocking manifest passes.

struct Scan {
    header: Header,
    top_hash: TopHash,
    entries: Vec<Entry>,
    total: u64,
    matched: u64,
    matched_bytes: u64,
}

fn scan_manifest(
    lines: impl BufRead,
    prefix: &str,
    limit: usize,
    what: &str,
) -> Result<Scan, ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let header = reader.header().clone();
    let mut hasher = TopHasher::new(&header);
    let (mut entries, mut total, mut matched, mut matched_bytes) = (Vec::new(), 0, 0, 0);
    let mut held = 0usize;
    let mut full = false;
    for e in reader.entries() {
        let e = e.map_err(|e| manifest_error(what, e))?;
        hasher
            .push(&e)
            .map_err(|e| manifest_error(what, ManifestError::KeySet { line: 0, source: e }))?;
        total += 1;
        if e.logical_key.as_str().starts_with(prefix) {
            matched += 1;
            matched_bytes += e.size;
            if entries.len() < limit && !full {
                let size = entry_bytes(&e);
                if entries.is_empty() || held + size <= MAX_BROWSE_BYTES {
                    held += size;
                    entries.push(e);
                } else {
                    // Later entries are counted, not held: the page is full.
                    full = true;
                }
            }
        }
    }
    Ok(Scan {
        header,
        top_hash: hasher.finish(),
        entries,
        total,
        matched,
        matched_bytes,
    })
}

/// About how many bytes an entry takes, as its manifest line does.
fn entry_bytes(e: &Entry) -> usize {
    e.logical_key.as_str().len()
        + e.physical_keys.iter().map(String::len).sum::<usize>()
        + e.hash.value.len()
        + JsonValue::Object(e.meta.clone()).to_quilt_string().len()
        + 64
}

fn find_keys(
    lines: impl BufRead,
    wanted: &[LogicalKey],
    what: &str,
) -> Result<BTreeSet<LogicalKey>, ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let mut found = BTreeSet::new();
    for e in reader.entries() {
        let e = e.map_err(|e| manifest_error(what, e))?;
        if wanted.binary_search(&e.logical_key).is_ok() {
            found.insert(e.logical_key);
        }
    }
    Ok(found)
}

struct Merged {
    top_hash: TopHash,
    entries: u64,
    added: u64,
    replaced: u64,
    removed: u64,
}

/// Streams the old manifest into a new one at `path`: new entries merged in walk order,
/// removed ones left out, `merge` merged into `user_meta`, the workflow record and the
/// message set.
#[expect(clippy::too_many_arguments, reason = "the pieces of one revision")]
fn merge_manifest(
    lines: impl BufRead,
    path: &std::path::Path,
    mut new: BTreeMap<LogicalKey, Entry>,
    remove: &BTreeSet<LogicalKey>,
    merge: Option<JsonObject>,
    message: Option<&str>,
    workflow: Option<JsonValue>,
    what: &str,
) -> Result<Merged, ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let mut header = reader.header().clone();
    if let Some(m) = merge {
        let mut meta = match header.user_meta() {
            Some(JsonValue::Object(o)) => o.clone(),
            _ => JsonObject::new(),
        };
        for (k, v) in m.iter() {
            meta.insert(k, v.clone());
        }
        header.set_user_meta(Some(JsonValue::from(meta)));
    }
    // quilt3 sets or pops `workflow` in place (an existing field keeps its position).
    header.set_workflow(workflow);
    header.set_message(message);
    let file = std::fs::File::create(path)
        .map_err(|e| ToolError::internal(format!("cannot write a temporary manifest: {e}")))?;
    let mut w = ManifestWriter::new(std::io::BufWriter::new(file), &header).map_err(write_error)?;
    let mut n = Merged {
        top_hash: TopHasher::new(&header).finish(),
        entries: 0,
        added: 0,
        replaced: 0,
        removed: 0,
    };
    for record in reader {
        match record.map_err(|e| manifest_error(what, e))? {
            Record::Dir(d) => w.write_dir(&d).map_err(write_error)?,
            Record::Entry(old) => {
                emit_new_before(&mut w, &mut new, Some(&old.logical_key), &mut n)?;
                if remove.contains(&old.logical_key) {
                    n.removed += 1;
                    continue;
                }
                match new.remove(&old.logical_key) {
                    Some(e) => {
                        w.write_entry(&e).map_err(write_error)?;
                        n.replaced += 1;
                    }
                    None => w.write_entry(&old).map_err(write_error)?,
                }
                n.entries += 1;
            }
        }
    }
    emit_new_before(&mut w, &mut new, None, &mut n)?;
    let (out, top_hash) = w.finish().map_err(write_error)?;
    drop(out);
    n.top_hash = top_hash;
    Ok(n)
}

/// Writes the new entries that come before `key` in walk order (all of them for `None`).
fn emit_new_before<W: std::io::Write>(
    w: &mut ManifestWriter<W>,
    new: &mut BTreeMap<LogicalKey, Entry>,
    key: Option<&LogicalKey>,
    n: &mut Merged,
) -> Result<(), ToolError> {
    while let Some(first) = new.first_key_value().map(|(k, _)| k.clone()) {
        if key.is_some_and(|k| first >= *k) {
            break;
        }
        if let Some(e) = new.remove(&first) {
            w.write_entry(&e).map_err(write_error)?;
            n.entries += 1;
            n.added += 1;
        }
    }
    Ok(())
}

fn diff_streams(
    r1: impl BufRead,
    r2: impl BufRead,
    what1: &str,
    what2: &str,
) -> Result<DiffOutput, ToolError> {
    use std::cmp::Ordering as O;
    let m1 = ManifestReader::new(r1).map_err(|e| manifest_error(what1, e))?;
    let m2 = ManifestReader::new(r2).map_err(|e| manifest_error(what2, e))?;
    let metadata_changed = m1.header().user_meta() != m2.header().user_meta();
    let mut a = m1.entries().peekable();
    let mut b = m2.entries().peekable();
    let mut out = DiffOutput {
        package1_hash: String::new(),
        package2_hash: String::new(),
        added: Vec::new(),
        removed: Vec::new(),
        modified: Vec::new(),
        added_count: 0,
        removed_count: 0,
        modified_count: 0,
        metadata_changed,
        truncated: false,
        package1_catalog_url: None,
        package2_catalog_url: None,
    };
    let push = |list: &mut Vec<String>, count: &mut u64, truncated: &mut bool, k: &LogicalKey| {
        *count += 1;
        if list.len() < MAX_DIFF_KEYS {
            list.push(k.as_str().to_owned());
        } else {
            *truncated = true;
        }
    };
    loop {
        // Surface read errors first.
        if let Some(Err(_)) = a.peek() {
            return Err(a
                .next()
                .and_then(Result::err)
                .map_or_else(|| ToolError::internal("diff"), |e| manifest_error(what1, e)));
        }
        if let Some(Err(_)) = b.peek() {
            return Err(b
                .next()
                .and_then(Result::err)
                .map_or_else(|| ToolError::internal("diff"), |e| manifest_error(what2, e)));
        }
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => O::Less,
            (None, Some(_)) => O::Greater,
            (Some(Ok(x)), Some(Ok(y))) => x.logical_key.cmp(&y.logical_key),
            _ => continue,
        };
        match order {
            O::Less => {
                if let Some(Ok(x)) = a.next() {
                    push(
                        &mut out.removed,
                        &mut out.removed_count,
                        &mut out.truncated,
                        &x.logical_key,
                    );
                }
            }
            O::Greater => {
                if let Some(Ok(y)) = b.next() {
                    push(
                        &mut out.added,
                        &mut out.added_count,
                        &mut out.truncated,
                        &y.logical_key,
                    );
                }
            }
            O::Equal => {
                if let (Some(Ok(x)), Some(Ok(y))) = (a.next(), b.next())
                    && !x.same_content_and_meta(&y)
                {
                    push(
                        &mut out.modified,
                        &mut out.modified_count,
                        &mut out.truncated,
                        &x.logical_key,
                    );
                }
            }
        }
    }
    Ok(out)
}
