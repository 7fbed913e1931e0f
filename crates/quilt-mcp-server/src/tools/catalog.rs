//! The Quilt catalog tools: `search_catalog` (the catalog's search, with the caller's own
//! catalog token), `catalog_url` and `catalog_uri` (pure: the catalog's web URL and the
//! `quilt+s3://` URI of a bucket, folder, object, package or entry), and the catalog part of
//! `bucket_list` ([`Catalog::bucket_configs`]). Registered only when `QUILT_CATALOG_URL` is
//! set. Tabulator is next door (`tabulator.rs`).
//!
//! Which token reaches the catalog: [`RequestContext::catalog_token`] — the caller's own
//! bearer, only when an HS256 secret the catalog shares verified it. Tools that send it are
//! marked with [`ToolRegistry::require_catalog_token`], so a caller whose token came from the
//! JWKS neither sees nor can call them. Every answer is filtered by the caller's bucket grants
//! (`QUILT_BUCKETS` and the token's `buckets` claim), whatever the catalog returns.

use std::sync::Arc;

use base64::Engine;
use quilt_catalog::operations::{
    BucketSummary, BucketsList, NoVariables, ObjectHit, PackageHit, SearchMoreObjects,
    SearchMorePackages, SearchMoreVariables, SearchObjects, SearchObjectsVariables, SearchPackages,
    SearchPackagesVariables,
};
use quilt_catalog::urls::{self, Revision};
use quilt_catalog::{CatalogClient, CatalogError};
use quilt_mcp_auth::{Principal, RequestContext, Secret, is_valid_bucket_name};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::Aws;
use crate::grants::BucketPolicy;
use crate::scopes::Scope;
use crate::settings::Settings;
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;

const READ: Scope = Scope::Read;
/// Most hits one `search_catalog` call returns.
const MAX_LIMIT: u32 = 100;
/// Matching entries listed per package hit.
const MAX_MATCHING_ENTRIES: usize = 10;
/// Longest search query accepted.
const MAX_QUERY_CHARS: usize = 2000;

/// The catalog and what the catalog tools share.
#[derive(Debug)]
pub struct Catalog {
    client: Arc<CatalogClient>,
    policy: BucketPolicy,
}

impl Catalog {
    /// The catalog, when one is configured: the process's one client (held by `aws`) and the
    /// bucket grants of `config`.
    pub fn from_config(config: &Settings, aws: &Aws) -> Option<Arc<Self>> {
        Some(Arc::new(Self {
            client: aws.catalog_client()?.clone(),
            policy: BucketPolicy::new(config.grants.clone()),
        }))
    }

    /// The client.
    pub fn client(&self) -> &CatalogClient {
        &self.client
    }

    /// The bucket grants.
    pub fn policy(&self) -> &BucketPolicy {
        &self.policy
    }

    /// The web catalog's URL.
    pub fn url(&self) -> &str {
        self.client.catalog_url()
    }

    /// The catalog's bucket configs for the caller in scope, or `None` when the caller has no
    /// catalog-issued token (nothing is sent then).
    pub async fn bucket_configs(&self) -> Result<Option<Vec<BucketSummary>>, ToolError> {
        let ctx = crate::call_scope::context()?;
        let Some(token) = ctx.catalog_token() else {
            return Ok(None);
        };
        let data = self
            .client
            .execute::<BucketsList>(token, &NoVariables {})
            .await
            .map_err(tool_error)?;
        Ok(Some(data.buckets))
    }
}

/// The tool error for a catalog failure (one code per kind; the catalog's own message kept).
pub(crate) fn tool_error(error: CatalogError) -> ToolError {
    let code = match &error {
        CatalogError::Unavailable(_) | CatalogError::Operation { .. } => {
            ErrorCode::UpstreamUnavailable
        }
        CatalogError::Unauthorized(_) => ErrorCode::AccessDenied,
        CatalogError::InvalidInput(_) => ErrorCode::InvalidArgument,
        CatalogError::NotFound(_) => ErrorCode::NotFound,
    };
    let hint = match &error {
        CatalogError::Unauthorized(_) => Some(
            "the catalog refused your token: it may have expired, or the catalog no longer accepts it; sign in to the catalog again",
        ),
        _ => None,
    };
    let mut out = ToolError::new(code, error.to_string());
    out.hint = hint.map(str::to_owned);
    out
}

