//! `discover_permissions` and `check_bucket_access`: the permission engine
//! ([`crate::permissions`]) as tools. Both ask the same engine as `bucket_list`, so the three
//! cannot disagree about a bucket.
//!
//! `discover_permissions` says who AWS thinks the caller is (STS GetCallerIdentity; a failure
//! is a tool error), picks the buckets — `check_buckets` when given, else the grants
//! (`QUILT_BUCKETS` ∩ the token), else ListBuckets — checks at most
//! `MCP_PERMISSION_MAX_BUCKETS` of them, `MCP_PERMISSION_CONCURRENCY` at a time, and reports
//! the rest as skipped. Categories are derived from the answers, never the other way round.

use std::sync::Arc;

use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::AccessIntent;
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::sdk_error;
use crate::permissions::{Access, BucketAccess, Operation, PermissionEngine, Target};
use crate::scopes::Scope;
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;
use crate::tools::identity::AwsIdentity;

const READ: Scope = Scope::Read;

pub(crate) fn register(registry: &mut ToolRegistry, engine: &Arc<PermissionEngine>) {
    // Write probes (when configured) put and delete an object: not read-only then.
    let annotations = || {
        ToolAnnotations::new()
            .read_only(!engine.probes_writes())
            .destructive(false)
            .idempotent(true)
            .open_world(true)
    };
    registry.add_with(
        engine,
        "discover_permissions",
        "Who AWS says you are, and your list/read/write access (true, false or \"unknown\", with evidence) to check_buckets, or else to the buckets you may use; force_refresh skips the short cache.",
        annotations(),
        Some(READ),
        discover,
    );
    registry.add_with(
        engine,
        "check_bucket_access",
        "Your list/read/write access (true, false or \"unknown\", with evidence) to one bucket or bucket/prefix/; operations picks which; force_refresh skips the short cache.",
        annotations(),
        Some(READ),
        check_one,
    );
}

/// Arguments of `discover_permissions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoverInput {
    /// Buckets (or bucket/prefix/) to check; default: the buckets you may use.
    #[serde(default)]
    pub check_buckets: Option<Vec<String>>,
    /// Probe again instead of reusing answers from the last minute.
    #[serde(default)]
    pub force_refresh: bool,
}

/// Buckets grouped by what you can do there (from the answers; "unknown" is never counted as
/// true or false).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub(crate) struct Categories {
    /// write is true.
    pub writable: Vec<String>,
    /// read is true and write is not.
    pub readable: Vec<String>,
    /// list is true, read and write are false.
    pub list_only: Vec<String>,
    /// list, read and write are all false.
    pub no_access: Vec<String>,
    /// Everything else: some answer is unknown and none is true (see the evidence).
    pub undetermined: Vec<String>,
}

impl Categories {
    fn of(buckets: &[BucketAccess]) -> Self {
        let mut c = Self::default();
        for b in buckets {
            let name = if b.prefix.is_empty() {
                b.bucket.clone()
            } else {
                format!("{}/{}", b.bucket, b.prefix)
            };
            let all = [b.list, b.read, b.write];
            let list = if b.write == Access::Yes {
                &mut c.writable
            } else if b.read == Access::Yes {
                &mut c.readable
            } else if b.list == Access::Yes && b.read == Access::No && b.write == Access::No {
                &mut c.list_only
            } else if all.iter().all(|a| *a == Access::No) {
                &mut c.no_access
            } else {
                &mut c.undetermined
            };
            list.push(name);
        }
        c
    }
}

/// A bucket not checked, and why.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Skipped {
    /// The bucket as given or found.
    pub bucket: String,
    /// Why it was not checked.
    pub reason: String,
}

/// What `discover_permissions` found.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DiscoverOutput {
    /// Who AWS says your (read) credentials belong to.
    pub identity: AwsIdentity,
    /// Where the buckets came from: "check_buckets", "grants" or "list_buckets".
    pub bucket_source: String,
    /// Per bucket, in order.
    pub buckets: Vec<BucketAccess>,
    /// The buckets grouped by access.
    pub categories: Categories,
    /// Buckets not checked (over the per-call cap, invalid, or outside your grants).
    pub skipped: Vec<Skipped>,
    /// Whether write probes are on (off: write is "unknown" unless a bucket does not exist).
    pub write_probes: bool,
}

/// Arguments of `check_bucket_access`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckInput {
    /// The bucket, or bucket/prefix/ (s3:// optional).
    pub bucket: String,
    /// Which of list, read, write to check (default all).
    #[serde(default)]
    pub operations: Option<Vec<Operation>>,
    /// Probe again instead of reusing answers from the last minute.
    #[serde(default)]
    pub force_refresh: bool,
}

fn context() -> Result<Arc<RequestContext>, ToolError> {
    Ok(crate::call_scope::context()?)
}

