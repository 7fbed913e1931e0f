//! The bucket tools: governed S3 access for MCP clients, with the caller's own credentials.
//!
//! Every tool first asks [`BucketPolicy`] whether the caller may touch the bucket (and key or
//! prefix) — a refusal costs no AWS call — then gets a client for the caller with the right
//! intent from [`Aws`]. Reads are bounded (ranged GETs, never a whole body read to truncate);
//! writes carry the configured server-side encryption; presigned URLs are computed locally
//! from the caller's credentials, one credential resolution per call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, CompletedPart};
use base64::Engine as _;
use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::s3uri::{self, S3Uri};
use quilt_mcp_aws::{AccessIntent, Caller};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::{self, Aws};
use crate::grants::BucketPolicy;
use crate::permissions::{BucketAccess, PermissionEngine};
use crate::s3::{complete_or_abort, object_error, real_version, s3_error};
use crate::scopes::Scope;
use crate::settings::{Settings, Sse};
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;

const READ: Scope = Scope::Read;
const WRITE: Scope = Scope::Write;
const MAX_TEXT_BYTES: u64 = 1024 * 1024;
const MAX_FETCH_BYTES: u64 = 4 * 1024 * 1024;
const MAX_LINK_S: u64 = 7 * 24 * 3600;
const MAX_PUT_ITEMS: usize = 100;
const MULTIPART_PART_BYTES: usize = 8 * 1024 * 1024;

/// What the bucket tools share.
struct Buckets {
    aws: Arc<Aws>,
    engine: Arc<PermissionEngine>,
    policy: BucketPolicy,
    sse: Sse,
    multipart_threshold: usize,
    max_put_bytes: usize,
    /// The Quilt catalog, when configured: bucket configs in `bucket_list`, catalog URLs.
    catalog: Option<Arc<crate::tools::catalog::Catalog>>,
    config: Arc<Settings>,
}

pub(crate) fn register(
    registry: &mut ToolRegistry,
    aws: &Arc<Aws>,
    config: &Settings,
    engine: &Arc<PermissionEngine>,
) {
    let sse = config.s3.sse.clone();
    let largest_put = crate::envelope::max_put_payload(config.http.max_body_bytes);
    if largest_put <= config.s3.multipart_threshold_bytes {
        // Not an error (small bodies are a valid choice), but multipart is then unreachable.
        tracing::warn!(
            max_body_bytes = config.http.max_body_bytes,
            s3_multipart_threshold_bytes = config.s3.multipart_threshold_bytes,
            "MCP_MAX_BODY_BYTES lets a put carry at most about {largest_put} bytes of objects, \
             not more than S3_MULTIPART_THRESHOLD_BYTES: multipart uploads will never be used"
        );
    }
    let b = Arc::new(Buckets {
        aws: aws.clone(),
        engine: engine.clone(),
        policy: BucketPolicy::new(config.grants.clone()),
        sse,
        multipart_threshold: config.s3.multipart_threshold_bytes,
        max_put_bytes: config.http.max_body_bytes,
        catalog: crate::tools::catalog::Catalog::from_config(config, aws),
        config: Arc::new(config.clone()),
    });
    let read = || {
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true)
    };
    let write = ToolAnnotations::new()
        .read_only(false)
        .destructive(true)
        .idempotent(true)
        .open_world(true);

    registry.add_with(
        &b,
        "bucket_list",
        "Buckets you may use, with any prefix you are limited to, and your list/read/write access to each (true, false or \"unknown\", from the permission engine).",
        // Write probes (when configured) put and delete an object: not read-only then.
        read().read_only(!engine.probes_writes()),
        Some(READ),
        Buckets::bucket_list,
    );
    registry.add_with(
        &b,
        "bucket_objects_list",
        "List objects under a prefix (folders as common_prefixes with a delimiter). max_keys 1-1000; continue with continuation_token; include_signed_urls adds presigned GET URLs.",
        read(),
        Some(READ),
        Buckets::objects_list,
    );
    registry.add_with(
        &b,
        "bucket_object_info",
        "Object metadata (HEAD): size, type, etag, version, checksum, encryption. s3_uri may end with ?versionId=.",
        read(),
        Some(READ),
        Buckets::object_info,
    );
    registry.add_with(
        &b,
        "bucket_object_text",
        "Read up to max_bytes (default 65536, max 1048576) of an object as UTF-8 text from offset; truncated says if more follows.",
        read(),
        Some(READ),
        Buckets::object_text,
    );
    registry.add_with(
        &b,
        "bucket_object_fetch",
        "Fetch up to max_bytes (default and max 4194304) of an object as base64 (or text with base64_encode=false).",
        read(),
        Some(READ),
        Buckets::object_fetch,
    );
    registry.add_with(
        &b,
        "bucket_object_link",
        "Presigned GET URL for an object; expiration seconds (default 3600) never exceeds your credentials' own expiry.",
        read(),
        Some(READ),
        Buckets::object_link,
    );
    registry.add_with(
        &b,
        "bucket_objects_put",
        "Write objects: items of {key, text or data (base64), content_type?, metadata?}; server-side encrypted; per-item results.",
        write,
        Some(WRITE),
        Buckets::objects_put,
    );
}

