//! Where AWS is: the region and, for local emulators, the endpoint URL. Every client the
//! crate builds takes both from here — never from the environment behind the server's back.

use std::time::Duration;

/// Region and endpoint for every client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AwsSettings {
    /// The region (`AWS_REGION`).
    pub region: String,
    /// An endpoint override (`AWS_ENDPOINT_URL`), e.g. the moto emulator.
    pub endpoint_url: Option<String>,
    /// Connect timeout for AWS calls.
    pub connect_timeout: Duration,
    /// Time limit of one STS/CloudFormation operation (retries included).
    pub control_plane_timeout: Duration,
    /// Data plane (S3, Athena, Glue): how long one attempt may wait for the response to
    /// begin once the request is sent. An upstream that accepts and never answers then
    /// fails as `upstream_unavailable` after the SDK's retries, before the server's own
    /// request timeout turns the call into a bare 504. Streaming bodies are not limited.
    pub read_timeout: Duration,
}

impl AwsSettings {
    /// Settings for `region`, with an optional endpoint override.
    pub fn new(region: impl Into<String>, endpoint_url: Option<String>) -> Self {
        Self {
            region: region.into(),
            endpoint_url,
            connect_timeout: Duration::from_secs(2),
            control_plane_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(10),
        }
    }

    pub(crate) fn timeouts(&self) -> aws_smithy_types::timeout::TimeoutConfig {
        aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.control_plane_timeout)
            .build()
    }
}