async fn identity(engine: &PermissionEngine) -> Result<AwsIdentity, ToolError> {
    let sts = engine.aws().sts(AccessIntent::Read).await?;
    let out = sts.client.get_caller_identity().send().await.map_err(|e| {
        let mut err = sdk_error("STS GetCallerIdentity", &e);
        err.message = format!(
            "{} (credential source {}{})",
            err.message,
            sts.source,
            sts.role_arn
                .as_ref()
                .map(|r| format!(" as {r}"))
                .unwrap_or_default()
        );
        err.credential_source = Some(sts.source.as_str().to_owned());
        err
    })?;
    Ok(AwsIdentity {
        account: out.account().map(str::to_owned),
        arn: out.arn().map(str::to_owned),
        user_id: out.user_id().map(str::to_owned),
    })
}

async fn discover(
    engine: Arc<PermissionEngine>,
    input: DiscoverInput,
) -> Result<DiscoverOutput, ToolError> {
    let ctx = context()?;
    let principal = ctx.principal();
    let identity = identity(&engine).await?;
    let (candidates, bucket_source) = match input.check_buckets {
        Some(list) => {
            if list.is_empty() {
                return Err(ToolError::invalid_argument(
                    "check_buckets is empty: name buckets, or leave it out to check the buckets you may use",
                ));
            }
            (list, "check_buckets")
        }
        None => match engine.policy().named_buckets(principal) {
            Some(named) => (named.into_iter().map(|b| b.bucket).collect(), "grants"),
            None => (list_buckets(&engine).await?, "list_buckets"),
        },
    };
    let mut seen = std::collections::HashSet::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut skipped = Vec::new();
    let cap = engine.settings().max_buckets;
    for spec in candidates {
        if !seen.insert(spec.clone()) {
            continue;
        }
        match engine.target(principal, &spec) {
            Ok(_) if targets.len() >= cap => skipped.push(Skipped {
                bucket: spec,
                reason: format!(
                    "over the cap of {cap} buckets per call (MCP_PERMISSION_MAX_BUCKETS): ask for it with check_buckets or check_bucket_access"
                ),
            }),
            Ok(target) => targets.push(target),
            Err(e) => skipped.push(Skipped {
                bucket: spec,
                reason: e.message,
            }),
        }
    }
    let buckets = engine.check_all(&targets, input.force_refresh).await?;
    Ok(DiscoverOutput {
        identity,
        bucket_source: bucket_source.into(),
        categories: Categories::of(&buckets),
        buckets,
        skipped,
        write_probes: engine.probes_writes(),
    })
}

async fn list_buckets(engine: &PermissionEngine) -> Result<Vec<String>, ToolError> {
    let s3 = engine.aws().s3(AccessIntent::Read).await?;
    let out = s3.client.list_buckets().send().await.map_err(|e| {
        let mut err = sdk_error("ListBuckets", &e);
        if err.code == ErrorCode::AccessDenied {
            err = err.with_hint("name the buckets to check with check_buckets");
        }
        err.credential_source = Some(s3.source.as_str().to_owned());
        err
    })?;
    Ok(out
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|name| {
            context()
                .map(|ctx| engine.policy().prefixes(ctx.principal(), name).is_ok())
                .unwrap_or(false)
        })
        .map(str::to_owned)
        .collect())
}

async fn check_one(
    engine: Arc<PermissionEngine>,
    input: CheckInput,
) -> Result<BucketAccess, ToolError> {
    let ctx = context()?;
    let target = engine.target(ctx.principal(), &input.bucket)?;
    let ops = match input.operations {
        None => Operation::ALL.to_vec(),
        Some(ops) if ops.is_empty() => {
            return Err(ToolError::invalid_argument(
                "operations is empty: give some of list, read, write (or leave it out for all)",
            ));
        }
        Some(ops) => ops,
    };
    engine.check(&target, &ops, input.force_refresh).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{Evidence, EvidenceSet, Reason};

    fn answer(bucket: &str, list: Access, read: Access, write: Access) -> BucketAccess {
        let e = || Evidence {
            check: String::new(),
            reason: Reason::Allowed,
            detail: String::new(),
            request_id: None,
            probe_id: None,
            credential_source: None,
            role_arn: None,
            leftover: None,
        };
        BucketAccess {
            bucket: bucket.into(),
            prefix: String::new(),
            list,
            read,
            write,
            evidence: EvidenceSet {
                list: e(),
                read: e(),
                write: e(),
            },
            cached: false,
        }
    }

    #[test]
    fn categories_never_turn_unknown_into_an_answer() {
        use Access::{No, Unknown, Yes};
        let c = Categories::of(&[
            answer("rw", Yes, Yes, Yes),
            answer("ro", Yes, Yes, No),
            answer("ro-write-unknown", Yes, Yes, Unknown),
            answer("lo", Yes, No, No),
            answer("lo-empty", Yes, Unknown, No),
            answer("none", No, No, No),
            answer("prefix-writer", No, Unknown, Yes),
            answer("dark", No, Unknown, No),
        ]);
        assert_eq!(c.writable, ["rw", "prefix-writer"]);
        assert_eq!(c.readable, ["ro", "ro-write-unknown"]);
        assert_eq!(c.list_only, ["lo"]);
        assert_eq!(c.no_access, ["none"]);
        assert_eq!(c.undetermined, ["lo-empty", "dark"]);
    }
}
