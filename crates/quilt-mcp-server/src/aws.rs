//! Tools' one door to AWS: [`Aws`] hands out clients for the caller in scope
//! (`RequestContext::current()`), and records which credential source and role each call
//! used, so the tool registry can put them in the result's `_meta` and the audit line
//! without the tool having to remember.
//!
//! Start-up ([`Aws::bootstrap`]) loads the server's own identity (used only to assume roles
//! and read the stack), discovers the stack roles when only `QUILT_STACK_NAME` is given,
//! checks the roles once and keeps checking them in the background.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use quilt_mcp_auth::{RequestContext, RoleArn};
use quilt_mcp_aws::cache::{Clock, SystemClock};
use quilt_mcp_aws::error::ErrorKind;
use quilt_mcp_aws::stack::{self, StackRoles};
use quilt_mcp_aws::sts::{RoleAssumer, StsAssumer};
use quilt_mcp_aws::{
    AccessIntent, AwsSettings, BrokerConfig, Caller, ClientFactory, CredentialBroker,
    CredentialError, CredentialSource, ServerIdentity,
};
use serde_json::{Map, Value, json};

use crate::settings::Settings;
use crate::tool_error::{ErrorCode, ToolError};

/// One set of credentials a tool call used, and what for. A call that reads with the read
/// role and writes with the write role (`package_create`) has two; credentials that served
/// both (one source for everything, or no write role configured) have both uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    /// The source.
    pub source: CredentialSource,
    /// The role, for assumed-role sources.
    pub role_arn: Option<RoleArn>,
    /// What the call obtained them for: read, write, or both (in that order). Recorded when
    /// the tool asks for a client with that intent, the one point every AWS call passes.
    pub uses: Vec<AccessIntent>,
}

impl Used {
    /// `read:stack_roles:arn:…`, `read+write:jwt`: uses, source, role; the form of the audit
    /// line's `credentials` field (split at the first two `:` to parse).
    pub fn audit_text(&self) -> String {
        let uses: Vec<&str> = self.uses.iter().map(|u| u.as_str()).collect();
        let mut text = format!("{}:{}", uses.join("+"), self.source.as_str());
        if let Some(role) = &self.role_arn {
            text.push(':');
            text.push_str(role.as_str());
        }
        text
    }
}

/// What one tool call did in AWS, for `_meta` and the audit line.
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    /// Credentials used, in order of first use.
    pub used: Vec<Used>,
    /// Buckets and keys touched (`bucket` or `bucket/key`), in order, deduplicated.
    pub touched: Vec<String>,
    /// AWS request ids of the calls made.
    pub aws_request_ids: Vec<String>,
    /// Objects written (`bucket/key`), the first [`RECORD_LIMIT`] of them.
    pub written: Vec<String>,
    /// How many objects were written in all.
    pub written_count: u64,
    /// What a call acted on outside S3 (`user:alice`, `role:Analysts`, `sso_config`), for the
    /// audit line of the administration tools.
    pub targets: Vec<String>,
}

/// At most this many touched objects and request ids are kept per call (a bounded audit line).
const RECORD_LIMIT: usize = 32;

tokio::task_local! {
    static RECORD: Arc<Mutex<CallRecord>>;
}

/// A call's record while it runs, shared with whoever must read it if the call is dropped
/// half way (the audit line of a cancelled or timed-out call).
pub type SharedRecord = Arc<Mutex<CallRecord>>;

/// Runs `fut` recording what it does in AWS; returns the record with its output.
pub async fn recording<F: std::future::Future>(fut: F) -> (F::Output, CallRecord) {
    let record = SharedRecord::default();
    let out = recording_into(record.clone(), fut).await;
    (out, snapshot(&record))
}

/// Runs `fut` recording what it does in AWS into `record`.
pub async fn recording_into<F: std::future::Future>(record: SharedRecord, fut: F) -> F::Output {
    RECORD.scope(record, fut).await
}

/// What `record` holds now.
pub fn snapshot(record: &SharedRecord) -> CallRecord {
    record.lock().map(|r| r.clone()).unwrap_or_default()
}

/// Notes that the current tool call wrote `bucket/key` (after the write succeeded), so the
/// audit line names what a call had written even when it is cut short.
pub fn written(bucket: &str, key: &str) {
    with_record(|r| {
        r.written_count += 1;
        if r.written.len() < RECORD_LIMIT {
            r.written.push(format!("{bucket}/{key}"));
        }
    });
}

fn with_record(f: impl FnOnce(&mut CallRecord)) {
    let _ = RECORD.try_with(|record| {
        if let Ok(mut record) = record.lock() {
            f(&mut record);
        }
    });
}

/// Notes that the current tool call touched `bucket` (and `key`, when given).
pub fn touched(bucket: &str, key: Option<&str>) {
    let entry = match key {
        Some(key) => format!("{bucket}/{key}"),
        None => bucket.to_owned(),
    };
    with_record(|r| {
        if r.touched.len() < RECORD_LIMIT && !r.touched.contains(&entry) {
            r.touched.push(entry);
        }
    });
}