// ------------------------------------------------------------------------------------------
// Inputs and outputs.

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BucketListInput {}

/// A bucket you may use.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BucketEntry {
    /// The bucket.
    pub name: String,
    /// Prefixes you are limited to (empty: the whole bucket).
    pub prefixes: Vec<String>,
    /// Your access, from the permission engine (the same answer as check_bucket_access);
    /// null for buckets past the per-call cap (listed in not_checked).
    pub access: Option<BucketAccess>,
    /// The Quilt catalog's config of this bucket (with QUILT_CATALOG_URL and a catalog token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<BucketCatalogInfo>,
}

/// A bucket as the Quilt catalog presents it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BucketCatalogInfo {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The catalog's ordering weight (higher first).
    pub relevance_score: i64,
    /// The bucket in the catalog.
    pub url: String,
}

/// Buckets you may use.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BucketListOutput {
    /// The buckets.
    pub buckets: Vec<BucketEntry>,
    /// Where the list came from: "grants" (server and token) or "list_buckets" (your credentials).
    pub source: String,
    /// Buckets whose access was not checked (over MCP_PERMISSION_MAX_BUCKETS, or a legacy
    /// name the engine cannot check): ask check_bucket_access.
    pub not_checked: Vec<String>,
    /// Why the catalog's bucket configs are missing, when the catalog failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_error: Option<String>,
}

/// Arguments of `bucket_objects_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectsListInput {
    /// The bucket name.
    pub bucket: String,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Group keys by this (usually "/") into common_prefixes.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Keys per page, 1 to 1000 (default 100).
    #[serde(default)]
    pub max_keys: Option<i64>,
    /// From a previous page's next_continuation_token.
    #[serde(default)]
    pub continuation_token: Option<String>,
    /// Add a presigned GET URL to each object.
    #[serde(default)]
    pub include_signed_urls: bool,
}

/// One object in a listing.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObjectEntry {
    /// The key, exactly as S3 stores it.
    pub key: String,
    /// The object as the other tools take it (s3://bucket/key, key verbatim).
    pub s3_uri: String,
    /// Size in bytes.
    pub size: i64,
    /// Last modified (RFC 3339).
    pub last_modified: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Presigned GET URL, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_url: Option<String>,
    /// The object in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// A page of a listing.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObjectsListOutput {
    /// The bucket.
    pub bucket: String,
    /// The prefix listed (forced inside your granted prefix when you are limited to one).
    pub prefix: String,
    /// Objects on this page.
    pub objects: Vec<ObjectEntry>,
    /// "Folders" (with a delimiter).
    pub common_prefixes: Vec<String>,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// Pass to get the next page.
    pub next_continuation_token: Option<String>,
}

/// An object by URI.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UriInput {
    /// s3://bucket/key, the key verbatim (no %-decoding); ?versionId=… at the end for a version
    pub s3_uri: String,
}

