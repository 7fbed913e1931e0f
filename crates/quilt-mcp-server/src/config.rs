//! [`Config`]: every setting of the server, read once at start-up from flags or the
//! environment (clap, `env` on every option, so `--help` documents all of it) and validated
//! before anything listens. A bad setting stops the process with a message that names it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use http::HeaderValue;
use quilt_mcp_auth::{
    BucketGrants, JwksOptions, RoleArn, Secret, VerifierOptions, is_https_or_loopback,
};
use quilt_mcp_aws::{CredentialSource, RoleArnAllow};

use crate::scopes::ScopePolicy;
use crate::seal::SealKey;
use crate::settings::Sse;
use crate::settings::{self, Settings};

/// Minimum HS256 secret length: RFC 7518 §3.2 wants a key at least as long as the hash.
const MIN_SECRET_BYTES: usize = 32;

/// Default `MCP_MAX_BODY_BYTES`: 24 MiB, so a put above the 8 MiB multipart threshold (about
/// 18 MiB of objects once base64 has grown them by a third) fits in one request.
pub const DEFAULT_MAX_BODY_BYTES: usize = 24 * 1024 * 1024;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for CloudWatch).
    Json,
}

/// All settings. See `docs/CONFIGURATION.md`.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MCP_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Public base URL clients use (e.g. https://mcp.example.com); the PRM document and the
    /// WWW-Authenticate header are built from it. Default: http://<MCP_LISTEN>.
    #[arg(long, env = "MCP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Host names (or host:port) accepted in the Host header, comma separated. The host of
    /// MCP_PUBLIC_URL and the loopback names are always accepted.
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Browser origins allowed to call the server (scheme://host[:port]), comma separated.
    /// Empty: any origin may call (bearer tokens, no cookies), and Origin is not validated.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest request body accepted, in bytes. The default (24 MiB) carries a
    /// `bucket_objects_put` of about 18 MiB of objects (base64), past the multipart threshold.
    #[arg(long, env = "MCP_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Time limit for one HTTP request, in seconds (under the ALB idle timeout).
    #[arg(long, env = "MCP_REQUEST_TIMEOUT_S", default_value_t = 55)]
    pub request_timeout_s: u64,

    /// Most MCP requests served at once by this process; beyond it, 503 + Retry-After.
    #[arg(long, env = "MCP_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,

    /// Seconds in-flight requests get to finish after SIGTERM (under Fargate's 30 s).
    #[arg(long, env = "MCP_SHUTDOWN_GRACE_S", default_value_t = 25)]
    pub shutdown_grace_s: u64,

    /// HS256 secret for bearer tokens.
    #[arg(long, env = "MCP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// The previous HS256 secret, still accepted during a rotation.
    #[arg(long, env = "MCP_JWT_SECRET_PREVIOUS", hide_env_values = true)]
    pub jwt_secret_previous: Option<String>,

    /// JWKS URL for RS256/ES256/EdDSA tokens (https, or http on loopback).
    #[arg(long, env = "MCP_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// Minimum seconds between two JWKS fetches (an unknown kid triggers at most one).
    #[arg(long, env = "MCP_JWT_JWKS_REFETCH_S", default_value_t = 60)]
    pub jwt_jwks_refetch_s: u64,

    /// Required token issuer (`iss`).
    #[arg(long, env = "MCP_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required token audience (`aud`). Unset: `aud` must be this server's resource URL
    /// (MCP_PUBLIC_URL + /mcp); see MCP_JWT_ALLOW_MISSING_AUD.
    #[arg(long, env = "MCP_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew allowed on exp/nbf/iat, in seconds.
    #[arg(long, env = "MCP_JWT_LEEWAY_S", default_value_t = 30)]
    pub jwt_leeway_s: u64,

    /// Serve without authentication, as a fixed local principal. Development and
    /// conformance testing only: refused unless listening on loopback.
    #[arg(long, env = "MCP_AUTH_DISABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub auth_disabled: bool,

    /// Credential sources in order, comma separated: jwt, role_claim, catalog, stack_roles,
    /// ambient. Default: jwt,role_claim,catalog,stack_roles over HTTP; ambient over stdio.
    #[arg(long, env = "MCP_CREDENTIAL_SOURCES", value_delimiter = ',')]
    pub credential_sources: Vec<String>,

    /// ARN patterns (`*` wildcards) a token's role_arn must match for the role_claim source.
    /// Empty: role_arn claims are refused.
    #[arg(long, env = "MCP_ROLE_ARN_ALLOW", value_delimiter = ',')]
    pub role_arn_allow: Vec<String>,

    /// Lifetime of assumed-role sessions, in seconds (900 to 43200).
    #[arg(long, env = "MCP_ROLE_SESSION_DURATION_S", default_value_t = 3600)]
    pub role_session_duration_s: i32,

    /// Seconds between background checks of the stack roles (when one failed or nears expiry).
    #[arg(long, env = "MCP_ROLE_CHECK_INTERVAL_S", default_value_t = 60)]
    pub role_check_interval_s: u64,

    /// The stack read role (read intent), for the stack_roles source.
    #[arg(long, env = "QUILT_READ_ROLE_ARN")]
    pub read_role_arn: Option<String>,

    /// The stack write role (write intent; the read role is used when unset).
    #[arg(long, env = "QUILT_WRITE_ROLE_ARN")]
    pub write_role_arn: Option<String>,

    /// A Quilt CloudFormation stack whose T4BucketReadRole/T4BucketWriteRole are the stack
    /// roles (ARNs given explicitly take precedence).
    #[arg(long, env = "QUILT_STACK_NAME")]
    pub stack_name: Option<String>,

    /// The Quilt registry URL, for the catalog source (GET <url>/api/auth/get_credentials).
    #[arg(long, env = "QUILT_REGISTRY_URL")]
    pub registry_url: Option<String>,

    /// Buckets (or bucket/prefix/) this deployment serves, comma separated; a caller may use
    /// a bucket only if this list (when set) and the token's buckets claim (when present) both
    /// allow it.
    #[arg(long, env = "QUILT_BUCKETS", value_delimiter = ',')]
    pub buckets: Vec<String>,

    /// Server-side encryption on every write: AES256, aws:kms or none.
    #[arg(long, env = "S3_SSE", default_value = "AES256")]
    pub s3_sse: String,

    /// KMS key for S3_SSE=aws:kms (default: the bucket's AWS-managed key).
    #[arg(long, env = "S3_SSE_KMS_KEY_ID")]
    pub s3_sse_kms_key_id: Option<String>,

    /// Puts larger than this use multipart upload (bytes, at least 5 MiB).
    #[arg(long, env = "S3_MULTIPART_THRESHOLD_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub s3_multipart_threshold_bytes: usize,

    /// The Athena workgroup queries run in when the caller names none.
    #[arg(long, env = "ATHENA_WORKGROUP", default_value = "primary")]
    pub athena_workgroup: String,

    /// Workgroups callers may use, comma separated (default: only ATHENA_WORKGROUP).
    #[arg(long, env = "ATHENA_ALLOWED_WORKGROUPS", value_delimiter = ',')]
    pub athena_allowed_workgroups: Vec<String>,

    /// Where Athena writes results, when the workgroup does not say (s3://bucket/prefix/).
    #[arg(long, env = "ATHENA_OUTPUT_LOCATION")]
    pub athena_output_location: Option<String>,

    /// AWS region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub aws_region: String,

    /// AWS endpoint override, for local emulators (e.g. http://127.0.0.1:5000).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// Whether tools need their scope (quilt:read, quilt:write, athena:query) in the token.
    /// Turn off for issuers that do not put scopes in tokens.
    #[arg(long, env = "MCP_REQUIRE_SCOPES", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_scopes: bool,

    /// Scope names as the token issuer spells them: server_scope=token_scope, comma
    /// separated (e.g. quilt:read=catalog.read).
    #[arg(long, env = "MCP_SCOPE_MAP", value_delimiter = ',')]
    pub scope_map: Vec<String>,

    /// Key prefix (e.g. `.quilt-mcp-probe/`) under which the permission engine may write and at
    /// once delete a zero-byte object to learn whether the caller can write. Unset: no write
    /// probes (write access is then `unknown`).
    #[arg(long, env = "MCP_PERMISSION_WRITE_PROBE_PREFIX")]
    pub permission_write_probe_prefix: Option<String>,

    /// Seconds a permission answer is reused for the same caller, credentials and bucket
    /// (0: never reused; concurrent identical checks still share one probe).
    #[arg(long, env = "MCP_PERMISSION_CACHE_TTL_S", default_value_t = 60)]
    pub permission_cache_ttl_s: u64,

    /// Most buckets one discover_permissions or bucket_list call checks; the rest are
    /// reported as skipped.
    #[arg(long, env = "MCP_PERMISSION_MAX_BUCKETS", default_value_t = 25)]
    pub permission_max_buckets: usize,

    /// Buckets checked at once by one call.
    #[arg(long, env = "MCP_PERMISSION_CONCURRENCY", default_value_t = 4)]
    pub permission_concurrency: usize,

    /// Answer /healthz with 503 (not 200 "degraded") when a configured role cannot be assumed.
    #[arg(long, env = "MCP_HEALTHZ_STRICT", default_value_t = false, action = clap::ArgAction::Set)]
    pub healthz_strict: bool,

    /// Log format.
    #[arg(long, env = "MCP_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    // --- The Quilt catalog (search, bucket configs, catalog links, Tabulator) ---
    /// The Quilt catalog's web address (https://catalog.example.com). Enables the catalog
    /// tools and catalog URLs in answers; the registry API is QUILT_REGISTRY_URL, else the
    /// `registryUrl` of the catalog's config.json.
    #[arg(long, env = "QUILT_CATALOG_URL")]
    pub catalog_url: Option<String>,

    /// Time limit of one request to the catalog, in seconds.
    #[arg(long, env = "QUILT_CATALOG_TIMEOUT_S", default_value_t = 10)]
    pub catalog_timeout_s: u64,
    /// CloudWatch namespace of the metric lines (Embedded Metric Format, one per
    /// authentication outcome and per tool call, on stderr). Unset: no metric lines.
    #[arg(long, env = "MCP_METRICS_NAMESPACE")]
    pub metrics_namespace: Option<String>,
    // Identity and fairness (issue 14): the audience opt-out and per-caller admission.
    /// Accept tokens without `aud` (when MCP_JWT_AUDIENCE is unset). Off by default: a token
    /// must name this server (its resource URL, or MCP_JWT_AUDIENCE). A token that has `aud`
    /// must name this server either way.
    #[arg(long, env = "MCP_JWT_ALLOW_MISSING_AUD", default_value_t = false, action = clap::ArgAction::Set)]
    pub jwt_allow_missing_aud: bool,

    /// Per-caller admission: pre-authentication budget, in-flight share, rate.
    #[command(flatten)]
    pub fairness: crate::admission::FairnessSettings,
    // --- Ownership (seal.rs, ownership.rs) ---
    /// Key (at least 32 bytes) that authenticates page tokens and tags Athena executions with
    /// their owner; every task of a deployment needs the same one. Unset: derived from
    /// MCP_JWT_SECRET, else random per process (tokens and ownership then hold in one task).
    #[arg(long, env = "MCP_HANDLE_KEY", hide_env_values = true)]
    pub handle_key: Option<String>,

    /// Seconds between the heartbeats a package task's runner writes to its state object in
    /// S3; a task whose last heartbeat is older than six of them reads `failed` (docs/TOOLS.md,
    /// "Package tasks").
    #[arg(long, env = "MCP_TASK_HEARTBEAT_S", default_value_t = 10)]
    pub task_heartbeat_s: u64,

    /// Let callers whose buckets are restricted (QUILT_BUCKETS or a `buckets` claim) use the
    /// Athena query tools anyway: Athena is outside bucket grants.
    #[arg(long, env = "ATHENA_OUTSIDE_BUCKET_GRANTS", default_value_t = false, action = clap::ArgAction::Set)]
    pub athena_outside_bucket_grants: bool,
}

