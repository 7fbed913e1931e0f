//! [`Settings`]: the server's configuration after start-up, every value in its parsed form.
//!
//! `config.rs` reads flags and the environment as clap gives them (strings, numbers) and
//! [`crate::config::Config::validate`] turns them into this, once: a setting that does not
//! parse stops start-up there, naming the variable. Everything after start-up receives
//! these typed groups — [`Sse`], bucket grants, credential sources, role ARNs, ARN patterns,
//! the scope policy — so no later code parses a setting again, and none can drop a failure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use http::HeaderValue;
use quilt_mcp_auth::{BucketGrants, RoleArn, VerifierOptions};
use quilt_mcp_aws::{CredentialSource, RoleArnAllow};

use crate::admission::FairnessSettings;
use crate::config::LogFormat;
use crate::scopes::ScopePolicy;
use crate::seal::SealKey;

/// Every setting, parsed. Built only by [`crate::config::Config::validate`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Listening, public URL, Host/Origin checks, limits, shutdown.
    pub http: Http,
    /// Token verification.
    pub auth: Auth,
    /// Where AWS is and how callers get credentials.
    pub aws: Aws,
    /// Writes to S3.
    pub s3: S3,
    /// Athena queries.
    pub athena: Athena,
    /// The permission engine.
    pub permissions: Permissions,
    /// `MCP_REQUIRE_SCOPES` and `MCP_SCOPE_MAP`.
    pub scopes: ScopePolicy,
    /// `QUILT_BUCKETS`; `None` when unset (every bucket, as far as the server is concerned).
    pub grants: Option<BucketGrants>,
    /// The Quilt catalog, when `QUILT_CATALOG_URL` is set.
    pub catalog: Option<quilt_catalog::CatalogSettings>,
    /// The key that seals page tokens and tags Athena executions (`MCP_HANDLE_KEY`, else
    /// derived from `MCP_JWT_SECRET`, else random for this process).
    pub seal_key: Arc<SealKey>,
    /// Log output format.
    pub log_format: LogFormat,
    /// CloudWatch namespace of the metric lines; `None`: no metric lines.
    pub metrics_namespace: Option<String>,
    /// `MCP_TASK_HEARTBEAT_S`: how often a package task's run rewrites its state object
    /// (`package_tasks.rs`).
    pub task_heartbeat: Duration,
}

/// The HTTP side.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Http {
    /// `MCP_LISTEN`.
    pub listen: SocketAddr,
    /// `MCP_PUBLIC_URL` (default `http://<listen>`), without a trailing slash.
    pub public_url: String,
    /// Hosts accepted in `Host`: the configured ones, the public URL's, and loopback.
    pub allowed_hosts: Vec<String>,
    /// `MCP_ALLOWED_ORIGINS` (empty: any origin), as given.
    pub allowed_origins: Vec<String>,
    /// The same origins as header values, for CORS.
    pub cors_origins: Vec<HeaderValue>,
    /// `MCP_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `MCP_REQUEST_TIMEOUT_S`.
    pub request_timeout: Duration,
    /// `MCP_MAX_IN_FLIGHT`.
    pub max_in_flight: usize,
    /// `MCP_SHUTDOWN_GRACE_S`.
    pub shutdown_grace: Duration,
    /// Per-caller admission.
    pub fairness: FairnessSettings,
    /// `MCP_HEALTHZ_STRICT`.
    pub healthz_strict: bool,
}

impl Http {
    /// The protected resource: the MCP endpoint's public URL.
    pub fn resource_url(&self) -> String {
        format!("{}/mcp", self.public_url)
    }

    /// Where the RFC 9728 metadata of the MCP endpoint is served.
    pub fn resource_metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            self.public_url
        )
    }
}

/// Token verification.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Auth {
    /// What the verifier accepts; `None` when `MCP_AUTH_DISABLED`.
    pub verifier: Option<VerifierOptions>,
    /// `MCP_JWT_ISSUER`.
    pub issuer: Option<String>,
    /// `MCP_JWT_AUDIENCE`.
    pub audience: Option<String>,
    /// Whether tokens come from a JWKS (`MCP_JWT_JWKS_URL` set).
    pub jwks: bool,
}