/// Object metadata.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObjectInfo {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The version (null on unversioned buckets).
    pub version_id: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Content type.
    pub content_type: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// Last modified (RFC 3339).
    pub last_modified: Option<String>,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Base64 SHA-256 checksum, when S3 has one.
    pub checksum_sha256: Option<String>,
    /// Server-side encryption.
    pub server_side_encryption: Option<String>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// The object (this version) in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Arguments of `bucket_object_text`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextInput {
    /// s3://bucket/key, the key verbatim (no %-decoding); ?versionId=… at the end for a version
    pub s3_uri: String,
    /// Most bytes to read (default 65536, max 1048576).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Byte offset to start at (default 0).
    #[serde(default)]
    pub offset: u64,
}

/// Text read from an object.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TextOutput {
    /// The object.
    pub s3_uri: String,
    /// The text.
    pub text: String,
    /// Bytes of the object returned.
    pub bytes: u64,
    /// The offset read from.
    pub offset: u64,
    /// The object's size.
    pub size: Option<u64>,
    /// Whether the object continues past what was returned.
    pub truncated: bool,
    /// The object in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Arguments of `bucket_object_fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FetchInput {
    /// s3://bucket/key, the key verbatim (no %-decoding); ?versionId=… at the end for a version
    pub s3_uri: String,
    /// Most bytes to return (default and max 4194304).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Return base64 (default true); false returns UTF-8 text.
    #[serde(default = "yes")]
    pub base64_encode: bool,
}

fn yes() -> bool {
    true
}

/// Fetched bytes.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FetchOutput {
    /// The object.
    pub s3_uri: String,
    /// Base64 of the bytes (base64_encode=true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The bytes as text (base64_encode=false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
    /// Bytes returned.
    pub bytes: u64,
    /// The object's size.
    pub size: Option<u64>,
    /// Whether the object continues past what was returned.
    pub truncated: bool,
    /// The object in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Arguments of `bucket_object_link`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkInput {
    /// s3://bucket/key, the key verbatim (no %-decoding); ?versionId=… at the end for a version
    pub s3_uri: String,
    /// Seconds the URL is valid (default 3600, max 604800; capped at your credentials' expiry).
    #[serde(default)]
    pub expiration: Option<u64>,
}

/// A presigned URL.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct LinkOutput {
    /// The object.
    pub s3_uri: String,
    /// The presigned GET URL.
    pub url: String,
    /// Seconds it is valid.
    pub expires_in: u64,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// The object in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// One object to write.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutItem {
    /// The key.
    pub key: String,
    /// UTF-8 content (give text or data).
    #[serde(default)]
    pub text: Option<String>,
    /// Base64 content (give text or data).
    #[serde(default)]
    pub data: Option<String>,
    /// Content type (default text/plain for text, application/octet-stream for data).
    #[serde(default)]
    pub content_type: Option<String>,
    /// User metadata.
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
}

/// Arguments of `bucket_objects_put`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutInput {
    /// The bucket name.
    pub bucket: String,
    /// 1 to 100 objects.
    pub items: Vec<PutItem>,
}

/// One item's outcome.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PutResult {
    /// The key.
    pub key: String,
    /// Whether it was written.
    pub ok: bool,
    /// ETag, when written.
    pub etag: Option<String>,
    /// Version, when the bucket is versioned.
    pub version_id: Option<String>,
    /// Bytes written.
    pub size: u64,
    /// Whether multipart upload was used.
    pub multipart: bool,
    /// Why it was not written.
    pub error: Option<PutError>,
    /// The object written, in the Quilt catalog (with QUILT_CATALOG_URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_url: Option<String>,
}

/// Why an item was not written.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PutError {
    /// Error code (as for tool errors).
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
}

/// Outcome of a put batch.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PutOutput {
    /// The bucket.
    pub bucket: String,
    /// Per item, in order.
    pub results: Vec<PutResult>,
    /// Items written.
    pub succeeded: usize,
    /// Items not written.
    pub failed: usize,
}

// ------------------------------------------------------------------------------------------
// Helpers.