/// A configuration error, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    setting: &'static str,
    message: String,
}

pub(crate) fn err(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// Which transport the process serves; some defaults differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `serve`.
    Http,
    /// `stdio`.
    Stdio,
}

impl Config {
    /// The defaults of every setting, listening on `listen`, without reading the environment
    /// (tests, and commands that need no flags of their own). The defaults are written once,
    /// in the clap attributes above (what `--help` shows): this parses an empty command line
    /// with every `env` switched off, so the two cannot disagree.
    pub fn with_defaults(listen: SocketAddr) -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let command =
            <Defaults as clap::CommandFactory>::command().mut_args(|a| a.env(None::<&str>));
        let parsed = command
            .try_get_matches_from(["quilt-mcp-server"])
            .map_err(|e| e.to_string())
            .and_then(|m| {
                <Defaults as clap::FromArgMatches>::from_arg_matches(&m).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(Defaults { mut config }) => {
                config.listen = listen;
                config
            }
            // Every setting has a default or is optional: an empty command line always
            // parses (`help_defaults_and_with_defaults_agree` runs this path).
            Err(e) => unreachable!("the empty command line does not parse: {e}"),
        }
    }

    /// Checks every setting and parses it into [`Settings`], once: a value that does not parse
    /// stops start-up here with a [`ConfigError`] naming the variable and what it accepts.
    pub fn validate(mut self, mode: Mode) -> Result<Settings, ConfigError> {
        let loopback = self.listen.ip().is_loopback();
        if self.auth_disabled && mode == Mode::Http && !loopback {
            return Err(err(
                "MCP_AUTH_DISABLED",
                format!(
                    "refusing to serve without authentication on {} (not loopback)",
                    self.listen
                ),
            ));
        }
        let public = self
            .public_url
            .take()
            .unwrap_or_else(|| format!("http://{}", self.listen));
        let public_url = normalise_public_url(&public)?;
        if self.max_body_bytes < 1024 {
            return Err(err("MCP_MAX_BODY_BYTES", "must be at least 1024"));
        }
        if self.max_in_flight == 0 {
            return Err(err("MCP_MAX_IN_FLIGHT", "must be at least 1"));
        }
        self.fairness
            .validate(self.max_in_flight)
            .map_err(|(setting, message)| err(setting, message))?;
        if self.request_timeout_s == 0 {
            return Err(err("MCP_REQUEST_TIMEOUT_S", "must be at least 1"));
        }
        let mut cors_origins = Vec::new();
        for origin in &self.allowed_origins {
            let parsed = (origin == "null"
                || origin.starts_with("https://")
                || origin.starts_with("http://"))
            .then(|| HeaderValue::from_str(origin).ok())
            .flatten();
            let Some(parsed) = parsed else {
                return Err(err(
                    "MCP_ALLOWED_ORIGINS",
                    format!("{origin:?} must start with http:// or https://"),
                ));
            };
            cors_origins.push(parsed);
        }
        self.allowed_hosts.retain(|h| !h.trim().is_empty());
        for host in &mut self.allowed_hosts {
            *host = host.trim().to_ascii_lowercase();
            if host.contains('/') {
                return Err(err(
                    "MCP_ALLOWED_HOSTS",
                    format!("{host:?} must be a host name, not a URL"),
                ));
            }
        }
        let mut allowed_hosts = std::mem::take(&mut self.allowed_hosts);
        if let Some(host) = host_of(&public_url) {
            allowed_hosts.push(host);
        }
        allowed_hosts.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        allowed_hosts.sort();
        allowed_hosts.dedup();
        let http = settings::Http {
            listen: self.listen,
            public_url,
            allowed_hosts,
            allowed_origins: std::mem::take(&mut self.allowed_origins),
            cors_origins,
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_s),
            max_in_flight: self.max_in_flight,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_s),
            fairness: self.fairness.clone(),
            healthz_strict: self.healthz_strict,
        };
        let auth = self.auth(mode, &http)?;
        let aws = self.aws(mode)?;
        let athena = self.athena()?;
        let seal_key =
            SealKey::from_settings(self.handle_key.as_deref(), self.jwt_secret.as_deref())
                .map_err(|m| err("MCP_HANDLE_KEY", m))?;
        let scopes = ScopePolicy::new(
            self.require_scopes,
            ScopePolicy::parse_map(self.scope_map.iter().map(String::as_str))
                .map_err(|m| err("MCP_SCOPE_MAP", m))?,
        );
        self.buckets.retain(|b| !b.trim().is_empty());
        let grants = if self.buckets.is_empty() {
            None
        } else {
            Some(
                BucketGrants::parse(self.buckets.iter().map(String::as_str)).map_err(|m| {
                    err(
                        "QUILT_BUCKETS",
                        format!("{m}; accepted: bucket, bucket/prefix/ or *, comma separated"),
                    )
                })?,
            )
        };
        let sse = Sse::parse(&self.s3_sse, self.s3_sse_kms_key_id.take())
            .map_err(|(setting, message)| err(setting, message))?;
        if self.s3_multipart_threshold_bytes < 5 * 1024 * 1024 {
            return Err(err(
                "S3_MULTIPART_THRESHOLD_BYTES",
                "must be at least 5 MiB (S3's smallest part)",
            ));
        }
        let s3 = settings::S3 {
            sse,
            multipart_threshold_bytes: self.s3_multipart_threshold_bytes,
        };
        let permissions = self.permissions()?;
        let catalog = self.catalog()?;
        if let Some(ns) = &self.metrics_namespace {
            crate::metrics::check_namespace(ns).map_err(|m| err("MCP_METRICS_NAMESPACE", m))?;
        }
        if !(1..=300).contains(&self.task_heartbeat_s) {
            return Err(err("MCP_TASK_HEARTBEAT_S", "must be between 1 and 300"));
        }
        let task_heartbeat = Duration::from_secs(self.task_heartbeat_s);
        Ok(Settings {
            http,
            auth,
            aws,
            s3,
            athena,
            permissions,
            scopes,
            grants,
            catalog,
            seal_key: Arc::new(seal_key),
            log_format: self.log_format,
            metrics_namespace: self.metrics_namespace,
            task_heartbeat,
        })
    }

    /// Token verification: secrets, JWKS, issuer and audience.
    fn auth(&self, mode: Mode, http: &settings::Http) -> Result<settings::Auth, ConfigError> {
        for (name, secret) in [
            ("MCP_JWT_SECRET", &self.jwt_secret),
            ("MCP_JWT_SECRET_PREVIOUS", &self.jwt_secret_previous),
        ] {
            if secret.as_ref().is_some_and(|s| s.len() < MIN_SECRET_BYTES) {
                return Err(err(
                    name,
                    format!("must be at least {MIN_SECRET_BYTES} bytes"),
                ));
            }
        }
        if self.jwt_secret_previous.is_some() && self.jwt_secret.is_none() {
            return Err(err("MCP_JWT_SECRET_PREVIOUS", "set without MCP_JWT_SECRET"));
        }
        if let Some(url) = &self.jwt_jwks_url
            && !is_https_or_loopback(url)
        {
            return Err(err(
                "MCP_JWT_JWKS_URL",
                format!(
                    "{url:?} must be https (plain http only when the host is a loopback IP or localhost)"
                ),
            ));
        }
        if mode == Mode::Http
            && !self.auth_disabled
            && self.jwt_secret.is_none()
            && self.jwt_jwks_url.is_none()
        {
            return Err(err(
                "MCP_JWT_SECRET",
                "no way to verify tokens: set MCP_JWT_SECRET or MCP_JWT_JWKS_URL (or MCP_AUTH_DISABLED=true on loopback for development)",
            ));
        }
        let verifier = (!self.auth_disabled).then(|| {
            let mut options = VerifierOptions::new()
                .with_leeway_s(self.jwt_leeway_s)
                .with_default_audience(http.resource_url())
                .with_allow_missing_audience(self.jwt_allow_missing_aud);
            for secret in [&self.jwt_secret, &self.jwt_secret_previous]
                .into_iter()
                .flatten()
            {
                options = options.with_hs256_secret(Secret::new(secret.clone()));
            }
            if let Some(url) = &self.jwt_jwks_url {
                options = options.with_jwks(
                    JwksOptions::new(url)
                        .with_refetch_interval(Duration::from_secs(self.jwt_jwks_refetch_s)),
                );
            }
            if let Some(iss) = &self.jwt_issuer {
                options = options.with_issuer(iss);
            }
            if let Some(aud) = &self.jwt_audience {
                options = options.with_audience(aud);
            }
            options
        });
        Ok(settings::Auth {
            verifier,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            jwks: self.jwt_jwks_url.is_some(),
        })
    }

    /// AWS: endpoint, credential sources, roles.
    fn aws(&self, mode: Mode) -> Result<settings::Aws, ConfigError> {
        let mut listed: Vec<&str> = self
            .credential_sources
            .iter()
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
            .collect();
        if listed.is_empty() {
            listed = match mode {
                Mode::Http => vec!["jwt", "role_claim", "catalog", "stack_roles"],
                Mode::Stdio => vec!["ambient"],
            };
        }
        let mut sources = Vec::new();
        for source in listed {
            let parsed: CredentialSource = source
                .parse()
                .map_err(|m| err("MCP_CREDENTIAL_SOURCES", m))?;
            if sources.contains(&parsed) {
                return Err(err(
                    "MCP_CREDENTIAL_SOURCES",
                    format!("{source:?} is listed twice"),
                ));
            }
            sources.push(parsed);
        }
        if !(900..=43200).contains(&self.role_session_duration_s) {
            return Err(err(
                "MCP_ROLE_SESSION_DURATION_S",
                "must be between 900 and 43200",
            ));
        }
        let role = |name: &'static str, arn: &Option<String>| {
            arn.as_deref()
                .map(RoleArn::parse)
                .transpose()
                .map_err(|e| err(name, e.to_string()))
        };
        let read_role_arn = role("QUILT_READ_ROLE_ARN", &self.read_role_arn)?;
        let write_role_arn = role("QUILT_WRITE_ROLE_ARN", &self.write_role_arn)?;
        let role_arn_allow = RoleArnAllow::parse(self.role_arn_allow.iter().map(String::as_str))
            .map_err(|m| {
                err(
                    "MCP_ROLE_ARN_ALLOW",
                    format!("{m}; accepted: role ARN patterns with * wildcards, comma separated"),
                )
            })?;
        if let Some(url) = &self.registry_url
            && !is_https_or_loopback(url)
        {
            return Err(err(
                "QUILT_REGISTRY_URL",
                format!(
                    "{url:?} must be https (plain http only when the host is a loopback IP or localhost)"
                ),
            ));
        }
        if let Some(url) = &self.aws_endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(err("AWS_ENDPOINT_URL", "must be an http(s) URL"));
        }
        Ok(settings::Aws {
            region: self.aws_region.clone(),
            endpoint_url: self.aws_endpoint_url.clone(),
            sources,
            role_arn_allow,
            role_session_duration_s: self.role_session_duration_s,
            role_check_interval: Duration::from_secs(self.role_check_interval_s.max(1)),
            read_role_arn,
            write_role_arn,
            stack_name: self.stack_name.clone(),
            registry_url: self.registry_url.clone(),
        })
    }

    /// Athena workgroups and results.
    fn athena(&self) -> Result<settings::Athena, ConfigError> {
        let mut allowed_workgroups: Vec<String> = self
            .athena_allowed_workgroups
            .iter()
            .filter(|w| !w.trim().is_empty())
            .cloned()
            .collect();
        if allowed_workgroups.is_empty() {
            allowed_workgroups = vec![self.athena_workgroup.clone()];
        }
        if let Some(loc) = &self.athena_output_location
            && !loc.starts_with("s3://")
        {
            return Err(err("ATHENA_OUTPUT_LOCATION", "must be an s3:// URI"));
        }
        Ok(settings::Athena {
            workgroup: self.athena_workgroup.clone(),
            allowed_workgroups,
            output_location: self.athena_output_location.clone(),
            outside_bucket_grants: self.athena_outside_bucket_grants,
        })
    }

    /// The permission engine.
    fn permissions(&self) -> Result<settings::Permissions, ConfigError> {
        let probe_prefix = match self.permission_write_probe_prefix.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(prefix) if prefix.starts_with('/') || !prefix.ends_with('/') => {
                return Err(err(
                    "MCP_PERMISSION_WRITE_PROBE_PREFIX",
                    format!(
                        "{prefix:?} must be a key prefix ending with / (and not starting with one)"
                    ),
                ));
            }
            Some(prefix) => {
                quilt_mcp_aws::s3uri::validate_key(prefix)
                    .map_err(|e| err("MCP_PERMISSION_WRITE_PROBE_PREFIX", e.to_string()))?;
                Some(prefix.to_owned())
            }
        };
        if !(1..=1000).contains(&self.permission_max_buckets) {
            return Err(err(
                "MCP_PERMISSION_MAX_BUCKETS",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=64).contains(&self.permission_concurrency) {
            return Err(err(
                "MCP_PERMISSION_CONCURRENCY",
                "must be between 1 and 64",
            ));
        }
        Ok(settings::Permissions {
            probe_prefix,
            ttl: Duration::from_secs(self.permission_cache_ttl_s),
            max_buckets: self.permission_max_buckets,
            concurrency: self.permission_concurrency,
        })
    }

    /// The Quilt catalog: its URL and timeout.
    fn catalog(&self) -> Result<Option<quilt_catalog::CatalogSettings>, ConfigError> {
        if !(1..=60).contains(&self.catalog_timeout_s) {
            return Err(err("QUILT_CATALOG_TIMEOUT_S", "must be between 1 and 60"));
        }
        let Some(url) = &self.catalog_url else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/').to_owned();
        if url.is_empty() {
            return Ok(None);
        }
        if !is_https_or_loopback(&url) || url.contains(['?', '#', ' ']) {
            return Err(err(
                "QUILT_CATALOG_URL",
                "must be an https base URL (plain http only on loopback)",
            ));
        }
        Ok(Some(
            quilt_catalog::CatalogSettings::new(url)
                .with_registry_url(self.registry_url.clone())
                .with_timeout(Duration::from_secs(self.catalog_timeout_s)),
        ))
    }
}

