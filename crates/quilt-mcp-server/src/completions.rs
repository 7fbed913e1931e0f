//! `completion/complete` for the resource templates' arguments (`resources.rs`): bucket
//! names from the caller's grants (or, when nothing names buckets, one `ListBuckets` with the
//! caller's credentials, filtered by the grants), key prefixes (one `ListObjectsV2` with the
//! delimiter `/`, inside the granted prefix), and package names in a registry (one
//! `ListObjectsV2` over `.quilt/named_packages/`). Each answer is at most 100 values (MCP's
//! limit) and costs at most one AWS request, made with the caller's credentials inside the
//! caller's call scope (`mcp.rs`). A bucket outside the grants completes to nothing, without
//! a request.
//!
//! The prompts' arguments (`prompts.rs`) complete the same way (`bucket`, `package`), and an
//! Athena `workgroup` completes from one `ListWorkGroups` page with the caller's credentials,
//! filtered to the workgroups the server allows (`ATHENA_ALLOWED_WORKGROUPS`); it needs the
//! Athena scope, and without it completes to nothing.
//!
//! Package entry paths are not completed: that would mean reading the package's manifest
//! on every keystroke. Nor are Glue databases (`athena_explore`'s `database`): a page of
//! `GetDatabases` per keystroke buys little over `athena_databases_list`.

use std::sync::Arc;

use aws_sdk_s3::operation::RequestId as _;
use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::AccessIntent;
use quilt_package::registry::NAMED_PACKAGES_PREFIX;
use rmcp::model::{CompleteRequestParams, CompletionInfo, Reference};

use crate::aws::{self, Aws};
use crate::grants::BucketPolicy;
use crate::prompts::{ATHENA_EXPLORE, PACKAGE_SUMMARY};
use crate::resources::{ENTRY_TEMPLATE, OBJECT_TEMPLATE};
use crate::s3::s3_error;
use crate::tool_error::ToolError;

const MAX_VALUES: usize = CompletionInfo::MAX_VALUES;
/// The scope Athena tools need (tools/athena.rs).
const ATHENA_SCOPE: crate::scopes::Scope = crate::scopes::Scope::AthenaQuery;

/// Completes template arguments for the caller in scope.
pub(crate) struct Completer {
    aws: Arc<Aws>,
    policy: BucketPolicy,
    /// `ATHENA_ALLOWED_WORKGROUPS`: the workgroups a `workgroup` argument may name.
    workgroups: Vec<String>,
    /// Whether the caller may use Athena (its scope), for workgroup completion.
    athena_scope: Option<crate::scopes::ScopePolicy>,
}

impl Completer {
    pub(crate) fn new(aws: &Arc<Aws>, policy: BucketPolicy) -> Self {
        Self {
            aws: aws.clone(),
            policy,
            workgroups: Vec::new(),
            athena_scope: None,
        }
    }

    /// Completes Athena workgroups among `allowed`, for callers `scopes` lets use Athena.
    pub(crate) fn with_workgroups(
        mut self,
        allowed: Vec<String>,
        scopes: crate::scopes::ScopePolicy,
    ) -> Self {
        self.workgroups = allowed;
        self.athena_scope = Some(scopes);
        self
    }

    /// The workgroups a prompt's `workgroup` may name.
    pub(crate) fn allowed_workgroups(&self) -> &[String] {
        &self.workgroups
    }