fn uri(s: &str) -> Result<S3Uri, ToolError> {
    s3uri::parse_s3_uri(s).map_err(|e| ToolError::invalid_argument(format!("s3_uri: {e}")))
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

fn caller_context() -> Result<Arc<RequestContext>, ToolError> {
    Ok(crate::call_scope::context()?)
}

impl Buckets {
    fn check_key(&self, bucket: &str, key: &str) -> Result<(), ToolError> {
        let ctx = caller_context()?;
        self.policy.check_key(ctx.principal(), bucket, key)
    }

    async fn bucket_list(
        self: Arc<Self>,
        _: BucketListInput,
    ) -> Result<BucketListOutput, ToolError> {
        let ctx = caller_context()?;
        if let Some(named) = self.policy.named_buckets(ctx.principal()) {
            let buckets = named.into_iter().map(|b| (b.bucket, b.prefixes)).collect();
            return self.with_access(buckets, "grants").await;
        }
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let out = s3
            .client
            .list_buckets()
            .send()
            .await
            .map_err(|e| s3_error("ListBuckets", &e, &s3))?;
        let buckets = out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter_map(|name| {
                let prefixes = self.policy.prefixes(ctx.principal(), name).ok()?;
                Some((name.to_owned(), prefixes))
            })
            .collect();
        self.with_access(buckets, "list_buckets").await
    }

    /// The entries with each bucket's access from the permission engine (the first
    /// MCP_PERMISSION_MAX_BUCKETS of them).
    async fn with_access(
        &self,
        buckets: Vec<(String, Vec<String>)>,
        source: &str,
    ) -> Result<BucketListOutput, ToolError> {
        let ctx = caller_context()?;
        let cap = self.engine.settings().max_buckets;
        // A name the engine cannot check (a legacy bucket name S3 still serves) is listed
        // without access rather than failing the whole list.
        let targets: Vec<_> = buckets
            .iter()
            .take(cap)
            .map(|(name, _)| self.engine.target(ctx.principal(), name).ok())
            .collect();
        let to_check: Vec<_> = targets.iter().flatten().cloned().collect();
        let mut checked = self.engine.check_all(&to_check, false).await?.into_iter();
        let mut targets = targets.into_iter();
        let mut not_checked = Vec::new();
        // The catalog's configs are attached to buckets already in the (grant-filtered)
        // list; a bucket only the catalog names is never added.
        let (mut configs, catalog_error) = match &self.catalog {
            Some(catalog) => match catalog.bucket_configs().await {
                Ok(configs) => (configs.unwrap_or_default(), None),
                Err(e) => (Vec::new(), Some(e.message)),
            },
            None => (Vec::new(), None),
        };
        let buckets = buckets
            .into_iter()
            .map(|(name, prefixes)| {
                let access = targets.next().flatten().and_then(|_| checked.next());
                if access.is_none() {
                    not_checked.push(name.clone());
                }
                let catalog = configs
                    .iter()
                    .position(|c| c.name == name)
                    .map(|i| configs.swap_remove(i))
                    .zip(self.catalog.as_ref())
                    .map(|(c, catalog)| BucketCatalogInfo {
                        url: quilt_catalog::urls::bucket_url(catalog.url(), &name),
                        title: c.title,
                        description: c.description,
                        tags: c.tags.unwrap_or_default(),
                        relevance_score: c.relevance_score,
                    });
                BucketEntry {
                    name,
                    prefixes,
                    access,
                    catalog,
                }
            })
            .collect();
        Ok(BucketListOutput {
            buckets,
            source: source.into(),
            not_checked,
            catalog_error,
        })
    }

    async fn objects_list(
        self: Arc<Self>,
        input: ObjectsListInput,
    ) -> Result<ObjectsListOutput, ToolError> {
        s3uri::validate_bucket(&input.bucket)
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        let max_keys = input.max_keys.unwrap_or(100);
        if !(1..=1000).contains(&max_keys) {
            return Err(ToolError::invalid_argument(format!(
                "max_keys must be between 1 and 1000, got {max_keys}"
            )));
        }
        let ctx = caller_context()?;
        let prefix = self
            .policy
            .list_prefix(ctx.principal(), &input.bucket, &input.prefix)?;
        aws::touched(
            &input.bucket,
            (!prefix.is_empty()).then_some(prefix.as_str()),
        );
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let mut req = s3
            .client
            .list_objects_v2()
            .bucket(&input.bucket)
            .prefix(&prefix)
            .max_keys(max_keys as i32);
        if let Some(d) = input.delimiter.as_deref().filter(|d| !d.is_empty()) {
            req = req.delimiter(d);
        }
        if let Some(t) = input
            .continuation_token
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            req = req.continuation_token(t);
        }
        let out = req
            .send()
            .await
            .map_err(|e| s3_error("ListObjectsV2", &e, &s3))?;
        // One presigning config for the page; URLs are signed locally with the caller's
        // credentials already in hand — no call per object.
        let presign = if input.include_signed_urls {
            Some(self.presign_config(&s3, 3600)?)
        } else {
            None
        };
        let mut objects = Vec::with_capacity(out.contents().len());
        for o in out.contents() {
            let key = o.key().unwrap_or_default().to_owned();
            let signed_url = match &presign {
                Some(cfg) => Some(
                    s3.client
                        .get_object()
                        .bucket(&input.bucket)
                        .key(&key)
                        .presigned(cfg.clone())
                        .await
                        .map_err(|e| ToolError::internal(format!("presigning failed: {e}")))?
                        .uri()
                        .to_owned(),
                ),
                None => None,
            };
            let catalog_url =
                crate::tools::catalog::object_link(&self.config, &input.bucket, &key, None);
            // S3 can list a key no tool could name (e.g. one over 1024 bytes written by
            // another client): it is listed without an s3_uri rather than failing the page.
            let s3_uri = S3Uri::new(input.bucket.as_str(), key.as_str(), None)
                .map(|u| u.to_string())
                .unwrap_or_default();
            objects.push(ObjectEntry {
                s3_uri,
                catalog_url,
                key,
                size: o.size().unwrap_or_default(),
                last_modified: o.last_modified().and_then(rfc3339),
                etag: o.e_tag().map(str::to_owned),
                storage_class: o.storage_class().map(|c| c.as_str().to_owned()),
                signed_url,
            });
        }
        Ok(ObjectsListOutput {
            bucket: input.bucket,
            prefix,
            objects,
            common_prefixes: out
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect(),
            is_truncated: out.is_truncated().unwrap_or(false),
            next_continuation_token: out.next_continuation_token().map(str::to_owned),
        })
    }

    /// A presigning config for at most `wanted` seconds, never past the credentials' expiry.
    fn presign_config(
        &self,
        s3: &Caller<aws_sdk_s3::Client>,
        wanted: u64,
    ) -> Result<PresigningConfig, ToolError> {
        let secs = self.link_seconds(s3, wanted)?;
        PresigningConfig::expires_in(Duration::from_secs(secs))
            .map_err(|e| ToolError::internal(format!("presigning config: {e}")))
    }

    fn link_seconds(&self, s3: &Caller<aws_sdk_s3::Client>, wanted: u64) -> Result<u64, ToolError> {
        let remaining = s3.resolved.credentials.expires_at().map(|e| {
            e.duration_since(SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let secs = remaining.map_or(wanted, |r| wanted.min(r));
        if secs == 0 {
            return Err(ToolError::new(
                ErrorCode::AccessDenied,
                "your credentials have expired; a link would not work",
            ));
        }
        Ok(secs)
    }

    async fn object_info(self: Arc<Self>, input: UriInput) -> Result<ObjectInfo, ToolError> {
        let u = uri(&input.s3_uri)?;
        self.check_key(&u.bucket, &u.key)?;
        aws::touched(&u.bucket, Some(&u.key));
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let out = s3
            .client
            .head_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(u.version_id.clone())
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| object_error("HeadObject", &e, &s3, &u))?;
        let version_id = real_version(out.version_id());
        Ok(ObjectInfo {
            catalog_url: crate::tools::catalog::object_link(
                &self.config,
                &u.bucket,
                &u.key,
                version_id.as_deref(),
            ),
            bucket: u.bucket,
            key: u.key,
            version_id,
            size: out.content_length().unwrap_or_default(),
            content_type: out.content_type().map(str::to_owned),
            etag: out.e_tag().map(str::to_owned),
            last_modified: out.last_modified().and_then(rfc3339),
            metadata: out.metadata().cloned().unwrap_or_default(),
            checksum_sha256: out.checksum_sha256().map(str::to_owned),
            server_side_encryption: out.server_side_encryption().map(|s| s.as_str().to_owned()),
            storage_class: out.storage_class().map(|c| c.as_str().to_owned()),
        })
    }

    /// A ranged GET of at most `max` bytes from `offset`: (bytes, total size, content type).
    async fn ranged(
        &self,
        u: &S3Uri,
        offset: u64,
        max: u64,
    ) -> Result<(Vec<u8>, Option<u64>, Option<String>), ToolError> {
        // The last byte asked for, checked: `offset + max - 1` overflows u64 near its top
        // (and would wrap to a small range in release builds).
        let Some(last) = max
            .checked_sub(1)
            .and_then(|extra| offset.checked_add(extra))
        else {
            return Err(ToolError::invalid_argument(format!(
                "offset {offset} is too large: the range offset + max_bytes does not fit in 64 bits"
            ))
            .with_hint("S3 objects are at most 5 TiB; use an offset inside the object"));
        };
        self.check_key(&u.bucket, &u.key)?;
        aws::touched(&u.bucket, Some(&u.key));
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let out = s3
            .client
            .get_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(u.version_id.clone())
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await
            .map_err(|e| {
                let mut err = object_error("GetObject", &e, &s3, u);
                if err.message.contains("InvalidRange") {
                    err.code = ErrorCode::InvalidArgument;
                    err.message = format!("offset {offset} is at or past the end of the object");
                }
                err
            })?;
        // "bytes 0-65535/1073741824": the total is after the slash.
        let total = out
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.parse::<u64>().ok());
        let content_type = out.content_type().map(str::to_owned);
        let bytes = out.body.collect().await.map_err(|e| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                format!("reading the object failed: {e}"),
            )
        })?;
        let mut bytes = bytes.into_bytes().to_vec();
        // A server that ignores Range must not make us return more than asked.
        bytes.truncate(max as usize);
        Ok((bytes, total, content_type))
    }

    async fn object_text(self: Arc<Self>, input: TextInput) -> Result<TextOutput, ToolError> {
        let u = uri(&input.s3_uri)?;
        let max = input.max_bytes.unwrap_or(65536);
        if !(1..=MAX_TEXT_BYTES).contains(&max) {
            return Err(ToolError::invalid_argument(format!(
                "max_bytes must be between 1 and {MAX_TEXT_BYTES}, got {max}"
            )));
        }
        let (bytes, total, _) = self.ranged(&u, input.offset, max).await?;
        let read = bytes.len() as u64;
        let truncated = total.is_some_and(|t| input.offset.saturating_add(read) < t);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let utf8 = e.utf8_error();
                // A character cut in half at the end of a truncated read is not binary data.
                if utf8.error_len().is_none() && truncated {
                    let mut bytes = e.into_bytes();
                    bytes.truncate(utf8.valid_up_to());
                    String::from_utf8(bytes).map_err(|_| ToolError::internal("utf-8 boundary"))?
                } else {
                    return Err(ToolError::invalid_argument(format!(
                        "the object is not UTF-8 text (invalid byte at offset {})",
                        input.offset.saturating_add(utf8.valid_up_to() as u64)
                    ))
                    .with_hint("use bucket_object_fetch for binary data"));
                }
            }
        };
        Ok(TextOutput {
            catalog_url: crate::tools::catalog::object_link(
                &self.config,
                &u.bucket,
                &u.key,
                u.version_id.as_deref(),
            ),
            s3_uri: u.to_string(),
            bytes: text.len() as u64,
            text,
            offset: input.offset,
            size: total,
            truncated,
        })
    }

    async fn object_fetch(self: Arc<Self>, input: FetchInput) -> Result<FetchOutput, ToolError> {
        let u = uri(&input.s3_uri)?;
        let max = input.max_bytes.unwrap_or(MAX_FETCH_BYTES);
        if !(1..=MAX_FETCH_BYTES).contains(&max) {
            return Err(ToolError::invalid_argument(format!(
                "max_bytes must be between 1 and {MAX_FETCH_BYTES}, got {max}"
            )));
        }
        let (bytes, total, content_type) = self.ranged(&u, 0, max).await?;
        let n = bytes.len() as u64;
        let truncated = total.is_some_and(|t| n < t);
        let (data, text) = if input.base64_encode {
            (
                Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                None,
            )
        } else {
            let text = String::from_utf8(bytes).map_err(|_| {
                ToolError::invalid_argument("the object is not UTF-8 text")
                    .with_hint("fetch it with base64_encode=true")
            })?;
            (None, Some(text))
        };
        Ok(FetchOutput {
            catalog_url: crate::tools::catalog::object_link(
                &self.config,
                &u.bucket,
                &u.key,
                u.version_id.as_deref(),
            ),
            s3_uri: u.to_string(),
            data,
            text,
            content_type,
            bytes: n,
            size: total,
            truncated,
        })
    }

    async fn object_link(self: Arc<Self>, input: LinkInput) -> Result<LinkOutput, ToolError> {
        let u = uri(&input.s3_uri)?;
        let wanted = input.expiration.unwrap_or(3600);
        if !(1..=MAX_LINK_S).contains(&wanted) {
            return Err(ToolError::invalid_argument(format!(
                "expiration must be between 1 and {MAX_LINK_S} seconds, got {wanted}"
            )));
        }
        self.check_key(&u.bucket, &u.key)?;
        aws::touched(&u.bucket, Some(&u.key));
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let secs = self.link_seconds(&s3, wanted)?;
        let cfg = PresigningConfig::expires_in(Duration::from_secs(secs))
            .map_err(|e| ToolError::internal(e.to_string()))?;
        let signed = s3
            .client
            .get_object()
            .bucket(&u.bucket)
            .key(&u.key)
            .set_version_id(u.version_id.clone())
            .presigned(cfg)
            .await
            .map_err(|e| ToolError::internal(format!("presigning failed: {e}")))?;
        let expires_at =
            aws_smithy_types::DateTime::from(SystemTime::now() + Duration::from_secs(secs));
        Ok(LinkOutput {
            catalog_url: crate::tools::catalog::object_link(
                &self.config,
                &u.bucket,
                &u.key,
                u.version_id.as_deref(),
            ),
            s3_uri: u.to_string(),
            url: signed.uri().to_owned(),
            expires_in: secs,
            expires_at: rfc3339(&expires_at).unwrap_or_default(),
        })
    }

    async fn objects_put(self: Arc<Self>, input: PutInput) -> Result<PutOutput, ToolError> {
        s3uri::validate_bucket(&input.bucket)
            .map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        if input.items.is_empty() || input.items.len() > MAX_PUT_ITEMS {
            return Err(ToolError::invalid_argument(format!(
                "items must hold 1 to {MAX_PUT_ITEMS} objects, got {}",
                input.items.len()
            )));
        }
        // Decode and check everything first: bad input changes nothing.
        let mut prepared = Vec::with_capacity(input.items.len());
        for (i, item) in input.items.into_iter().enumerate() {
            let which = format!("items[{i}] ({:?})", item.key);
            s3uri::validate_key(&item.key)
                .map_err(|e| ToolError::invalid_argument(format!("{which}: {e}")))?;
            let (body, default_type) = match (item.text, item.data) {
                (Some(t), None) => (t.into_bytes(), "text/plain; charset=utf-8"),
                (None, Some(d)) => (
                    base64::engine::general_purpose::STANDARD
                        .decode(d.trim())
                        .map_err(|e| {
                            ToolError::invalid_argument(format!(
                                "{which}: data is not valid base64: {e}"
                            ))
                        })?,
                    "application/octet-stream",
                ),
                _ => {
                    return Err(ToolError::invalid_argument(format!(
                        "{which}: give exactly one of text or data"
                    )));
                }
            };
            if body.len() > self.max_put_bytes {
                return Err(ToolError::new(
                    ErrorCode::TooLarge,
                    format!(
                        "{which}: {} bytes is over the {} byte limit",
                        body.len(),
                        self.max_put_bytes
                    ),
                ));
            }
            let content_type = item.content_type.unwrap_or_else(|| default_type.to_owned());
            prepared.push((
                item.key,
                body,
                content_type,
                item.metadata.unwrap_or_default(),
            ));
        }
        let ctx = caller_context()?;
        let mut s3: Option<Caller<aws_sdk_s3::Client>> = None;
        let mut results = Vec::with_capacity(prepared.len());
        for (key, body, content_type, metadata) in prepared {
            let size = body.len() as u64;
            let failed = |e: ToolError| PutResult {
                key: key.clone(),
                ok: false,
                etag: None,
                version_id: None,
                size,
                multipart: false,
                error: Some(PutError {
                    code: e.code,
                    message: e.message,
                }),
                catalog_url: None,
            };
            if let Err(e) = self.policy.check_key(ctx.principal(), &input.bucket, &key) {
                results.push(failed(e));
                continue;
            }
            let client = match &s3 {
                Some(c) => c,
                None => s3.insert(self.aws.s3(AccessIntent::Write).await?),
            };
            aws::touched(&input.bucket, Some(&key));
            let outcome = if body.len() > self.multipart_threshold {
                self.put_multipart(client, &input.bucket, &key, body, &content_type, &metadata)
                    .await
                    .map(|(e, v)| (e, v, true))
            } else {
                self.put_single(client, &input.bucket, &key, body, &content_type, &metadata)
                    .await
                    .map(|(e, v)| (e, v, false))
            };
            results.push(match outcome {
                Ok((etag, version_id, multipart)) => PutResult {
                    catalog_url: crate::tools::catalog::object_link(
                        &self.config,
                        &input.bucket,
                        &key,
                        version_id.as_deref(),
                    ),
                    key,
                    ok: true,
                    etag,
                    version_id,
                    size,
                    multipart,
                    error: None,
                },
                Err(e) => failed(e),
            });
        }
        let succeeded = results.iter().filter(|r| r.ok).count();
        let failed = results.len() - succeeded;
        if succeeded == 0 {
            let first = results.first().and_then(|r| r.error.as_ref());
            let code = first.map_or(ErrorCode::Internal, |e| e.code);
            let mut e = ToolError::new(
                code,
                format!(
                    "no object was written: {}",
                    first.map(|e| e.message.as_str()).unwrap_or("")
                ),
            );
            e.credential_source = s3.as_ref().map(|c| c.source.as_str().to_owned());
            return Err(e);
        }
        Ok(PutOutput {
            bucket: input.bucket,
            results,
            succeeded,
            failed,
        })
    }

    async fn put_single(
        &self,
        s3: &Caller<aws_sdk_s3::Client>,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<(Option<String>, Option<String>), ToolError> {
        let mut req = s3
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        for (k, v) in metadata {
            req = req.metadata(k, v);
        }
        req = req
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone());
        let out = req
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &e, s3))?;
        Ok((
            out.e_tag().map(str::to_owned),
            real_version(out.version_id()),
        ))
    }

    async fn put_multipart(
        &self,
        s3: &Caller<aws_sdk_s3::Client>,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &HashMap<String, String>,
    ) -> Result<(Option<String>, Option<String>), ToolError> {
        let mut req = s3
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type);
        for (k, v) in metadata {
            req = req.metadata(k, v);
        }
        req = req
            .set_server_side_encryption(self.sse.mode.clone())
            .set_ssekms_key_id(self.sse.kms_key_id.clone());
        let created = req
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", &e, s3))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        let parts = async {
            let mut parts = Vec::new();
            for (i, chunk) in body.chunks(MULTIPART_PART_BYTES).enumerate() {
                let number = i as i32 + 1;
                let part = s3
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| s3_error("UploadPart", &e, s3))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            Ok(parts)
        }
        .await;
        complete_or_abort(s3, bucket, key, &upload_id, parts).await
    }
}