/// Notes that the current tool call acts on `what` (a catalog user, role or setting).
pub fn target(what: impl Into<String>) {
    let what = what.into();
    with_record(|r| {
        if r.targets.len() < RECORD_LIMIT && !r.targets.contains(&what) {
            r.targets.push(what);
        }
    });
}

/// Notes the AWS request id of a call the current tool made.
pub fn aws_request(request_id: Option<&str>) {
    if let Some(id) = request_id {
        with_record(|r| {
            if r.aws_request_ids.len() < RECORD_LIMIT {
                r.aws_request_ids.push(id.to_owned());
            }
        });
    }
}

/// The `_meta` entries for what a call used: `quilt-mcp/credentials`, every source and role
/// with what each was used for; and, as before, `quilt-mcp/credential_source` and
/// `quilt-mcp/role_arn` of the first one.
pub fn meta(record: &CallRecord) -> Option<Map<String, Value>> {
    let first = record.used.first()?;
    let mut meta = Map::new();
    meta.insert("quilt-mcp/credential_source".into(), json!(first.source));
    meta.insert(
        "quilt-mcp/role_arn".into(),
        json!(first.role_arn.as_ref().map(RoleArn::as_str)),
    );
    let all: Vec<Value> = record
        .used
        .iter()
        .map(|u| {
            json!({
                "source": u.source,
                "role_arn": u.role_arn.as_ref().map(RoleArn::as_str),
                "used_for": u.uses,
            })
        })
        .collect();
    meta.insert("quilt-mcp/credentials".into(), Value::Array(all));
    Some(meta)
}

fn record(source: CredentialSource, role_arn: Option<RoleArn>, intent: AccessIntent) {
    with_record(|r| {
        match r
            .used
            .iter_mut()
            .find(|u| u.source == source && u.role_arn == role_arn)
        {
            Some(used) if used.uses.contains(&intent) => {}
            Some(used) => {
                used.uses.push(intent);
                used.uses.sort_by_key(|u| u.as_str());
            }
            None => r.used.push(Used {
                source,
                role_arn,
                uses: vec![intent],
            }),
        }
    });
}

/// The caller's AWS clients. See the module docs.
#[derive(Debug)]
pub struct Aws {
    factory: ClientFactory,
    /// The Quilt catalog's client (`QUILT_CATALOG_URL`), one per process: the `catalog`
    /// credential source and the catalog tools share it, so `config.json` is read once.
    catalog: Option<Arc<quilt_catalog::CatalogClient>>,
}

/// Where AWS is, and the data plane's per-attempt read timeout: a fifth of the request
/// timeout, so the SDK's three attempts (and their backoff) end with `upstream_unavailable`
/// before the request timeout cuts the call off.
fn settings(config: &Settings) -> AwsSettings {
    let mut settings = AwsSettings::new(config.aws.region.clone(), config.aws.endpoint_url.clone());
    settings.read_timeout = (config.http.request_timeout / 5).max(Duration::from_secs(1));
    settings
}

impl Aws {
    /// Loads the server identity and builds the broker described by `config`.
    pub async fn bootstrap(config: &Settings) -> anyhow::Result<Arc<Self>> {
        let settings = settings(config);
        let identity = ServerIdentity::load(settings)
            .await
            .map_err(anyhow::Error::msg)?;
        Self::bootstrap_with(config, Some(identity), Arc::new(SystemClock)).await
    }