/// Clap's refusal of a value it parses itself (numbers, switches, `MCP_LISTEN`,
/// `MCP_LOG_FORMAT`), reworded to name the environment variable — which is how operators set
/// these — and what it accepts: `MCP_MAX_BODY_BYTES: "abc" is not accepted (invalid digit found
/// in string); accepted: a whole number`. Other errors (unknown flags, `--help`) are clap's own.
pub fn name_the_variable(error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (Some(arg), Some(value)) = (
        text(ContextKind::InvalidArg),
        text(ContextKind::InvalidValue),
    ) else {
        return error;
    };
    // "--max-body-bytes <MAX_BODY_BYTES>" -> the argument with that long name, anywhere.
    let long = arg
        .trim_start_matches('-')
        .split([' ', '='])
        .next()
        .unwrap_or_default();
    let found = std::iter::once(command)
        .chain(command.get_subcommands())
        .flat_map(clap::Command::get_arguments)
        .find(|a| a.get_long() == Some(long));
    let Some(found) = found else {
        return error;
    };
    let name = found
        .get_env()
        .map_or_else(|| format!("--{long}"), |e| e.to_string_lossy().into_owned());
    let possible: Vec<String> = found
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_owned())
        .collect();
    let accepted = if !possible.is_empty() {
        possible.join(", ")
    } else {
        accepted_form(found.get_value_parser().type_id()).to_owned()
    };
    let reason = std::error::Error::source(&error)
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("{name}: {value:?} is not accepted{reason}; accepted: {accepted}\n"),
    )
    .with_cmd(command)
}

