//! Role assumption: the one STS call the server makes with its own identity. Everything
//! about the call that identifies the caller — session name, `SourceIdentity`, session
//! tags — is derived here, in one place, from the caller's subject and claims.
//!
//! [`RoleAssumer`] is the narrow interface the broker uses, so tests can count and break it;
//! [`StsAssumer`] is the real one, over an STS client signed by the [`crate::ServerIdentity`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures::future::BoxFuture;
use quilt_mcp_auth::{RoleArn, Secret};

use crate::credentials::AwsCredentials;
use crate::error::{ErrorKind, describe_sdk_error};

/// One AssumeRole request.
#[derive(Debug, Clone)]
pub struct AssumeRequest {
    /// The role.
    pub role_arn: RoleArn,
    /// `RoleSessionName` (`mcp-<subject>`, sanitised, ≤ 64).
    pub session_name: String,
    /// `SourceIdentity` (the subject, sanitised, ≤ 64).
    pub source_identity: String,
    /// Session tags.
    pub tags: BTreeMap<String, String>,
    /// Tag keys that stay with chained sessions.
    pub transitive_tag_keys: Vec<String>,
    /// Requested lifetime in seconds.
    pub duration_s: i32,
}

impl AssumeRequest {
    /// The request for `subject` assuming `role_arn`.
    pub fn for_subject(role_arn: RoleArn, subject: &str, duration_s: i32) -> Self {
        Self {
            role_arn,
            session_name: session_name(subject),
            source_identity: source_identity(subject),
            tags: BTreeMap::new(),
            transitive_tag_keys: Vec::new(),
            duration_s,
        }
    }
}

/// Why an AssumeRole failed.
#[derive(Debug, Clone)]
pub struct AssumeFailure {
    /// Denied or unavailable.
    pub kind: ErrorKind,
    /// AWS's code, message and request id.
    pub message: String,
}

/// Assumes roles. The broker's only route to STS.
pub trait RoleAssumer: Send + Sync + std::fmt::Debug {
    /// Assumes `request.role_arn`.
    fn assume(
        &self,
        request: AssumeRequest,
    ) -> BoxFuture<'_, Result<AwsCredentials, AssumeFailure>>;
}

/// AssumeRole over a real STS client.
#[derive(Debug, Clone)]
pub struct StsAssumer {
    client: aws_sdk_sts::Client,
}

impl StsAssumer {
    /// An assumer over `client` (signed by the server's own identity).
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }
}

impl RoleAssumer for StsAssumer {
    fn assume(
        &self,
        request: AssumeRequest,
    ) -> BoxFuture<'_, Result<AwsCredentials, AssumeFailure>> {
        Box::pin(async move {
            let mut call = self
                .client
                .assume_role()
                .role_arn(request.role_arn.as_str())
                .role_session_name(&request.session_name)
                .source_identity(&request.source_identity)
                .duration_seconds(request.duration_s);
            for (key, value) in &request.tags {
                let tag = aws_sdk_sts::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| AssumeFailure {
                        kind: ErrorKind::InvalidCredentials,
                        message: format!("session tag {key:?}: {e}"),
                    })?;
                call = call.tags(tag);
            }
            for key in &request.transitive_tag_keys {
                call = call.transitive_tag_keys(key);
            }
            let output = call.send().await.map_err(|e| {
                let (kind, message) = describe_sdk_error(&e);
                AssumeFailure { kind, message }
            })?;
            let c = output.credentials().ok_or_else(|| AssumeFailure {
                kind: ErrorKind::Unavailable,
                message: "AssumeRole answered without credentials".into(),
            })?;
            Ok(AwsCredentials::new(
                c.access_key_id(),
                Secret::new(c.secret_access_key()),
                Some(Secret::new(c.session_token())),
                SystemTime::try_from(*c.expiration()).ok(),
            ))
        })
    }
}

/// Keeps the characters STS allows in session names and source identities (`[\w+=,.@-]`).
fn sanitise(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `RoleSessionName`: `mcp-<sanitised subject>`, at most 64 characters.
pub fn session_name(subject: &str) -> String {
    let mut name = format!("mcp-{}", sanitise(subject));
    name.truncate(64);
    name
}

/// `SourceIdentity`: the sanitised subject, 2 to 64 characters.
pub fn source_identity(subject: &str) -> String {
    let mut id = sanitise(subject);
    id.truncate(64);
    while id.len() < 2 {
        id.push('-');
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_sanitised_and_bounded() {
        assert_eq!(session_name("alice@example.com"), "mcp-alice@example.com");
        assert_eq!(session_name("a b/c:d"), "mcp-a-b-c-d");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
        assert_eq!(source_identity("7"), "7-");
        assert_eq!(source_identity("ünïcode"), "-n-code");
    }
}