    /// The values for `request`'s argument (empty for arguments this server does not complete).
    pub(crate) async fn complete(
        &self,
        request: &CompleteRequestParams,
    ) -> Result<CompletionInfo, ToolError> {
        let value = request.argument.value.as_str();
        let bucket = request
            .context
            .as_ref()
            .and_then(|c| c.get_argument("bucket"))
            .map(String::as_str)
            .unwrap_or_default();
        let bucket = bucket.strip_prefix("s3://").unwrap_or(bucket);
        let argument = request.argument.name.as_str();
        let (values, more) = match &request.r#ref {
            Reference::Resource(r) => match (r.uri.as_str(), argument) {
                (OBJECT_TEMPLATE | ENTRY_TEMPLATE, "bucket") => self.buckets(value).await?,
                (OBJECT_TEMPLATE, "key") if !bucket.is_empty() => self.keys(bucket, value).await?,
                (ENTRY_TEMPLATE, "name") if !bucket.is_empty() => {
                    self.packages(bucket, value).await?
                }
                _ => (Vec::new(), false),
            },
            Reference::Prompt(p) => match (p.name.as_str(), argument) {
                (PACKAGE_SUMMARY, "bucket") => self.buckets(value).await?,
                (PACKAGE_SUMMARY, "package") if !bucket.is_empty() => {
                    self.packages(bucket, value).await?
                }
                (ATHENA_EXPLORE, "workgroup") => self.workgroups(value).await?,
                _ => (Vec::new(), false),
            },
            _ => (Vec::new(), false),
        };
        let total = values.len() as u32;
        CompletionInfo::with_pagination(values, (!more).then_some(total), more)
            .map_err(ToolError::internal)
    }

    async fn buckets(&self, value: &str) -> Result<(Vec<String>, bool), ToolError> {
        let ctx = RequestContext::current()?;
        let names: Vec<String> = match self.policy.named_buckets(ctx.principal()) {
            Some(named) => named.into_iter().map(|b| b.bucket).collect(),
            None => {
                let s3 = self.aws.s3(AccessIntent::Read).await?;
                let out = s3
                    .client
                    .list_buckets()
                    .send()
                    .await
                    .map_err(|e| s3_error("ListBuckets", &e, &s3))?;
                aws::aws_request(out.request_id());
                out.buckets()
                    .iter()
                    .filter_map(|b| b.name())
                    .filter(|b| self.policy.prefixes(ctx.principal(), b).is_ok())
                    .map(str::to_owned)
                    .collect()
            }
        };
        let mut matching: Vec<String> =
            names.into_iter().filter(|b| b.starts_with(value)).collect();
        matching.sort();
        let more = matching.len() > MAX_VALUES;
        matching.truncate(MAX_VALUES);
        Ok((matching, more))
    }

    /// Allowed workgroups starting with `value` that exist for the caller: one
    /// `ListWorkGroups` page (up to 50, Athena's maximum) with the caller's credentials.
    async fn workgroups(&self, value: &str) -> Result<(Vec<String>, bool), ToolError> {
        let ctx = RequestContext::current()?;
        let may_query = self
            .athena_scope
            .as_ref()
            .is_some_and(|s| s.allows(ctx.principal(), ATHENA_SCOPE));
        let candidates = self.workgroups.iter().any(|w| w.starts_with(value));
        if !may_query || !candidates {
            return Ok((Vec::new(), false));
        }
        let athena = self.aws.athena(AccessIntent::Read).await?;
        let out = athena
            .client
            .list_work_groups()
            .max_results(50)
            .send()
            .await
            .map_err(|e| aws::sdk_error("ListWorkGroups", &e))?;
        aws::aws_request(out.request_id());
        let mut names: Vec<String> = out
            .work_groups()
            .iter()
            .filter_map(|w| w.name())
            .filter(|w| w.starts_with(value) && self.workgroups.iter().any(|a| a == w))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.truncate(MAX_VALUES);
        Ok((names, out.next_token().is_some()))
    }

    /// Keys and "folders" under `value` in `bucket`, one level deep.
    async fn keys(&self, bucket: &str, value: &str) -> Result<(Vec<String>, bool), ToolError> {
        let ctx = RequestContext::current()?;
        let Ok(prefix) = self.policy.list_prefix(ctx.principal(), bucket, value) else {
            return Ok((Vec::new(), false));
        };
        self.list(bucket, &prefix, |k| Some(k.to_owned())).await
    }

    /// Package names (`user/name`) starting with `value` in the registry `bucket`.
    async fn packages(&self, bucket: &str, value: &str) -> Result<(Vec<String>, bool), ToolError> {
        let ctx = RequestContext::current()?;
        if self
            .policy
            .check_key(ctx.principal(), bucket, NAMED_PACKAGES_PREFIX)
            .is_err()
        {
            return Ok((Vec::new(), false));
        }
        // `user/` first, then `user/name` once the user is typed.
        let prefix = format!("{NAMED_PACKAGES_PREFIX}{value}");
        let complete_user = value.contains('/');
        self.list(bucket, &prefix, |k| {
            let name = k.strip_prefix(NAMED_PACKAGES_PREFIX)?;
            if complete_user {
                Some(name.trim_end_matches('/').to_owned())
            } else {
                Some(name.to_owned())
            }
        })
        .await
    }

    /// One `ListObjectsV2` page under `prefix` with the delimiter `/`: common prefixes, then
    /// keys, each mapped by `show`.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        show: impl Fn(&str) -> Option<String>,
    ) -> Result<(Vec<String>, bool), ToolError> {
        aws::touched(bucket, (!prefix.is_empty()).then_some(prefix));
        let s3 = self.aws.s3(AccessIntent::Read).await?;
        let out = s3
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .max_keys(MAX_VALUES as i32)
            .send()
            .await
            .map_err(|e| s3_error("ListObjectsV2", &e, &s3))?;
        aws::aws_request(out.request_id());
        let mut values: Vec<String> = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .chain(out.contents().iter().filter_map(|o| o.key()))
            .filter_map(show)
            .collect();
        values.dedup();
        values.truncate(MAX_VALUES);
        Ok((values, out.is_truncated().unwrap_or(false)))
    }
}
