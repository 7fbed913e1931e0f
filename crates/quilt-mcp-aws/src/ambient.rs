//! [`ServerIdentity`]: the process's own AWS identity — the ECS task role on Fargate, a
//! profile or environment keys on a laptop. This file is the only place that loads the
//! ambient credential chain (clippy's `disallowed-methods` enforces it).
//!
//! What the identity may do is fixed here: assume roles (for `role_claim` and `stack_roles`),
//! read a CloudFormation stack and the account id (for `QUILT_STACK_NAME`), and — only when
//! the operator lists `ambient` — provide its credentials to the broker as a source.

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::credentials::AwsCredentials;

/// Control-plane calls retry once, quickly: a caller waiting on AssumeRole should learn of an
/// STS outage in well under a second, and the stack-role health check retries on its own.
const RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);
use crate::settings::AwsSettings;

/// The server's own identity. See the module docs.
#[derive(Clone)]
pub struct ServerIdentity {
    provider: SharedCredentialsProvider,
    settings: AwsSettings,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("region", &self.settings.region)
            .finish_non_exhaustive()
    }
}

impl ServerIdentity {
    /// Loads the ambient credential chain (environment, profile, ECS container credentials,
    /// instance metadata). Lazy: nothing is fetched until the identity is first used.
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place the ambient chain is loaded"
    )]
    pub async fn load(settings: AwsSettings) -> Result<Self, String> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()))
            .load()
            .await;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| "no AWS credential provider is available to this process".to_owned())?;
        Ok(Self { provider, settings })
    }

    /// An identity with fixed keys instead of the ambient chain: for tests (a honeypot key
    /// they can recognise) and for local emulators.
    pub fn from_static_keys(
        access_key_id: &str,
        secret_access_key: &str,
        settings: AwsSettings,
    ) -> Self {
        let creds = aws_credential_types::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "quilt-mcp-static",
        );
        Self {
            provider: SharedCredentialsProvider::new(creds),
            settings,
        }
    }

    /// STS with the server's identity: for AssumeRole and GetCallerIdentity only.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.control_plane())
    }

    /// CloudFormation with the server's identity: for reading the Quilt stack's roles.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.control_plane())
    }

    /// The one control-plane config both clients above are made from: the identity's
    /// credentials, the settings' region, endpoint and operation timeout, one quick retry.
    /// Built from scratch (not from the environment), like the callers' configs.
    fn control_plane(&self) -> aws_config::SdkConfig {
        let mut b = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new(self.settings.region.clone()))
            .credentials_provider(self.provider.clone())
            .timeout_config(self.settings.timeouts())
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(RETRY_BACKOFF),
            );
        if let Some(url) = &self.settings.endpoint_url {
            b = b.endpoint_url(url);
        }
        b.build()
    }

    /// The process's own credentials, for the `ambient` source (the broker calls this only
    /// when the operator listed `ambient`).
    pub(crate) async fn credentials(&self) -> Result<AwsCredentials, String> {
        self.provider
            .provide_credentials()
            .await
            .map(|c| AwsCredentials::from_sdk(&c))
            .map_err(|e| format!("the process has no usable AWS credentials: {e}"))
    }
}