/// The caller in scope and its catalog token (refused without one; the registry already
/// hides these tools then, this is the second lock).
pub(crate) fn caller() -> Result<(Arc<RequestContext>, Secret), ToolError> {
    let ctx = crate::call_scope::context()?;
    let token = ctx.catalog_token().cloned().ok_or_else(|| {
        ToolError::not_permitted("this tool needs a token issued by the Quilt catalog")
    })?;
    Ok((ctx, token))
}

/// A bucket name as the catalog tools take it: valid, and allowed by the grants.
pub(crate) fn allowed_bucket(
    policy: &BucketPolicy,
    principal: &Principal,
    bucket: &str,
) -> Result<(), ToolError> {
    if !is_valid_bucket_name(bucket) {
        return Err(ToolError::invalid_argument(format!(
            "{bucket:?} is not a valid S3 bucket name"
        )));
    }
    policy.prefixes(principal, bucket).map(|_| ())
}

pub(crate) fn register(
    registry: &mut ToolRegistry,
    aws: &Arc<Aws>,
    config: &Settings,
    athena: &Arc<crate::tools::athena::AthenaSettings>,
) {
    let Some(catalog) = Catalog::from_config(config, aws) else {
        return;
    };
    registry.add_with(
        &catalog,
        "search_catalog",
        "Search the Quilt catalog: query (catalog search syntax), scope packages|objects, buckets, limit<=100, next_token, latest_only.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
        Some(READ),
        |catalog: Arc<Catalog>, input: SearchInput| async move { search(&catalog, input).await },
    );
    registry.require_catalog_token("search_catalog");
    let pure = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    registry.add_with(
        &catalog,
        "catalog_url",
        "Catalog web URL of a bucket, folder (path ending /), object (path, version_id) or package (package_name, top_hash, path).",
        pure.clone(),
        Some(READ),
        |catalog: Arc<Catalog>, input: UrlInput| async move { catalog_url(catalog.url(), input) },
    );
    registry.add_with(
        &catalog,
        "catalog_uri",
        "quilt+s3:// URI of a package, revision (top_hash or tag) or entry (path).",
        pure,
        Some(READ),
        |catalog: Arc<Catalog>, input: UriInput| async move { catalog_uri(catalog.url(), input) },
    );
    crate::tools::tabulator::register(registry, &catalog, aws, athena);
    crate::tools::admin::register(registry, &catalog);
}

// --- search_catalog ---------------------------------------------------------------------

/// What to search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SearchScope {
    /// Package revisions (name, message, metadata, entry keys).
    #[default]
    Packages,
    /// Objects (keys).
    Objects,
}

/// Arguments of `search_catalog`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchInput {
    /// Catalog search syntax (words, "phrases", AND/OR, field:value).
    pub query: String,
    /// packages (default) or objects.
    #[serde(default)]
    pub scope: Option<SearchScope>,
    /// Buckets to search (default: those you may use).
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// Hits per page, 1-100 (default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    /// From a previous answer, for the next page.
    #[serde(default)]
    pub next_token: Option<String>,
    /// Packages: only latest revisions.
    #[serde(default)]
    pub latest_only: Option<bool>,
}

/// A package revision that matched.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PackageResult {
    /// Registry bucket.
    pub bucket: String,
    /// Package name.
    pub name: String,
    /// Top hash of the revision.
    pub hash: String,
    /// Bytes in all entries.
    pub size: f64,
    /// When the revision was made.
    pub modified: String,
    /// The revision's message.
    pub comment: Option<String>,
    /// Logical keys of matching entries (at most 10).
    pub matching_entries: Vec<String>,
    /// The revision in the catalog.
    pub catalog_url: String,
}

/// An object that matched.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ObjectResult {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Version id, when versioned.
    pub version_id: Option<String>,
    /// Size in bytes.
    pub size: f64,
    /// Last modified.
    pub modified: String,
    /// The object in the catalog.
    pub catalog_url: String,
}

