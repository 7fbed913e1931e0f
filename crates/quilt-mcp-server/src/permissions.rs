//! The permission engine: for the caller in scope and a bucket (or bucket/prefix), whether
//! they can list, read and write — each `true`, `false` or `"unknown"`, with the evidence.
//! `discover_permissions`, `check_bucket_access` and `bucket_list` all ask this engine, so two
//! tools cannot disagree about the same bucket.
//!
//! Nothing is guessed; every answer is one AWS request made with the caller's credentials
//! (the Python peer once reported write access because listing worked):
//!
//! | operation | check | credentials |
//! |---|---|---|
//! | list | `ListObjectsV2` of the prefix, `MaxKeys=1` | read intent |
//! | read | a 1-byte ranged `GetObject` of the key that listing found (KMS decryption included) | read intent |
//! | write | opt-in probe: `PutObject` of a zero-byte object under `MCP_PERMISSION_WRITE_PROBE_PREFIX` with the configured SSE, deleted at once | write intent |
//!
//! Without a key to try (listing refused, or nothing under the prefix) read is `unknown`;
//! without probes (not configured, the token lacks `quilt:write`, or the probe prefix lies
//! outside the caller's grants) write is `unknown`. IAM policy simulation is not used: it
//! needs `iam:SimulatePrincipalPolicy` on the caller's own principal, cannot see bucket
//! policies, SCPs or session policies (so it can say "allowed" where a put fails), and the
//! emulator the tests run on does not implement it.
//!
//! Answers are cached per (subject, credential source, role, access key, bucket, prefix,
//! operation) for `MCP_PERMISSION_CACHE_TTL_S`; identical checks in flight share one probe
//! ([`cache`]); `force_refresh` asks for an answer probed after the request began.

mod cache;
mod denial;
mod probe;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt as _;
use quilt_mcp_auth::Principal;
use quilt_mcp_aws::cache::{Clock, SystemClock};
use quilt_mcp_aws::s3uri;
use quilt_mcp_aws::{AccessIntent, Caller, CredentialSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::{self, Aws};
use crate::grants::BucketPolicy;
use crate::scopes::{Scope, ScopePolicy};
use crate::settings::Settings;
use crate::settings::Sse;
use crate::tool_error::ToolError;

use cache::{Origin, ProbeCache, Probed};
pub(crate) use denial::Reason;
use probe::{Who, list_probe, read_probe, write_probe};

/// The write scope a token needs before the server writes a probe on its behalf.
const WRITE_SCOPE: Scope = Scope::Write;

/// `true`, `false` or `"unknown"` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// AWS allowed it.
    Yes,
    /// AWS refused it (or the bucket does not exist).
    No,
    /// Not determined; the evidence says why.
    Unknown,
}

impl Serialize for Access {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Yes => s.serialize_bool(true),
            Self::No => s.serialize_bool(false),
            Self::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl JsonSchema for Access {
    fn schema_name() -> Cow<'static, str> {
        "Access".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"enum": [true, false, "unknown"]})
    }
}

/// An operation the engine can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Operation {
    /// List keys (`s3:ListBucket`).
    List,
    /// Read objects (`s3:GetObject`, and KMS decrypt for KMS-encrypted objects).
    Read,
    /// Write objects (`s3:PutObject` with the configured encryption).
    Write,
}

impl Operation {
    /// All three.
    pub(crate) const ALL: [Self; 3] = [Self::List, Self::Read, Self::Write];
}

/// Why one answer is what it is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct Evidence {
    /// What was tried, or why nothing was.
    pub check: String,
    /// The reason, machine-readable.
    pub reason: Reason,
    /// What AWS answered (error code, HTTP status, message, request id) or what was found.
    pub detail: String,
    /// The AWS request id of the request, when AWS sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Identifies one probe: answers that share it (cached or concurrent) carry the same id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_id: Option<String>,
    /// The credential source of the request, when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub credential_source: Option<CredentialSource>,
    /// The role of the request, when the credentials are an assumed role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// A write-probe object the server could not delete (s3://…): remove it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftover: Option<String>,
}

