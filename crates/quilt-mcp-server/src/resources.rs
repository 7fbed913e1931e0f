//! MCP resources: two templates a person can @-mention — an object, `s3://{bucket}/{key}`,
//! and a package entry, `quilt+s3://{bucket}#package={name}&path={path}` (Quilt's own URI
//! form; `package=name@hash` pins a revision) — and `resources/read` of such a URI.
//!
//! A read answers with the object's bytes when they are small and plain (at most
//! [`RAW_BYTES`], not Parquet, not compressed): as text when UTF-8, else as a base64 blob.
//! Anything else answers with the bounded preview of `bucket_object_preview`, as JSON text.
//! Same grants, same caller credentials, same caps as the tools; the handler runs it inside
//! the caller's call scope (`mcp.rs`). `resources/list` lists nothing: see docs/TOOLS.md.

use std::sync::Arc;

use base64::Engine as _;
use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::AccessIntent;
use quilt_mcp_aws::s3uri::{self, S3Uri};
use rmcp::model::{
    CompleteRequestParams, CompletionInfo, ReadResourceResult, ResourceContents, ResourceTemplate,
};

use crate::completions::Completer;
use crate::preview::{self, DEFAULT_ROWS, Preview, Previewer, Ranged};
use crate::scopes::{Scope, ScopePolicy};
use crate::tool_error::{ErrorCode, ToolError};

/// Largest object a read returns as its own bytes (the preview answers for larger ones).
pub(crate) const RAW_BYTES: u64 = 1024 * 1024;

pub(crate) const OBJECT_TEMPLATE: &str = "s3://{bucket}/{key}";
pub(crate) const ENTRY_TEMPLATE: &str = "quilt+s3://{bucket}#package={name}&path={path}";

/// The resource templates.
pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(OBJECT_TEMPLATE, "s3_object")
            .with_title("S3 object")
            .with_description("An object: its text or bytes when small, else a bounded preview (Parquet, CSV/TSV, JSON) as JSON."),
        ResourceTemplate::new(ENTRY_TEMPLATE, "package_entry")
            .with_title("Quilt package entry")
            .with_description("An entry of a Quilt package (package=name or name@hash): as an object."),
    ]
}

/// A resource URI, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Object(S3Uri),
    Entry {
        bucket: String,
        name: String,
        top_hash: Option<String>,
        path: String,
    },
}

/// Parses `s3://bucket/key` (raw key, as the tools take it) or
/// `quilt+s3://bucket#package=name[@hash]&path=p` (fragment values percent-decoded, as
/// quilt3 writes them).
pub(crate) fn parse(uri: &str) -> Result<Target, ToolError> {
    if let Some(rest) = uri.strip_prefix("quilt+s3://") {
        let (bucket, fragment) = rest
            .split_once('#')
            .ok_or_else(|| ToolError::invalid_argument("a quilt+s3 URI needs #package=…&path=…"))?;
        s3uri::validate_bucket(bucket).map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        let (mut package, mut path) = (None, None);
        for pair in fragment.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map_err(|_| ToolError::invalid_argument(format!("{k} is not UTF-8")))?
                .into_owned();
            match k {
                "package" => package = Some(v),
                "path" => path = Some(v),
                _ => {}
            }
        }
        let package = package
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ToolError::invalid_argument("the URI names no package"))?;
        let path = path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ToolError::invalid_argument("the URI names no path"))?;
        let (name, top_hash) = match package.split_once('@') {
            Some((n, h)) => (n.to_owned(), Some(h.to_owned())),
            None => (package, None),
        };
        return Ok(Target::Entry {
            bucket: bucket.to_owned(),
            name,
            top_hash,
            path,
        });
    }
    s3uri::parse_s3_uri(uri)
        .map(Target::Object)
        .map_err(|e| ToolError::invalid_argument(format!("{uri}: {e}")))
}