/// The answer of `search_catalog`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SearchOutput {
    /// What was searched.
    pub scope: SearchScope,
    /// Matches the catalog counted in the searched buckets (before grant filtering).
    pub total: Option<i64>,
    /// Package hits (scope packages).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageResult>,
    /// Object hits (scope objects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectResult>,
    /// Hits left out because your grants exclude them.
    pub filtered: usize,
    /// Pass back for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Our page token: which search it continues and the catalog's cursor.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    s: SearchScope,
    c: String,
}

impl PageToken {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(token: &str) -> Result<Self, ToolError> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .filter(|t| !t.c.is_empty())
            .ok_or_else(|| ToolError::invalid_argument("next_token is not one this tool returned"))
    }
}

async fn search(catalog: &Catalog, input: SearchInput) -> Result<SearchOutput, ToolError> {
    let limit = input.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ToolError::invalid_argument(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let size = i64::from(limit);
    let (ctx, token) = caller()?;
    let principal = ctx.principal();
    let policy = &catalog.policy;
    if let Some(next) = input.next_token.as_deref() {
        let page = PageToken::decode(next)?;
        if input.scope.is_some_and(|s| s != page.s) {
            return Err(ToolError::invalid_argument(
                "next_token continues a search of another scope",
            ));
        }
        let variables = SearchMoreVariables {
            after: page.c,
            size,
        };
        return match page.s {
            SearchScope::Packages => {
                let data = catalog
                    .client
                    .execute::<SearchMorePackages>(&token, &variables)
                    .await
                    .map_err(tool_error)?;
                let page = data
                    .search_more_packages
                    .into_result()
                    .map_err(tool_error)?;
                Ok(package_output(
                    catalog,
                    principal,
                    None,
                    page.hits,
                    page.cursor,
                ))
            }
            SearchScope::Objects => {
                let data = catalog
                    .client
                    .execute::<SearchMoreObjects>(&token, &variables)
                    .await
                    .map_err(tool_error)?;
                let page = data.search_more_objects.into_result().map_err(tool_error)?;
                Ok(object_output(
                    catalog,
                    principal,
                    None,
                    page.hits,
                    page.cursor,
                ))
            }
        };
    }
    let query = input.query.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(ToolError::invalid_argument(format!(
            "query must be 1 to {MAX_QUERY_CHARS} characters"
        )));
    }
    let buckets = match input.buckets {
        Some(buckets) => {
            if buckets.is_empty() {
                return Err(ToolError::invalid_argument(
                    "buckets is empty: name at least one, or leave it out",
                ));
            }
            for bucket in &buckets {
                allowed_bucket(policy, principal, bucket)?;
            }
            Some(buckets)
        }
        None => policy
            .named_buckets(principal)
            .map(|allowed| allowed.into_iter().map(|a| a.bucket).collect()),
    };
    let scope = input.scope.unwrap_or_default();
    if buckets.as_ref().is_some_and(Vec::is_empty) {
        return Ok(SearchOutput {
            scope,
            total: Some(0),
            packages: Vec::new(),
            objects: Vec::new(),
            filtered: 0,
            next_token: None,
        });
    }
    match scope {
        SearchScope::Packages => {
            let variables = SearchPackagesVariables {
                buckets,
                search_string: query.to_owned(),
                latest_only: input.latest_only.unwrap_or(false),
                size,
            };
            let data = catalog
                .client
                .execute::<SearchPackages>(&token, &variables)
                .await
                .map_err(tool_error)?;
            let (total, page) = data.search_packages.into_result().map_err(tool_error)?;
            Ok(package_output(
                catalog,
                principal,
                Some(total),
                page.hits,
                page.cursor,
            ))
        }
        SearchScope::Objects => {
            if input.latest_only.is_some() {
                return Err(ToolError::invalid_argument(
                    "latest_only applies to scope packages only",
                ));
            }
            let variables = SearchObjectsVariables {
                buckets,
                search_string: query.to_owned(),
                size,
            };
            let data = catalog
                .client
                .execute::<SearchObjects>(&token, &variables)
                .await
                .map_err(tool_error)?;
            let (total, page) = data.search_objects.into_result().map_err(tool_error)?;
            Ok(object_output(
                catalog,
                principal,
                Some(total),
                page.hits,
                page.cursor,
            ))
        }
    }
}