    /// Like [`Aws::bootstrap`] with a given server identity and clock (tests use a honeypot
    /// identity and a manual clock).
    pub async fn bootstrap_with(
        config: &Settings,
        identity: Option<ServerIdentity>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Self>> {
        let settings = settings(config);
        let assumer: Option<Arc<dyn RoleAssumer>> = identity
            .as_ref()
            .map(|i| Arc::new(StsAssumer::new(i.sts())) as Arc<dyn RoleAssumer>);
        let mut read = config.aws.read_role_arn.clone();
        let mut write = config.aws.write_role_arn.clone();
        // Stack discovery problems go to /healthz (roles.*.error) as well as the log.
        let mut problems = (None, None);
        if let (Some(stack_name), Some(identity)) = (&config.aws.stack_name, &identity)
            && (read.is_none() || write.is_none())
        {
            match stack::discover(identity, stack_name).await {
                Ok(found) => {
                    for warning in found.warnings() {
                        tracing::warn!(stack = stack_name, "{warning}");
                    }
                    read = read.or(found.read);
                    write = write.or(found.write);
                    problems = (found.read_problem, found.write_problem);
                }
                Err(error) => {
                    tracing::warn!(stack = stack_name, %error, "cannot read the Quilt stack; stack roles unavailable");
                    let error = format!("QUILT_STACK_NAME {stack_name}: {error}");
                    problems = (Some(error.clone()), Some(error));
                }
            }
        }
        let roles = Arc::new(StackRoles::new(
            read,
            write,
            assumer.clone(),
            clock.clone(),
            config.aws.role_session_duration_s,
        ));
        roles.record_discovery_problems(problems.0, problems.1);
        if roles.is_configured() {
            roles.check().await;
            roles.spawn_refresh(config.aws.role_check_interval);
        }
        let mut broker_config = BrokerConfig::new(config.aws.sources.clone());
        broker_config.role_arn_allow = config.aws.role_arn_allow.clone();
        broker_config.session_duration_s = config.aws.role_session_duration_s;
        broker_config.registry_url = config.aws.registry_url.clone();
        let catalog = match config
            .catalog
            .clone()
            .map(quilt_catalog::CatalogClient::new)
        {
            None => None,
            Some(Ok(client)) => Some(Arc::new(client)),
            Some(Err(error)) => {
                tracing::error!(%error, "catalog tools disabled");
                None
            }
        };
        if config.aws.registry_url.is_none()
            && let Some(catalog) = catalog.clone()
        {
            // QUILT_CATALOG_URL alone: the registry is `registryUrl` of its config.json,
            // read at the first exchange (not at start, so a catalog that is down does not
            // stop the server).
            broker_config.registry_lookup = Some(quilt_mcp_aws::RegistryLookup::new(move || {
                let catalog = catalog.clone();
                Box::pin(async move { catalog.registry_url().await.map_err(|e| e.to_string()) })
            }));
        }
        let broker = CredentialBroker::new(broker_config, assumer, identity, roles, clock)
            .map_err(anyhow::Error::msg)?;
        Ok(Arc::new(Self {
            factory: ClientFactory::new(settings, Arc::new(broker)),
            catalog,
        }))
    }

    /// The Quilt catalog's client, when one is configured.
    pub fn catalog_client(&self) -> Option<&Arc<quilt_catalog::CatalogClient>> {
        self.catalog.as_ref()
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<CredentialBroker> {
        self.factory.broker()
    }

    fn caller_context() -> Result<Arc<RequestContext>, ToolError> {
        Ok(RequestContext::current()?)
    }

    fn recorded<C>(
        result: Result<Caller<C>, CredentialError>,
        intent: AccessIntent,
    ) -> Result<Caller<C>, ToolError> {
        let caller = result.map_err(ToolError::from)?;
        record(caller.source, caller.role_arn.clone(), intent);
        Ok(caller)
    }

    /// S3 for the caller in scope.
    pub async fn s3(&self, intent: AccessIntent) -> Result<Caller<aws_sdk_s3::Client>, ToolError> {
        let ctx = Self::caller_context()?;
        Self::recorded(self.factory.s3(&ctx, intent).await, intent)
    }

    /// STS for the caller in scope.
    pub async fn sts(
        &self,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_sts::Client>, ToolError> {
        let ctx = Self::caller_context()?;
        Self::recorded(self.factory.sts(&ctx, intent).await, intent)
    }

    /// Athena for the caller in scope.
    pub async fn athena(
        &self,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_athena::Client>, ToolError> {
        let ctx = Self::caller_context()?;
        Self::recorded(self.factory.athena(&ctx, intent).await, intent)
    }

    /// Glue for the caller in scope.
    pub async fn glue(
        &self,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_glue::Client>, ToolError> {
        let ctx = Self::caller_context()?;
        Self::recorded(self.factory.glue(&ctx, intent).await, intent)
    }
}

impl From<CredentialError> for ToolError {
    fn from(e: CredentialError) -> Self {
        let code = match e.kind() {
            ErrorKind::NotPermitted => ErrorCode::NotPermitted,
            ErrorKind::AccessDenied | ErrorKind::InvalidCredentials => ErrorCode::AccessDenied,
            ErrorKind::Unavailable => ErrorCode::UpstreamUnavailable,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::Rejected => ErrorCode::InvalidArgument,
        };
        let mut error = ToolError::new(code, e.to_string());
        error.credential_source = e.source_name().map(|s| s.as_str().to_owned());
        error
    }
}

/// A tool error for a failed AWS call (code, message and request id kept; no secrets).
pub fn sdk_error<E>(
    what: &str,
    err: &aws_sdk_sts::error::SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
) -> ToolError
where
    E: aws_sdk_sts::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let (kind, message) = quilt_mcp_aws::error::describe_sdk_error(err);
    let code = match kind {
        ErrorKind::NotPermitted => ErrorCode::NotPermitted,
        ErrorKind::AccessDenied | ErrorKind::InvalidCredentials => ErrorCode::AccessDenied,
        ErrorKind::Unavailable => ErrorCode::UpstreamUnavailable,
        ErrorKind::NotFound => ErrorCode::NotFound,
        ErrorKind::Rejected => ErrorCode::InvalidArgument,
    };
    ToolError::new(code, format!("{what}: {message}"))
}