impl Evidence {
    fn without_request(
        check: impl Into<String>,
        reason: Reason,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            check: check.into(),
            reason,
            detail: detail.into(),
            request_id: None,
            probe_id: None,
            credential_source: None,
            role_arn: None,
            leftover: None,
        }
    }
}

/// The evidence of each operation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct EvidenceSet {
    /// For list.
    pub list: Evidence,
    /// For read.
    pub read: Evidence,
    /// For write.
    pub write: Evidence,
}

/// What the caller can do in one bucket (or under one prefix of it).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct BucketAccess {
    /// The bucket.
    pub bucket: String,
    /// The prefix checked ("" for the whole bucket; your granted prefix when you are limited to one).
    pub prefix: String,
    /// Whether you can list keys under the prefix.
    pub list: Access,
    /// Whether you can read objects under the prefix.
    pub read: Access,
    /// Whether you can write (tested under the write-probe prefix).
    pub write: Access,
    /// Why, per operation.
    pub evidence: EvidenceSet,
    /// Whether every answer came from the cache (force_refresh to probe again).
    pub cached: bool,
}

/// A bucket and the prefix to check in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    /// The bucket.
    pub bucket: String,
    /// The prefix ("" for the whole bucket).
    pub prefix: String,
}

/// One operation's answer, as cached.
#[derive(Debug, Clone)]
struct Check {
    access: Access,
    evidence: Evidence,
    /// The first key the listing found (for the read check).
    first_key: Option<String>,
}

impl Probed for Check {
    fn reusable(&self) -> bool {
        self.evidence.reason != Reason::Inconclusive
    }

    fn failed(why: String) -> Self {
        Check {
            access: Access::Unknown,
            evidence: Evidence::without_request("the check", Reason::Inconclusive, why),
            first_key: None,
        }
    }
}

/// Who a probe runs as; part of the cache key (the access key id, not a secret, tells apart
/// two tokens of one subject that carry different credentials).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CheckKey {
    /// The caller (issuer and subject).
    caller: quilt_mcp_auth::IdentityKey,
    source: CredentialSource,
    role: Option<String>,
    access_key_id: String,
    bucket: String,
    prefix: String,
    op: Operation,
}

/// What the engine needs to know of the configuration (`MCP_PERMISSION_*`).
pub(crate) type EngineSettings = crate::settings::Permissions;

/// The engine. One per server; see the module docs.
#[derive(Debug)]
pub(crate) struct PermissionEngine {
    aws: Arc<Aws>,
    policy: BucketPolicy,
    scopes: ScopePolicy,
    sse: Sse,
    settings: EngineSettings,
    cache: ProbeCache<CheckKey, Check>,
}

/// When any check found that the bucket does not exist, every answer is `false` with that
/// evidence (one reason, not three different stories).
fn settle_missing_bucket(access: &mut BucketAccess, asked: &[Operation]) {
    let missing = [
        &access.evidence.list,
        &access.evidence.read,
        &access.evidence.write,
    ]
    .into_iter()
    .find(|e| e.reason == Reason::NoSuchBucket)
    .cloned();
    let Some(missing) = missing else {
        return;
    };
    for op in asked {
        let (slot, evidence) = match op {
            Operation::List => (&mut access.list, &mut access.evidence.list),
            Operation::Read => (&mut access.read, &mut access.evidence.read),
            Operation::Write => (&mut access.write, &mut access.evidence.write),
        };
        *slot = Access::No;
        if evidence.reason != Reason::NoSuchBucket {
            *evidence = missing.clone();
        }
    }
}

impl PermissionEngine {
    /// The engine for `config`, acting through `aws`.
    pub(crate) fn new(aws: &Arc<Aws>, config: &Settings) -> Self {
        Self::with_clock(aws, config, Arc::new(SystemClock))
    }