/// Whether the grants let the caller read this package (its pointers and its manifest, as
/// the packaging tools require).
fn package_visible(policy: &BucketPolicy, p: &Principal, hit: &PackageHit) -> bool {
    policy
        .check_key(
            p,
            &hit.bucket,
            &format!(".quilt/named_packages/{}/", hit.name),
        )
        .is_ok()
        && policy
            .check_key(p, &hit.bucket, &format!(".quilt/packages/{}", hit.hash))
            .is_ok()
}

fn package_output(
    catalog: &Catalog,
    principal: &Principal,
    total: Option<i64>,
    hits: Vec<PackageHit>,
    cursor: Option<String>,
) -> SearchOutput {
    let before = hits.len();
    let packages: Vec<PackageResult> = hits
        .into_iter()
        .filter(|h| package_visible(&catalog.policy, principal, h))
        .map(|h| PackageResult {
            catalog_url: urls::package_url(
                catalog.url(),
                &h.bucket,
                &h.name,
                Revision::Hash(&h.hash),
                None,
            ),
            matching_entries: h
                .matching_entries
                .into_iter()
                .take(MAX_MATCHING_ENTRIES)
                .map(|e| e.logical_key)
                .collect(),
            bucket: h.bucket,
            name: h.name,
            hash: h.hash,
            size: h.size,
            modified: h.modified,
            comment: h.comment,
        })
        .collect();
    SearchOutput {
        scope: SearchScope::Packages,
        total,
        filtered: before - packages.len(),
        packages,
        objects: Vec::new(),
        next_token: cursor.map(|c| {
            PageToken {
                s: SearchScope::Packages,
                c,
            }
            .encode()
        }),
    }
}

fn object_output(
    catalog: &Catalog,
    principal: &Principal,
    total: Option<i64>,
    hits: Vec<ObjectHit>,
    cursor: Option<String>,
) -> SearchOutput {
    let before = hits.len();
    let objects: Vec<ObjectResult> = hits
        .into_iter()
        .filter(|h| {
            catalog
                .policy
                .check_key(principal, &h.bucket, &h.key)
                .is_ok()
        })
        .map(|h| {
            let version_id = Some(h.version).filter(|v| !v.is_empty() && v != "null");
            ObjectResult {
                catalog_url: urls::object_url(
                    catalog.url(),
                    &h.bucket,
                    &h.key,
                    version_id.as_deref(),
                ),
                bucket: h.bucket,
                key: h.key,
                version_id,
                size: h.size,
                modified: h.modified,
            }
        })
        .collect();
    SearchOutput {
        scope: SearchScope::Objects,
        total,
        filtered: before - objects.len(),
        packages: Vec::new(),
        objects,
        next_token: cursor.map(|c| {
            PageToken {
                s: SearchScope::Objects,
                c,
            }
            .encode()
        }),
    }
}

// --- catalog_url, catalog_uri -------------------------------------------------------------

/// Arguments of `catalog_url`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UrlInput {
    /// Bucket.
    pub bucket: String,
    /// Object key, folder (ending /), or with package_name a path inside the package.
    #[serde(default)]
    pub path: Option<String>,
    /// Object version.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Package name (user/package).
    #[serde(default)]
    pub package_name: Option<String>,
    /// Package revision (default latest).
    #[serde(default)]
    pub top_hash: Option<String>,
}

/// A catalog URL.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UrlOutput {
    /// The page in the catalog.
    pub url: String,
}

/// Arguments of `catalog_uri`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UriInput {
    /// Registry bucket.
    pub bucket: String,
    /// Package name (user/package).
    pub package_name: String,
    /// Revision by top hash (64 hex).
    #[serde(default)]
    pub top_hash: Option<String>,
    /// Revision by tag (e.g. latest, or a timestamp).
    #[serde(default)]
    pub tag: Option<String>,
    /// Logical key inside the package.
    #[serde(default)]
    pub path: Option<String>,
}

/// A `quilt+s3://` URI.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UriOutput {
    /// The URI.
    pub uri: String,
}

fn check_bucket_name(bucket: &str) -> Result<(), ToolError> {
    if is_valid_bucket_name(bucket) {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "{bucket:?} is not a valid S3 bucket name"
        )))
    }
}