/// AWS: endpoint and credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Aws {
    /// `AWS_REGION`.
    pub region: String,
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// `MCP_CREDENTIAL_SOURCES` (with the mode's default), in order, no duplicates.
    pub sources: Vec<CredentialSource>,
    /// `MCP_ROLE_ARN_ALLOW`, compiled.
    pub role_arn_allow: RoleArnAllow,
    /// `MCP_ROLE_SESSION_DURATION_S` (900 to 43200).
    pub role_session_duration_s: i32,
    /// `MCP_ROLE_CHECK_INTERVAL_S` (at least one second).
    pub role_check_interval: Duration,
    /// `QUILT_READ_ROLE_ARN`.
    pub read_role_arn: Option<RoleArn>,
    /// `QUILT_WRITE_ROLE_ARN`.
    pub write_role_arn: Option<RoleArn>,
    /// `QUILT_STACK_NAME`.
    pub stack_name: Option<String>,
    /// `QUILT_REGISTRY_URL`.
    pub registry_url: Option<String>,
}

impl Aws {
    /// Whether `ambient` is among the credential sources.
    pub fn ambient_allowed(&self) -> bool {
        self.sources.contains(&CredentialSource::Ambient)
    }
}

/// Writes to S3.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct S3 {
    /// `S3_SSE` and `S3_SSE_KMS_KEY_ID`.
    pub sse: Sse,
    /// `S3_MULTIPART_THRESHOLD_BYTES`.
    pub multipart_threshold_bytes: usize,
}

/// Athena.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Athena {
    /// `ATHENA_WORKGROUP`.
    pub workgroup: String,
    /// `ATHENA_ALLOWED_WORKGROUPS` (default: only the workgroup).
    pub allowed_workgroups: Vec<String>,
    /// `ATHENA_OUTPUT_LOCATION`.
    pub output_location: Option<String>,
    /// `ATHENA_OUTSIDE_BUCKET_GRANTS`.
    pub outside_bucket_grants: bool,
}

/// The permission engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Permissions {
    /// `MCP_PERMISSION_WRITE_PROBE_PREFIX` (`None`: no write probes).
    pub probe_prefix: Option<String>,
    /// `MCP_PERMISSION_CACHE_TTL_S`.
    pub ttl: Duration,
    /// `MCP_PERMISSION_MAX_BUCKETS`.
    pub max_buckets: usize,
    /// `MCP_PERMISSION_CONCURRENCY`.
    pub concurrency: usize,
}

/// Server-side encryption for writes, as the two request fields every write sets (the
/// permission engine's write probe sets the same). Parsed once from `S3_SSE` and
/// `S3_SSE_KMS_KEY_ID` at start-up ([`Sse::parse`]). It lives with the settings, not in
/// `s3.rs`, so the settings need nothing from the AWS layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sse {
    pub(crate) mode: Option<ServerSideEncryption>,
    pub(crate) kms_key_id: Option<String>,
}

impl Default for Sse {
    /// `S3_SSE=AES256`.
    fn default() -> Self {
        Self {
            mode: Some(ServerSideEncryption::Aes256),
            kms_key_id: None,
        }
    }
}

impl Sse {
    /// The forms `S3_SSE` accepts (any case).
    pub const ACCEPTED: &'static str = "AES256, aws:kms or none";

    /// `S3_SSE` (`AES256`, `aws:kms` or `none`, any case; blank is `none`) and
    /// `S3_SSE_KMS_KEY_ID` (only with `aws:kms`). The error names the setting at fault.
    pub fn parse(mode: &str, kms_key_id: Option<String>) -> Result<Self, (&'static str, String)> {
        let mode = match mode.trim().to_ascii_lowercase().as_str() {
            "aes256" => Some(ServerSideEncryption::Aes256),
            "aws:kms" => Some(ServerSideEncryption::AwsKms),
            "none" | "" => None,
            other => {
                return Err(("S3_SSE", format!("{other:?} is not {}", Self::ACCEPTED)));
            }
        };
        if kms_key_id.is_some() && mode != Some(ServerSideEncryption::AwsKms) {
            return Err(("S3_SSE_KMS_KEY_ID", "set, but S3_SSE is not aws:kms".into()));
        }
        Ok(Self { mode, kms_key_id })
    }
}
