//! [`ClientFactory`]: S3, STS, Athena and Glue clients for the caller of a request.
//!
//! Every method takes the caller's `RequestContext` and an intent, asks the broker for the
//! caller's credentials, and builds the client with exactly those as a static credentials
//! provider. There is no method that builds a client any other way, and the service configs
//! are built from scratch (not from the environment), so a client cannot silently pick up the
//! process's own credentials — nor go unsigned. Every client carries the request-id
//! interceptor ([`crate::request_ids`]) when the factory was given a sink.

use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls;
use quilt_mcp_auth::{RequestContext, RoleArn};

use crate::broker::{CredentialBroker, Resolved};
use crate::error::CredentialError;
use crate::request_ids::{RecordRequestIds, RequestIdSink};
use crate::settings::AwsSettings;
use crate::source::{AccessIntent, CredentialSource};

/// A client acting for one caller, with where its credentials came from (for `_meta` and
/// the audit line).
#[derive(Debug, Clone)]
pub struct Caller<C> {
    /// The client.
    pub client: C,
    /// The credential source used.
    pub source: CredentialSource,
    /// The role assumed, if any.
    pub role_arn: Option<RoleArn>,
    /// The credentials (for presigning locally).
    pub resolved: Resolved,
}

/// Builds clients for callers. One per process; cheap per call (clients share one HTTP
/// connection pool).
#[derive(Debug, Clone)]
pub struct ClientFactory {
    settings: AwsSettings,
    broker: Arc<CredentialBroker>,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    request_ids: Option<RecordRequestIds>,
}

macro_rules! service_config {
    ($krate:ident, $self:ident, $resolved:ident) => {{
        let mut b = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new($self.settings.region.clone()))
            .http_client($self.http.clone())
            .credentials_provider(SharedCredentialsProvider::new(
                $resolved.credentials.to_sdk("quilt-mcp-caller"),
            ))
            .timeout_config(
                $krate::config::timeout::TimeoutConfig::builder()
                    .connect_timeout($self.settings.connect_timeout)
                    .read_timeout($self.settings.read_timeout)
                    .build(),
            );
        if let Some(url) = &$self.settings.endpoint_url {
            b = b.endpoint_url(url);
        }
        if let Some(ids) = &$self.request_ids {
            b = b.interceptor(ids.clone());
        }
        b
    }};
}

impl ClientFactory {
    /// A factory over `broker`.
    pub fn new(settings: AwsSettings, broker: Arc<CredentialBroker>) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        Self {
            settings,
            broker,
            http,
            request_ids: None,
        }
    }

    /// The same factory, its clients handing the AWS request id of every call to `sink`.
    #[must_use]
    pub fn with_request_ids(mut self, sink: RequestIdSink) -> Self {
        self.request_ids = Some(RecordRequestIds(sink));
        self
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<CredentialBroker> {
        &self.broker
    }

    /// The settings.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    async fn resolve(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Resolved, CredentialError> {
        self.broker.resolve(ctx, intent).await
    }

    fn caller<C>(client: C, resolved: Resolved) -> Caller<C> {
        Caller {
            client,
            source: resolved.source,
            role_arn: resolved.role_arn.clone(),
            resolved,
        }
    }

    // One method per service, alike by design: the SDKs' config builders share no trait,
    // so what they have in common lives in `service_config!`, and each method stays a
    // plainly typed entry point (the only ways a client can be made).

    /// S3 for the caller (path-style addressing when an endpoint override is set).
    pub async fn s3(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_s3::Client>, CredentialError> {
        let resolved = self.resolve(ctx, intent).await?;
        let config = service_config!(aws_sdk_s3, self, resolved)
            .force_path_style(self.settings.endpoint_url.is_some())
            .build();
        Ok(Self::caller(
            aws_sdk_s3::Client::from_conf(config),
            resolved,
        ))
    }

    /// STS for the caller (GetCallerIdentity: who AWS thinks the caller is).
    pub async fn sts(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_sts::Client>, CredentialError> {
        let resolved = self.resolve(ctx, intent).await?;
        let config = service_config!(aws_sdk_sts, self, resolved).build();
        Ok(Self::caller(
            aws_sdk_sts::Client::from_conf(config),
            resolved,
        ))
    }

    /// Athena for the caller.
    pub async fn athena(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_athena::Client>, CredentialError> {
        let resolved = self.resolve(ctx, intent).await?;
        let config = service_config!(aws_sdk_athena, self, resolved).build();
        Ok(Self::caller(
            aws_sdk_athena::Client::from_conf(config),
            resolved,
        ))
    }

    /// Glue for the caller.
    pub async fn glue(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Caller<aws_sdk_glue::Client>, CredentialError> {
        let resolved = self.resolve(ctx, intent).await?;
        let config = service_config!(aws_sdk_glue, self, resolved).build();
        Ok(Self::caller(
            aws_sdk_glue::Client::from_conf(config),
            resolved,
        ))
    }
}