    /// Like [`PermissionEngine::new`] with a given clock.
    pub(crate) fn with_clock(aws: &Arc<Aws>, config: &Settings, clock: Arc<dyn Clock>) -> Self {
        let settings = config.permissions.clone();
        Self {
            aws: aws.clone(),
            policy: BucketPolicy::new(config.grants.clone()),
            scopes: config.scopes.clone(),
            sse: config.s3.sse.clone(),
            cache: ProbeCache::new(settings.ttl, clock),
            settings,
        }
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Whether write probes are on.
    pub(crate) fn probes_writes(&self) -> bool {
        self.settings.probe_prefix.is_some()
    }

    /// The caller's AWS clients.
    pub(crate) fn aws(&self) -> &Arc<Aws> {
        &self.aws
    }

    /// The bucket policy (grants) the engine checks against.
    pub(crate) fn policy(&self) -> &BucketPolicy {
        &self.policy
    }

    /// What to check for `spec`: `bucket`, `bucket/prefix/` or `s3://bucket/prefix/`. A bucket
    /// the caller is limited to prefixes of is checked at its first granted prefix; a prefix
    /// outside the grants is `not_permitted`, a bad name `invalid_argument`.
    pub(crate) fn target(&self, principal: &Principal, spec: &str) -> Result<Target, ToolError> {
        let spec = spec.trim().trim_start_matches("s3://");
        let (bucket, prefix) = spec.split_once('/').unwrap_or((spec, ""));
        s3uri::validate_bucket(bucket).map_err(|e| ToolError::invalid_argument(e.to_string()))?;
        let prefix = self.policy.list_prefix(principal, bucket, prefix)?;
        Ok(Target {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    fn key<C>(
        principal: &Principal,
        caller: &Caller<C>,
        bucket: &str,
        prefix: &str,
        op: Operation,
    ) -> CheckKey {
        CheckKey {
            caller: principal.identity_key(),
            source: caller.source,
            role: caller.role_arn.as_ref().map(|r| r.as_str().to_owned()),
            access_key_id: caller.resolved.credentials.access_key_id().to_owned(),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            op,
        }
    }

    /// Checks `ops` on `target` for the caller in scope. Credential failures are tool
    /// errors; everything AWS answers about the bucket is evidence.
    pub(crate) async fn check(
        &self,
        target: &Target,
        ops: &[Operation],
        force_refresh: bool,
    ) -> Result<BucketAccess, ToolError> {
        let ctx = crate::call_scope::context()?;
        let principal = ctx.principal();
        let not_before: Option<SystemTime> = force_refresh.then(|| self.cache.now());
        let wants = |op| ops.contains(&op);
        let not_requested =
            || Evidence::without_request("not checked", Reason::NotRequested, "not asked for");
        let mut origins = Vec::new();
        aws::touched(&target.bucket, None);

        let mut list = None;
        if wants(Operation::List) || wants(Operation::Read) {
            let s3 = self.aws.s3(AccessIntent::Read).await?;
            let key = Self::key(
                principal,
                &s3,
                &target.bucket,
                &target.prefix,
                Operation::List,
            );
            let (client, t, who) = (s3.client.clone(), target.clone(), Who::of(&s3));
            let (check, origin) = self
                .cache
                .get_or_probe(key, not_before, || list_probe(client, t, who))
                .await;
            origins.push(origin);
            list = Some((check, s3));
        }

        let read = if !wants(Operation::Read) {
            Check {
                access: Access::Unknown,
                evidence: not_requested(),
                first_key: None,
            }
        } else {
            match &list {
                Some((listed, s3)) => match (&listed.access, &listed.first_key) {
                    (Access::Yes, Some(first)) => {
                        let key = Self::key(
                            principal,
                            s3,
                            &target.bucket,
                            &target.prefix,
                            Operation::Read,
                        );
                        let (client, b, k, who) = (
                            s3.client.clone(),
                            target.bucket.clone(),
                            first.clone(),
                            Who::of(s3),
                        );
                        let (check, origin) = self
                            .cache
                            .get_or_probe(key, not_before, || read_probe(client, b, k, who))
                            .await;
                        origins.push(origin);
                        check
                    }
                    (Access::Yes, None) => Check {
                        access: Access::Unknown,
                        evidence: Evidence::without_request(
                            "GetObject of a listed key",
                            Reason::NoObject,
                            format!(
                                "there is no object under s3://{}/{} to try reading (the prefix is empty)",
                                target.bucket, target.prefix
                            ),
                        ),
                        first_key: None,
                    },
                    (Access::No, _) if listed.evidence.reason == Reason::NoSuchBucket => {
                        listed.clone()
                    }
                    (Access::No, _) => Check {
                        access: Access::Unknown,
                        evidence: Evidence::without_request(
                            "GetObject of a listed key",
                            Reason::ListDenied,
                            "listing is refused, so no real key is known to try reading",
                        ),
                        first_key: None,
                    },
                    (Access::Unknown, _) => Check {
                        access: Access::Unknown,
                        evidence: Evidence::without_request(
                            "GetObject of a listed key",
                            Reason::Inconclusive,
                            "listing gave no answer, so no real key is known to try reading",
                        ),
                        first_key: None,
                    },
                },
                None => Check::failed("no listing".into()),
            }
        };

        let write = if !wants(Operation::Write) {
            Check {
                access: Access::Unknown,
                evidence: not_requested(),
                first_key: None,
            }
        } else {
            self.write_check(
                principal,
                target,
                list.as_ref().map(|(c, _)| c),
                not_before,
                &mut origins,
            )
            .await?
        };

        let list = match list {
            Some((check, _)) if wants(Operation::List) => check,
            _ => Check {
                access: Access::Unknown,
                evidence: not_requested(),
                first_key: None,
            },
        };
        // The probes run on a task of their own (single-flight, `permissions/cache.rs`), out of
        // this call's scope, so the ClientFactory interceptor cannot note their request ids:
        // they come back with the evidence and are noted here — the one call site that does.
        for e in [&list.evidence, &read.evidence, &write.evidence] {
            if let Some(id) = &e.request_id {
                aws::aws_request(id);
            }
        }
        let mut access = BucketAccess {
            bucket: target.bucket.clone(),
            prefix: target.prefix.clone(),
            list: list.access,
            read: read.access,
            write: write.access,
            evidence: EvidenceSet {
                list: list.evidence,
                read: read.evidence,
                write: write.evidence,
            },
            cached: !origins.is_empty() && origins.iter().all(|o| *o == Origin::Cached),
        };
        settle_missing_bucket(&mut access, ops);
        Ok(access)
    }

    async fn write_check(
        &self,
        principal: &Principal,
        target: &Target,
        listed: Option<&Check>,
        not_before: Option<SystemTime>,
        origins: &mut Vec<Origin>,
    ) -> Result<Check, ToolError> {
        let unknown = |reason, detail: String| Check {
            access: Access::Unknown,
            evidence: Evidence::without_request("write probe", reason, detail),
            first_key: None,
        };
        let Some(prefix) = &self.settings.probe_prefix else {
            return Ok(unknown(
                Reason::ProbeDisabled,
                "write probes are off (MCP_PERMISSION_WRITE_PROBE_PREFIX is unset); write access is not guessed from read or list access".into(),
            ));
        };
        if !self.scopes.allows(principal, WRITE_SCOPE) {
            return Ok(unknown(
                Reason::NoWriteScope,
                format!("the token lacks {WRITE_SCOPE}, so the server writes no probe for you"),
            ));
        }
        let probe_key = format!("{prefix}quilt-mcp-write-probe");
        if let Err(e) = self.policy.check_key(principal, &target.bucket, &probe_key) {
            return Ok(unknown(
                Reason::ProbeOutsideGrants,
                format!(
                    "the probe prefix s3://{}/{prefix} is outside what you may use: {}",
                    target.bucket, e.message
                ),
            ));
        }
        if let Some(listed) = listed.filter(|c| c.evidence.reason == Reason::NoSuchBucket) {
            return Ok(listed.clone());
        }
        let s3 = self.aws.s3(AccessIntent::Write).await?;
        let key = Self::key(principal, &s3, &target.bucket, prefix, Operation::Write);
        let (client, bucket, prefix, sse, who) = (
            s3.client.clone(),
            target.bucket.clone(),
            prefix.clone(),
            self.sse.clone(),
            Who::of(&s3),
        );
        let (check, origin) = self
            .cache
            .get_or_probe(key, not_before, || {
                write_probe(client, bucket, prefix, sse, who)
            })
            .await;
        origins.push(origin);
        Ok(check)
    }

    /// Checks every operation on each target, at most `concurrency` at a time, in order.
    pub(crate) async fn check_all(
        &self,
        targets: &[Target],
        force_refresh: bool,
    ) -> Result<Vec<BucketAccess>, ToolError> {
        futures::stream::iter(targets.iter().cloned())
            .map(|t| async move { self.check(&t, &Operation::ALL, force_refresh).await })
            .buffered(self.settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(reason: Reason) -> Evidence {
        Evidence::without_request("c", reason, "d")
    }

    fn access(list: Reason, read: Reason, write: Reason) -> BucketAccess {
        BucketAccess {
            bucket: "b".into(),
            prefix: String::new(),
            list: Access::Unknown,
            read: Access::Unknown,
            write: Access::Unknown,
            evidence: EvidenceSet {
                list: evidence(list),
                read: evidence(read),
                write: evidence(write),
            },
            cached: false,
        }
    }

    #[test]
    fn access_is_true_false_or_unknown_on_the_wire() {
        assert_eq!(
            serde_json::to_value([Access::Yes, Access::No, Access::Unknown]).expect("json"),
            serde_json::json!([true, false, "unknown"])
        );
        let schema = serde_json::to_value(schemars::schema_for!(Access)).expect("schema");
        assert_eq!(schema["enum"], serde_json::json!([true, false, "unknown"]));
    }

    #[test]
    fn a_missing_bucket_makes_every_asked_answer_false_with_one_reason() {
        let mut a = access(
            Reason::NoSuchBucket,
            Reason::ListDenied,
            Reason::ProbeDisabled,
        );
        settle_missing_bucket(&mut a, &Operation::ALL);
        assert_eq!(
            (a.list, a.read, a.write),
            (Access::No, Access::No, Access::No)
        );
        assert!(
            [&a.evidence.list, &a.evidence.read, &a.evidence.write]
                .iter()
                .all(|e| e.reason == Reason::NoSuchBucket)
        );
        // Found by the write probe alone; list was not asked for and stays so.
        let mut a = access(
            Reason::NotRequested,
            Reason::NotRequested,
            Reason::NoSuchBucket,
        );
        settle_missing_bucket(&mut a, &[Operation::Write]);
        assert_eq!((a.list, a.write), (Access::Unknown, Access::No));
        assert_eq!(a.evidence.list.reason, Reason::NotRequested);
    }

    #[test]
    fn an_existing_bucket_is_left_alone() {
        let mut a = access(Reason::Allowed, Reason::NoObject, Reason::AccessDenied);
        a.list = Access::Yes;
        a.write = Access::No;
        settle_missing_bucket(&mut a, &Operation::ALL);
        assert_eq!(
            (a.list, a.read, a.write),
            (Access::Yes, Access::Unknown, Access::No)
        );
    }

    #[test]
    fn inconclusive_answers_are_not_reused() {
        assert!(!Check::failed("boom".into()).reusable());
        let ok = Check {
            access: Access::No,
            evidence: evidence(Reason::AccessDenied),
            first_key: None,
        };
        assert!(ok.reusable());
    }
}
