//! The packaging tools' arguments and outputs. Their JSON Schemas (derived by `schemars`) are
//! the tools' input and output schemas in `tools/list`, so a doc comment here is text a client
//! reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::workflow;

/// Arguments of `package_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// Only names starting with this (e.g. "alice/").
    #[serde(default)]
    pub prefix: String,
}

/// A package in a registry.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PackageSummary {
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
pub(crate) struct ListOutput {
    pub registry: String,
    pub packages: Vec<PackageSummary>,
    /// More than shown.
    pub truncated: bool,
}

/// Arguments of `package_browse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrowseInput {
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
pub(crate) struct HashOut {
    #[serde(rename = "type")]
    pub hash_type: String,
    pub value: String,
}

/// A package entry.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EntryOut {
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
pub(crate) struct BrowseOutput {
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
pub(crate) struct EntryInput {
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
pub(crate) struct CreateInput {
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
pub(crate) struct WriteOutput {
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
pub(crate) struct UpdateInput {
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
pub(crate) struct DeleteInput {
    /// The registry, s3://bucket.
    pub registry: String,
    /// user/package.
    pub package_name: String,
}

/// Pointers deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteOutput {
    pub registry: String,
    pub package_name: String,
    pub deleted_pointers: Vec<String>,
}

/// Arguments of `package_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffInput {
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
pub(crate) struct DiffOutput {
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
pub(crate) struct FromS3Input {
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
pub(crate) struct PlannedEntry {
    pub logical_key: String,
    pub s3_uri: String,
    pub size: u64,
}

/// What `package_create_from_s3` did or would do.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FromS3Output {
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