/// What a value of clap's parsed types looks like, for [`name_the_variable`].
fn accepted_form(type_id: impl PartialEq<std::any::TypeId>) -> &'static str {
    use std::any::TypeId;
    if [
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<u32>(),
    ]
    .iter()
    .any(|t| type_id == *t)
    {
        "a whole number (0 or more)"
    } else if type_id == TypeId::of::<i32>() {
        "a whole number"
    } else if type_id == TypeId::of::<SocketAddr>() {
        "an IP address and port (127.0.0.1:8000, [::1]:8000)"
    } else {
        "see --help"
    }
}

fn normalise_public_url(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(err(
            "MCP_PUBLIC_URL",
            format!("{url:?} must start with https:// or http://"),
        ));
    };
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(err(
            "MCP_PUBLIC_URL",
            format!("{url:?} must be a plain base URL (no query or fragment)"),
        ));
    }
    Ok(url.to_owned())
}

/// The host (with port, when the URL has one) of an http(s) URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| h.trim_start_matches('['))?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        let mut c = Config::with_defaults("127.0.0.1:8000".parse().expect("addr"));
        c.jwt_secret = Some("s".repeat(32));
        c
    }

    /// `--help` shows clap's `default_value`s; `with_defaults` (which tests and library users
    /// start from) and `FairnessSettings::default` must be the same values.
    #[test]
    fn help_defaults_and_with_defaults_agree() {
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        // Without the environment: only the written defaults count.
        let command = <Cli as clap::CommandFactory>::command().mut_args(|a| a.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["quilt-mcp-server"])
            .expect("no flags parse");
        let parsed = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
            .expect("config")
            .config;
        let written = Config::with_defaults(parsed.listen);
        assert_eq!(
            format!("{parsed:#?}"),
            format!("{written:#?}"),
            "clap's default_value and Config::with_defaults disagree"
        );
        assert_eq!(parsed.listen, "127.0.0.1:8000".parse().expect("addr"));
        assert_eq!(
            format!("{:?}", parsed.fairness),
            format!("{:?}", crate::admission::FairnessSettings::default()),
            "clap's default_value and FairnessSettings::default disagree"
        );
        // What the defaults parse to: AES256 on every write, no grants, scopes required.
        let settings = Config::with_defaults(parsed.listen)
            .validate(Mode::Stdio)
            .expect("the defaults are valid");
        assert_eq!(settings.s3.sse, Sse::default());
        assert!(settings.grants.is_none() && settings.scopes.required());
    }

    /// Values clap parses are refused naming the variable and the accepted forms.
    #[test]
    fn clap_refusals_name_the_variable() {
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let command = <Cli as clap::CommandFactory>::command();
        for (flag, value, wanted) in [
            (
                "--max-body-bytes",
                "abc",
                "MCP_MAX_BODY_BYTES: \"abc\" is not accepted (invalid digit found in string); accepted: a whole number (0 or more)",
            ),
            (
                "--auth-disabled",
                "yes",
                "MCP_AUTH_DISABLED: \"yes\" is not accepted; accepted: true, false",
            ),
            (
                "--listen",
                "nowhere",
                "MCP_LISTEN: \"nowhere\" is not accepted (invalid socket address syntax); accepted: an IP address and port",
            ),
        ] {
            let error = command
                .clone()
                .try_get_matches_from(["quilt-mcp-server", flag, value])
                .expect_err(flag);
            let message = name_the_variable(error, &command).to_string();
            assert!(message.contains(wanted), "{message}");
        }
    }

    #[test]
    fn auth_disabled_is_refused_off_loopback() {
        let mut c = base();
        c.auth_disabled = true;
        c.listen = "0.0.0.0:8000".parse().expect("addr");
        let e = c.validate(Mode::Http).expect_err("refused");
        assert!(e.to_string().starts_with("MCP_AUTH_DISABLED"), "{e}");
    }

    #[test]
    fn serve_without_any_key_is_refused() {
        let mut c = base();
        c.jwt_secret = None;
        let e = c.validate(Mode::Http).expect_err("refused");
        assert!(e.to_string().contains("no way to verify tokens"), "{e}");
        // stdio needs no token keys.
        let mut c = base();
        c.jwt_secret = None;
        assert!(c.validate(Mode::Stdio).is_ok());
    }

    #[test]
    fn short_secrets_and_unknown_sources_are_refused() {
        let mut c = base();
        c.jwt_secret = Some("short".into());
        assert!(
            c.validate(Mode::Http)
                .expect_err("short")
                .to_string()
                .contains("at least 32 bytes")
        );
        let mut c = base();
        c.credential_sources = vec!["jwt".into(), "magic".into()];
        assert!(
            c.validate(Mode::Http)
                .expect_err("unknown")
                .to_string()
                .contains("unknown source \"magic\"")
        );
    }

    #[test]
    fn public_url_drives_resource_metadata_and_allowed_hosts() {
        let mut c = base();
        c.public_url = Some("https://mcp.example.com/".into());
        let c = c.validate(Mode::Http).expect("valid");
        assert_eq!(c.http.resource_url(), "https://mcp.example.com/mcp");
        assert_eq!(
            c.http.resource_metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert!(c.http.allowed_hosts.contains(&"mcp.example.com".to_owned()));
        assert_eq!(
            c.aws.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["jwt", "role_claim", "catalog", "stack_roles"]
        );
        assert!(!c.aws.ambient_allowed());
    }

    #[test]
    fn plain_http_urls_must_have_a_loopback_host() {
        for (bad, setting) in [
            ("http://127.evil.example/jwks", "MCP_JWT_JWKS_URL"),
            ("http://localhost.evil.example/jwks", "MCP_JWT_JWKS_URL"),
            ("http://127.evil.example", "QUILT_REGISTRY_URL"),
        ] {
            let mut c = base();
            if setting == "MCP_JWT_JWKS_URL" {
                c.jwt_jwks_url = Some(bad.into());
            } else {
                c.registry_url = Some(bad.into());
            }
            let e = c.validate(Mode::Http).expect_err(bad).to_string();
            assert!(e.starts_with(setting) && e.contains("loopback"), "{e}");
        }
        let mut c = base();
        c.jwt_jwks_url = Some("http://127.0.0.1:9/jwks".into());
        c.registry_url = Some("http://localhost:9".into());
        assert!(c.validate(Mode::Http).is_ok());
    }

    #[test]
    fn host_of_handles_ports_and_ipv6() {
        assert_eq!(
            host_of("http://127.0.0.1:8000").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("https://[::1]:9").as_deref(), Some("::1"));
        assert_eq!(
            host_of("https://Example.com/x").as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn permission_settings_are_checked() {
        let mut c = base();
        c.permission_write_probe_prefix = Some(" .quilt-mcp-probe/ ".into());
        let c = c.validate(Mode::Http).expect("valid");
        assert_eq!(
            c.permissions.probe_prefix.as_deref(),
            Some(".quilt-mcp-probe/")
        );
        for bad in ["/probe/", "probe", "pro\u{7}be/"] {
            let mut c = base();
            c.permission_write_probe_prefix = Some(bad.into());
            let e = c.validate(Mode::Http).expect_err(bad);
            assert!(
                e.to_string()
                    .starts_with("MCP_PERMISSION_WRITE_PROBE_PREFIX"),
                "{e}"
            );
        }
        let mut c = base();
        c.permission_write_probe_prefix = Some("  ".into());
        assert_eq!(
            c.validate(Mode::Http)
                .expect("blank")
                .permissions
                .probe_prefix,
            None,
            "blank: no probes"
        );
        let mut c = base();
        c.permission_max_buckets = 0;
        assert!(c.validate(Mode::Http).is_err());
        let mut c = base();
        c.permission_concurrency = 0;
        assert!(c.validate(Mode::Http).is_err());
    }
}