fn check_package_name(name: &str) -> Result<(), ToolError> {
    quilt_package::PackageName::new(name)
        .map(|_| ())
        .map_err(|e| ToolError::invalid_argument(e.to_string()))
}

fn check_top_hash(hash: &str) -> Result<(), ToolError> {
    quilt_package::TopHash::parse(hash)
        .map(|_| ())
        .map_err(|_| ToolError::invalid_argument("top_hash must be 64 lowercase hex digits"))
}

fn check_path(path: &str) -> Result<(), ToolError> {
    if path.chars().any(char::is_control) || path.len() > 1024 {
        return Err(ToolError::invalid_argument(
            "path must be at most 1024 bytes without control characters",
        ));
    }
    Ok(())
}

fn catalog_url(catalog: &str, input: UrlInput) -> Result<UrlOutput, ToolError> {
    check_bucket_name(&input.bucket)?;
    let path = input.path.unwrap_or_default();
    check_path(&path)?;
    let url = match input.package_name {
        Some(name) => {
            check_package_name(&name)?;
            if input.version_id.is_some() {
                return Err(ToolError::invalid_argument(
                    "version_id is for objects; a package revision is top_hash",
                ));
            }
            let revision = match input.top_hash.as_deref() {
                Some(hash) => {
                    check_top_hash(hash)?;
                    Revision::Hash(hash)
                }
                None => Revision::Latest,
            };
            urls::package_url(catalog, &input.bucket, &name, revision, Some(path.as_str()))
        }
        None => {
            if input.top_hash.is_some() {
                return Err(ToolError::invalid_argument("top_hash needs package_name"));
            }
            if path.is_empty() || path.ends_with('/') {
                if input.version_id.is_some() {
                    return Err(ToolError::invalid_argument(
                        "version_id needs an object path (not ending with /)",
                    ));
                }
                urls::prefix_url(catalog, &input.bucket, &path)
            } else {
                urls::object_url(catalog, &input.bucket, &path, input.version_id.as_deref())
            }
        }
    };
    Ok(UrlOutput { url })
}

fn catalog_uri(catalog: &str, input: UriInput) -> Result<UriOutput, ToolError> {
    check_bucket_name(&input.bucket)?;
    check_package_name(&input.package_name)?;
    let revision = match (input.top_hash.as_deref(), input.tag.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ToolError::invalid_argument(
                "give top_hash or tag, not both",
            ));
        }
        (Some(hash), None) => {
            check_top_hash(hash)?;
            Revision::Hash(hash)
        }
        (None, Some(tag)) => {
            if tag.is_empty() || tag.contains([':', '@', '&', '#', '/']) || tag.len() > 64 {
                return Err(ToolError::invalid_argument(
                    "tag must be 1 to 64 characters without : @ & # /",
                ));
            }
            Revision::Tag(tag)
        }
        (None, None) => Revision::Latest,
    };
    if let Some(path) = &input.path {
        check_path(path)?;
    }
    Ok(UriOutput {
        uri: urls::quilt_uri(
            &input.bucket,
            &input.package_name,
            revision,
            input.path.as_deref(),
            urls::host_of(catalog),
        ),
    })
}

// --- catalog URLs on other tools' answers ----------------------------------------------------

/// The catalog URL of an object, when a catalog is configured (for other tools' answers).
pub(crate) fn object_link(
    config: &Settings,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Option<String> {
    let catalog = config.catalog.as_ref()?.catalog_url.as_str();
    Some(if key.is_empty() || key.ends_with('/') {
        urls::prefix_url(catalog, bucket, key)
    } else {
        urls::object_url(catalog, bucket, key, version)
    })
}

/// The catalog URL of a package (a revision, an entry), when a catalog is configured.
pub(crate) fn package_link(
    config: &Settings,
    bucket: &str,
    name: &str,
    top_hash: Option<&str>,
    path: Option<&str>,
) -> Option<String> {
    let catalog = config.catalog.as_ref()?.catalog_url.as_str();
    let revision = top_hash.map_or(Revision::Latest, Revision::Hash);
    Some(urls::package_url(catalog, bucket, name, revision, path))
}