/// Reads `uri` for the caller in scope.
pub(crate) async fn read(
    previewer: &Arc<Previewer>,
    uri: &str,
) -> Result<ReadResourceResult, ToolError> {
    let contents = match parse(uri)? {
        Target::Object(object) => object_contents(previewer, &object, uri).await?,
        Target::Entry {
            bucket,
            name,
            top_hash,
            path,
        } => {
            let p = previewer
                .package_entry(
                    &format!("s3://{bucket}"),
                    &name,
                    &path,
                    top_hash.as_deref(),
                    DEFAULT_ROWS,
                )
                .await?;
            preview_contents(&p, uri)?
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

async fn object_contents(
    previewer: &Arc<Previewer>,
    object: &S3Uri,
    uri: &str,
) -> Result<ResourceContents, ToolError> {
    let ctx = RequestContext::current()?;
    previewer
        .policy()
        .check_key(ctx.principal(), &object.bucket, &object.key)?;
    let s3 = previewer.aws().s3(AccessIntent::Read).await?;
    let (mut reader, content_type) = Ranged::open(
        &s3,
        &object.bucket,
        &object.key,
        object.version_id.as_deref(),
    )
    .await?;
    let plain = preview::plain_name(&object.key);
    if reader.size() <= RAW_BYTES && plain {
        let bytes = reader.get(0, reader.size()).await?;
        let mime = content_type.unwrap_or_else(|| "application/octet-stream".into());
        return Ok(match String::from_utf8(bytes.to_vec()) {
            Ok(text) => ResourceContents::text(text, uri).with_mime_type(mime),
            Err(_) => ResourceContents::blob(
                base64::engine::general_purpose::STANDARD.encode(&bytes),
                uri,
            )
            .with_mime_type(mime),
        });
    }
    let p = preview::preview(
        reader,
        &object.key,
        content_type,
        object.to_string(),
        DEFAULT_ROWS,
    )
    .await?;
    preview_contents(&p, uri)
}

fn preview_contents(p: &Preview, uri: &str) -> Result<ResourceContents, ToolError> {
    let json = serde_json::to_string(p)
        .map_err(|e| ToolError::internal(format!("preview not serialisable: {e}")))?;
    Ok(ResourceContents::text(json, uri).with_mime_type("application/json"))
}

/// The JSON-RPC error for a failed read or completion: not found is MCP's resource-not-found
/// error (-32002 up to 2025-11-25; rmcp answers -32602 to 2026-07-28 clients, as SEP-2164
/// says); bad URIs and refusals are invalid params; the tool error's code and message travel
/// in `data`, with the requested `uri` for a read (SEP-2164: the data SHOULD name it).
pub(crate) fn rpc_error(e: &ToolError, uri: Option<&str>) -> rmcp::ErrorData {
    let mut data = serde_json::json!({"code": e.code.as_str(), "message": e.message});
    if let Some(uri) = uri {
        data["uri"] = uri.into();
    }
    let data = Some(data);
    match e.code {
        ErrorCode::NotFound => rmcp::ErrorData::resource_not_found(e.message.clone(), data),
        ErrorCode::Internal | ErrorCode::UpstreamUnavailable | ErrorCode::Timeout => {
            rmcp::ErrorData::internal_error(e.message.clone(), data)
        }
        _ => rmcp::ErrorData::invalid_params(e.message.clone(), data),
    }
}

/// What the MCP handler needs for resources and completions: the previewer and the
/// completer, and the call scope each request runs in.
pub struct Surface {
    previewer: Arc<Previewer>,
    completer: Completer,
}

impl std::fmt::Debug for Surface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Surface")
    }
}

/// The scope resources and completions need in the token (the bucket tools' read scope).
const SCOPE: Scope = Scope::Read;

impl Surface {
    pub(crate) fn new(previewer: Arc<Previewer>, completer: Completer) -> Self {
        Self {
            previewer,
            completer,
        }
    }

    /// `resources/read` of `uri` for the caller in `ctx`.
    pub async fn read(
        &self,
        ctx: Arc<RequestContext>,
        scopes: &ScopePolicy,
        uri: &str,
    ) -> Result<ReadResourceResult, ToolError> {
        in_call_scope(ctx, scopes, "resources/read", read(&self.previewer, uri)).await
    }

    /// `prompts/get` of `name` (no AWS call; the workgroup checked against the allowed ones).
    pub fn prompt(
        &self,
        name: &str,
        arguments: Option<&rmcp::model::JsonObject>,
    ) -> Result<rmcp::model::GetPromptResult, ToolError> {
        crate::prompts::get(name, arguments, self.completer.allowed_workgroups())
    }

    /// `completion/complete` for the caller in `ctx`.
    pub async fn complete(
        &self,
        ctx: Arc<RequestContext>,
        scopes: &ScopePolicy,
        request: &CompleteRequestParams,
    ) -> Result<CompletionInfo, ToolError> {
        in_call_scope(
            ctx,
            scopes,
            "completion/complete",
            self.completer.complete(request),
        )
        .await
    }
}

/// Runs `fut` as a tool call runs: the scope checked, the caller's context as the
/// task-local, AWS calls recorded, one audit line.
async fn in_call_scope<T>(
    ctx: Arc<RequestContext>,
    scopes: &ScopePolicy,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    let started = std::time::Instant::now();
    let (result, record) = if scopes.allows(ctx.principal(), SCOPE) {
        crate::aws::recording(ctx.clone().scope(fut)).await
    } else {
        let e = ToolError::not_permitted(format!(
            "{what} needs the scope {SCOPE}, which the token does not grant"
        ));
        (Err(e), crate::aws::CallRecord::default())
    };
    let outcome = match &result {
        Ok(_) => crate::audit::Outcome::Ok,
        Err(e) => crate::audit::Outcome::Error(e.code.as_str()),
    };
    crate::audit::tool_call(&ctx, what, outcome, &record, started.elapsed());
    result
}
